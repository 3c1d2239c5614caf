import type { ReplySink } from '../batcher.js';
import { bytesToBuffer, bytesToText } from '../bytes.js';
import {
  BadRequestError,
  InvalidJsonError,
  KeyNotFoundError,
  ThunderError,
  toThunderError,
} from '../errors.js';
import { bodyError, keyError, valueError } from '../limits.js';
import { Op, type OpCode, type Reply } from '../protocol.js';
import { contentLength, readBody } from './body.js';
import type { RouteContext } from './context.js';
import { Deferred } from './deferred.js';
import { sendError } from './reply.js';
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
  readonly op: OpCode;
  readonly key: string;

  constructor(res: HttpResponse, ctx: RouteContext, op: OpCode, key: string) {
    super(res, ctx.inFlight);
    this.op = op;
    this.key = key;
  }

  settle(_tag: number, reply: Reply): void {
    switch (this.op) {
      case Op.Get:
        if (reply === null) this.error(notFound(this.key));
        else this.bytes(bytesToBuffer(reply as string), 'application/octet-stream');
        break;
      case Op.Size:
        if ((reply as number) < 0) this.error(notFound(this.key));
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

/** `_mget`: one reply per key, gathered into one object. */
class MultiGet extends Deferred implements ReplySink {
  keys: string[] = [];
  values: (string | null)[] = [];
  #remaining = 0;

  /** Sends a Get for every key; answers at once when there are none. */
  start(cluster: RouteContext['cluster'], keys: string[]): void {
    this.keys = keys;
    this.values = new Array<string | null>(keys.length).fill(null);
    this.#remaining = keys.length;
    if (keys.length === 0) return this.#reply();
    for (let i = 0; i < keys.length; i++) cluster.submit(this, i, Op.Get, keys[i]!);
  }

  settle(tag: number, reply: Reply): void {
    this.values[tag] = reply === null ? null : bytesToText(reply as string);
    if (--this.#remaining === 0) this.#reply();
  }

  fail(_tag: number, error: ThunderError): void {
    this.error(error);
  }

  #reply(): void {
    // A null-prototype object: a key named "__proto__" is then just a key.
    const values: Record<string, string | null> = Object.create(null);
    for (let i = 0; i < this.keys.length; i++) values[this.keys[i]!] = this.values[i]!;
    this.json(200, JSON.stringify({ values }));
  }
}

/** Parses and checks an `_mget` body: `{"keys": ["k", …]}`. */
function mgetKeys(body: Buffer, ctx: RouteContext): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new InvalidJsonError((err as Error).message);
  }
  const keys = (parsed as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string')) {
    throw new BadRequestError('expected {"keys": ["key", …]}, an array of strings');
  }
  for (const key of keys as string[]) {
    const error = keyError(key, ctx.limits);
    if (error) throw error;
  }
  return keys as string[];
}

/** Parses `?prefix=&after=&limit=` for a key listing. */
function listQuery(query: string): { prefix: string; after: string; limit: number } {
  const params = new URLSearchParams(query);
  const limitText = params.get('limit');
  const limit = limitText === null ? 100 : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
    throw new BadRequestError(
      `limit must be an integer from 1 to ${MAX_PAGE}, got ${JSON.stringify(limitText)}`,
    );
  }
  return { prefix: params.get('prefix') ?? '', after: params.get('after') ?? '', limit };
}

/**
 * Registers the native key-value API: GET/HEAD/PUT/DELETE `/kv/{key}`, `POST /kv/_mget`
 * and `GET /kv?prefix=` listing. Batch writes (`POST /kv`) live in batch-route.ts.
 */
export function registerKvRoutes(app: Router, ctx: RouteContext): void {
  const { cluster, limits, inFlight } = ctx;

  /** Validates the key and sends one operation for it; answers errors at once. */
  const keyOperation = (op: OpCode) => (res: HttpResponse, req: HttpRequest) => {
    const key = keyFromPath(req.getUrl(), PREFIX, limits);
    if (key instanceof ThunderError) return sendError(res, key);
    cluster.submit(new KeyRequest(res, ctx, op, key), 0, op, key);
  };
  app.get('/kv/*', keyOperation(Op.Get));
  app.head('/kv/*', keyOperation(Op.Size));
  app.del('/kv/*', keyOperation(Op.Delete));

  app.put('/kv/*', (res, req) => {
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
      (body) => cluster.submit(request, 0, Op.Put, key, body.toString('latin1')),
    );
  });

  app.post('/kv/_mget', (res, req) => {
    const declared = contentLength(req.getHeader('content-length'));
    const tooLarge = bodyError(declared, limits);
    if (tooLarge) return sendError(res, tooLarge, true);
    const request = new MultiGet(res, inFlight);
    readBody(
      request,
      limits.maxBodyBytes,
      (bytes) => bodyError(bytes, limits)!,
      (body) => request.start(cluster, mgetKeys(body, ctx)),
    );
  });

  app.get('/kv', (res, req) => {
    let query: ReturnType<typeof listQuery>;
    try {
      query = listQuery(req.getQuery() ?? '');
    } catch (err) {
      return sendError(res, toThunderError(err));
    }
    const deferred = new Deferred(res, inFlight);
    cluster.scan(query.prefix, query.after, query.limit).then(
      ({ keys, more }) =>
        deferred.json(200, JSON.stringify({ keys, next: more ? keys[keys.length - 1] : null })),
      (err: unknown) => deferred.error(toThunderError(err)),
    );
  });
}
