import type { ReplySink } from '../batcher.js';
import { bytesToText, textToBytes } from '../bytes.js';
import { BadRequestError, InvalidJsonError, KeyNotFoundError, ThunderError } from '../errors.js';
import { bodyError, keyError, valueError } from '../limits.js';
import { Op, type Reply } from '../protocol.js';
import { contentLength, readBody } from './body.js';
import type { RouteContext } from './context.js';
import { Deferred } from './deferred.js';
import { sendError, sendJson } from './reply.js';
import { streamSnapshot } from './snapshot-stream.js';
import { StreamedAnswer } from './stream.js';
import { keyFromPath } from './request-key.js';
import type { Router } from './router.js';

const GET_PREFIX = '/get/'.length;
const PING = JSON.stringify({ service: 'node', status: 'OK' });

/** `GET /get/{key}`: the original's `{"key": "value"}` answer. */
class LegacyGet extends Deferred implements ReplySink {
  key = '';
  settle(_tag: number, reply: Reply): void {
    if (reply === null) {
      this.error(new KeyNotFoundError(`The key '${this.key}' was not found in the key-value store`));
    } else {
      this.json(200, JSON.stringify({ [this.key]: bytesToText(reply as string) }));
    }
  }
  fail(_tag: number, error: ThunderError): void {
    this.error(error);
  }
}

/** `POST /put`: an empty 200, as the original answers. */
class LegacyPut extends Deferred implements ReplySink {
  settle(): void {
    this.empty(200);
  }
  fail(_tag: number, error: ThunderError): void {
    this.error(error);
  }
}

/** The one pair of a `/put` body, checked. */
function onePair(body: Buffer, ctx: RouteContext): [string, string] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new InvalidJsonError((err as Error).message);
  }
  const entries =
    parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? Object.entries(parsed) : [];
  if (entries.length !== 1 || typeof entries[0]![1] !== 'string') {
    throw new BadRequestError(
      'The request data is not valid. Please provide exactly one key-value pair, {"key": "value"}',
    );
  }
  const [key, text] = entries[0] as [string, string];
  const value = textToBytes(text);
  const error = keyError(key, ctx.limits) ?? valueError(value.length, ctx.limits);
  if (error) throw error;
  return [key, value];
}

/**
 * The original ThunderDB's routes, with its response shapes, so its users and its own test
 * suite work unchanged: `GET /get/{key}`, `POST /put`, `GET /snapshot`, `GET /ping`.
 */
export function registerLegacyRoutes(app: Router, ctx: RouteContext): void {
  const { cluster, limits, inFlight } = ctx;

  app.get('/ping', (res) => sendJson(res, 200, PING));

  app.get('/get/*', (res, req) => {
    const key = keyFromPath(req.getUrl(), GET_PREFIX, limits);
    if (key instanceof ThunderError) return sendError(res, key);
    const request = new LegacyGet(res, inFlight);
    request.key = key;
    cluster.submit(request, 0, Op.Get, key);
  });

  app.post('/put', (res, req) => {
    const tooLarge = bodyError(contentLength(req.getHeader('content-length')), limits);
    if (tooLarge) return sendError(res, tooLarge, true);
    const request = new LegacyPut(res, inFlight);
    readBody(
      request,
      limits.maxBodyBytes,
      (bytes) => bodyError(bytes, limits)!,
      (body) => {
        const [key, value] = onePair(body, ctx);
        cluster.submit(request, 0, Op.Put, key, value);
      },
    );
  });

  app.get('/snapshot', (res, req) => {
    const nodeText = new URLSearchParams(req.getQuery() ?? '').get('node');
    const node = nodeText === null ? undefined : Number(nodeText);
    if (node !== undefined && !(Number.isInteger(node) && node >= 0 && node < cluster.size)) {
      return sendError(
        res,
        new BadRequestError(
          `node must be an integer from 0 to ${cluster.size - 1}, got ${JSON.stringify(nodeText)}`,
        ),
      );
    }
    const busy = ctx.heavy.enter();
    if (busy) return sendError(res, busy);
    const answer = new StreamedAnswer(res, inFlight, () => ctx.heavy.leave());
    const nodes = node === undefined ? Array.from({ length: cluster.size }, (_, id) => id) : [node];
    void streamSnapshot(answer, cluster, nodes);
  });
}
