import type { ReplySink } from '../batcher.js';
import { KeyNotFoundError, ThunderError, toThunderError, TooManyKeysError } from '../errors.js';
import { bodyError, valueError } from '../limits.js';
import type { KeyOp } from '../cluster.js';
import { Op } from '../protocol.js';
import type { Result } from '../wire.js';
import { answerMultiGet } from './multi-get.js';
import { StreamedAnswer } from './stream.js';
import { contentLength, readBody } from './body.js';
import type { RouteContext } from './context.js';
import { Deferred } from './deferred.js';
import { sendError } from './reply.js';
import { parseMgetKeys } from './json-bodies.js';
import { integer, parseQuery, text } from './params.js';
import { keyFromPath } from './request-key.js';
import type { Router } from './router.js';
import type { HttpRequest, HttpResponse } from './uws.js';

const PREFIX = '/kv/'.length;
const MAX_PAGE = 1000;

function notFound(key: string): KeyNotFoundError {
  return new KeyNotFoundError(`key ${JSON.stringify(key)} not found`);
}

/** One single-key request waiting for its node's reply. */
class KeyRequest extends Deferred implements ReplySink {
  readonly op: KeyOp;
  readonly key: string;

  constructor(res: HttpResponse, ctx: RouteContext, op: KeyOp, key: string) {
    super(res, ctx.inFlight);
    this.op = op;
    this.key = key;
  }

  settle(_tag: number, reply: Result): void {
    switch (this.op) {
      case Op.Get:
        // The value's bytes as they came from the node: a view into its reply, sent as is.
        if (reply === null) this.error(notFound(this.key));
        else this.bytes(reply as Buffer, 'application/octet-stream');
        break;
      case Op.Size:
        if (reply === null) this.error(notFound(this.key));
        else this.head(200, reply as number, 'application/octet-stream');
        break;
      case Op.Put:
        this.empty(204);
        break;
      case Op.Delete:
        if (reply === 1) this.empty(204);
        else this.error(notFound(this.key));
    }
  }

  fail(_tag: number, error: ThunderError): void {
    this.error(error);
  }
}

/** `?prefix=&after=&limit=` of a key listing. */
const LIST_PARAMS = {
  prefix: text(),
  after: text(),
  limit: integer({ min: 1, max: MAX_PAGE, fallback: 100 }),
};

/** Parses `?prefix=&after=&limit=` for a key listing. */
function listQuery(query: string | undefined): { prefix: string; after: string; limit: number } {
  return parseQuery(query, LIST_PARAMS);
}

/**
 * Registers the native key-value API: GET/HEAD/PUT/DELETE `/kv/{key}`, `POST /kv/_mget`
 * and `GET /kv?prefix=` listing. Batch writes (`POST /kv`) live in batch-route.ts.
 */
export function registerKvRoutes(app: Router, ctx: RouteContext): void {
  const { cluster, limits, inFlight } = ctx;

  /** Validates the key and sends one operation for it; answers errors at once. */
  const keyOperation = (op: KeyOp) => (res: HttpResponse, req: HttpRequest) => {
    const key = keyFromPath(req.getUrl(), PREFIX, limits);
    if (key instanceof ThunderError) return sendError(res, key);
    cluster.submit(new KeyRequest(res, ctx, op, key), 0, op, key);
  };
  // `/kv/_mget` is also a key: only POST there is the multi-get.
  for (const pattern of ['/kv/*', '/kv/_mget']) {
    app.get(pattern, keyOperation(Op.Get));
    app.head(pattern, keyOperation(Op.Size));
    app.del(pattern, keyOperation(Op.Delete));
    app.put(pattern, putValue);
  }

  function putValue(res: HttpResponse, req: HttpRequest): void {
    const key = keyFromPath(req.getUrl(), PREFIX, limits);
    const declared = contentLength(req.getHeader('content-length'));
    // The body is not read on these paths, so the connection is closed behind the answer.
    if (key instanceof ThunderError) return sendError(res, key, true);
    const tooLarge = valueError(declared, limits);
    if (tooLarge) return sendError(res, tooLarge, true);
    const request = new KeyRequest(res, ctx, Op.Put, key);
    readBody(
      request,
      limits.maxValueBytes,
      (bytes) => valueError(bytes, limits)!,
      (body) => cluster.submit(request, 0, Op.Put, key, body),
    );
  }

  app.post('/kv/_mget', (res, req) => {
    const declared = contentLength(req.getHeader('content-length'));
    const tooLarge = bodyError(declared, limits);
    if (tooLarge) return sendError(res, tooLarge, true);
    const busy = ctx.heavy.enter();
    if (busy) return sendError(res, busy, true);
    const answer = new StreamedAnswer(res, inFlight, () => ctx.heavy.leave());
    readBody(
      answer,
      limits.maxBodyBytes,
      (bytes) => bodyError(bytes, limits)!,
      (body) => {
        // Each key once: a body naming one large value thousands of times costs one fetch.
        const keys = [...new Set(parseMgetKeys(body, limits))];
        if (keys.length > limits.maxKeysPerRequest) {
          throw new TooManyKeysError(
            `${keys.length} distinct keys; the limit is ${limits.maxKeysPerRequest}`,
          );
        }
        void answerMultiGet(answer, cluster, keys, limits.maxValueBytes);
      },
    );
  });

  app.get('/kv', Object.keys(LIST_PARAMS), (res, req) => {
    let query: ReturnType<typeof listQuery>;
    try {
      query = listQuery(req.getQuery());
    } catch (err) {
      return sendError(res, toThunderError(err));
    }
    const busy = ctx.heavy.enter();
    if (busy) return sendError(res, busy);
    const deferred = new Deferred(res, inFlight);
    cluster
      .list(query.prefix, query.after, query.limit)
      .then(
        ({ keys, more }) =>
          deferred.json(200, JSON.stringify({ keys, next: more ? keys[keys.length - 1] : null })),
        (err: unknown) => deferred.error(toThunderError(err)),
      )
      .finally(() => ctx.heavy.leave());
  });
}
