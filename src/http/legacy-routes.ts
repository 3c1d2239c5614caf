import type { ReplySink } from '../transport/batcher.js';
import { BadRequestError, KeyNotFoundError, ThunderError, toThunderError } from '../errors.js';
import { bodyError } from '../limits.js';
import { Op } from '../wire/protocol.js';
import type { Result } from '../wire/reply.js';
import { contentLength, readBody } from './body.js';
import type { RouteContext } from './context.js';
import { Deferred } from './deferred.js';
import { isHead, sendError, sendJson, writeStatus } from './reply.js';
import { streamSnapshot } from './snapshot-stream.js';
import { StreamedAnswer } from './stream.js';
import { parseOnePair } from './json-bodies.js';
import { integer, parseQuery } from './params.js';
import { keyFromPath } from './request-key.js';
import type { Router } from './router.js';

const GET_PREFIX = '/get/'.length;
const PING = JSON.stringify({ service: 'node', status: 'OK' });

/** `GET /get/{key}`: the original's `{"key": "value"}` answer. */
class LegacyGet extends Deferred implements ReplySink {
  key = '';
  settle(_tag: number, reply: Result): void {
    if (reply === null) {
      this.error(new KeyNotFoundError(`The key '${this.key}' was not found in the key-value store`));
    } else {
      this.json(200, JSON.stringify({ [this.key]: (reply as Buffer).toString('utf8') }));
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

/** `?node=ID` of `/snapshot`: a node of the ring as it is now. */
function snapshotNode(query: string | undefined, members: readonly number[]): number | undefined {
  const { node } = parseQuery(query, { node: integer({ min: 0, max: 65535 }) });
  if (node !== undefined && !members.includes(node)) {
    throw new BadRequestError(`node must be a node of the ring (${members.join(', ')}), got ${node}`);
  }
  return node;
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
        const [key, value] = parseOnePair(body, limits);
        cluster.submit(request, 0, Op.Put, key, value);
      },
    );
  });

  app.get('/snapshot', ['node'], (res, req) => {
    let node: number | undefined;
    try {
      node = snapshotNode(req.getQuery(), cluster.ring.members);
    } catch (err) {
      return sendError(res, toThunderError(err));
    }
    if (isHead(res)) {
      // GET's status and type; its length is unknown until the walk is done, and a HEAD
      // that walked every node to count it would cost what the GET costs.
      writeStatus(res, 200).writeHeader('Content-Type', 'application/json').endWithoutBody();
      return;
    }
    const busy = ctx.heavy.enter();
    if (busy) return sendError(res, busy);
    const answer = new StreamedAnswer(res, inFlight, () => ctx.heavy.leave());
    const nodes = node === undefined ? cluster.ring.members : [node];
    void streamSnapshot(answer, cluster, nodes, node === undefined);
  });
}
