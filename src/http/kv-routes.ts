import { BadRequestError, KeyNotFoundError, ThunderError, toThunderError } from '../errors.js';
import { bodyError, valueError } from '../limits.js';
import type { Consistency, KeyOp, KeySink, WriteCondition } from '../cluster/cluster.js';
import { Op } from '../wire/protocol.js';
import type { Result } from '../wire/reply.js';
import { answerMultiGet } from './multi-get.js';
import { StreamedAnswer } from './stream.js';
import { contentLength, readBody } from './body.js';
import type { RouteContext } from './context.js';
import { Deferred } from './deferred.js';
import { sendError } from './reply.js';
import { MgetKeysParser } from './mget-keys.js';
import { etagBytes, parseEtags } from './etag.js';
import { envelope, MAX_TTL_SECONDS, secondsLeft } from '../expiry.js';
import { integer, oneOf, parseQuery, seconds, text, version } from './params.js';
import { keyFromPath } from './request-key.js';
import { requestHead, type RequestHead } from './request-guard.js';
import type { Router } from './router.js';
import type { HttpRequest, HttpResponse } from './seam.js';
import { Rng, subSeed } from '../time/rng.js';
import type { Subscription } from '../watch/change-feed.js';

const PREFIX = '/kv/'.length;
const OCTET_STREAM = Buffer.from('application/octet-stream');
const MAX_PAGE = 1000;
/** A blocking read's answer says what to wait past next (Consul's `X-Consul-Index`). */
export const INDEX_HEADER = 'X-ThunderDB-Index';

function notFound(key: string): KeyNotFoundError {
  return new KeyNotFoundError(`key ${JSON.stringify(key)} not found`);
}

/** One single-key request waiting for its replicas' quorum. */
class KeyRequest extends Deferred implements KeySink {
  readonly op: KeyOp;
  readonly key: string;
  /** GET and HEAD: the versions of `If-None-Match`, answered 304 when the value has one. */
  readonly notModifiedIf: number[] | '*' | null;
  /**
   * A blocking read (`?index=`): a read whose version is not past `index` calls `stale`
   * instead of answering (once: the read after the wait answers whatever it finds).
   */
  blocking: { index: number; stale: () => void } | null = null;

  readonly #ctx: RouteContext;

  constructor(
    res: HttpResponse,
    ctx: RouteContext,
    op: KeyOp,
    key: string,
    notModifiedIf: number[] | '*' | null = null,
  ) {
    super(res, ctx.inFlight);
    this.#ctx = ctx;
    this.op = op;
    this.key = key;
    this.notModifiedIf = notModifiedIf;
  }

  /** The coordinator's clock, which stamped the expiry. */
  wall(): number {
    return this.#ctx.cluster.wall();
  }

  settle(_tag: number, reply: Result, version: number, expiresAt = 0): void {
    switch (this.op) {
      case Op.Get: {
        if (this.blocking !== null) {
          const { index, stale } = this.blocking;
          this.blocking = null;
          if (version <= index) return stale();
        }
        // What a blocking read waits past next: the key's version, or where the feed is
        // for a key that never had one (any write of it comes after).
        if (this.header !== null) this.header[1] = String(version || this.#ctx.cluster.feed.through);
        if (reply === null) return this.error(notFound(this.key));
        // Written at once by the answer below, before any other answer takes the scratch.
        const etag = etagBytes(version);
        const unchanged = this.notModifiedIf;
        if (unchanged !== null && (unchanged === '*' || unchanged.includes(version))) this.empty(304, etag);
        // The value's bytes as they came from the node: a view into its reply, sent as is.
        else {
          const ttl = expiresAt === 0 ? undefined : secondsLeft(expiresAt, this.wall());
          this.bytes(reply as Buffer, OCTET_STREAM, etag, ttl);
        }
        break;
      }
      case Op.Put:
      case Op.PutExpiring:
        this.empty(204, etagBytes(version));
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

/** A blocking read waits this long by default, and at most (Consul's 5 and 10 minutes). */
const DEFAULT_WAIT_MS = 300_000;
const MAX_WAIT_SECONDS = 600;

/** The query parameters of key reads, of deletes, and of PUTs. */
const READ_PARAMS = {
  r: integer({ min: 1 }),
  repair: oneOf(['async', 'sync'], 'async'),
  index: version(),
  wait: seconds(MAX_WAIT_SECONDS),
};

const WRITE_PARAMS = { w: integer({ min: 1 }) };
const PUT_PARAMS = { ...WRITE_PARAMS, ttl: seconds(MAX_TTL_SECONDS) };

/** A quorum from the query, checked against the replica count. */
function quorum(name: 'r' | 'w', value: number, replicas: number): number {
  if (value > replicas) {
    throw new BadRequestError(`${name} must be from 1 to the replica count (${replicas}), got ${value}`);
  }
  return value;
}

/**
 * A read's consistency: the cluster's defaults, or those the query overrides; and, for a
 * blocking read, the version to wait past and for how long at most.
 */
function readOptions(
  query: string | undefined,
  defaults: Consistency,
  replicas: number,
): { consistency: Consistency; blocking: { index: number; waitMs: number } | null } {
  if (!query) return { consistency: defaults, blocking: null };
  const { r = defaults.r, repair = defaults.repair, index, wait } = parseQuery(query, READ_PARAMS);
  if (wait !== undefined && index === undefined)
    throw new BadRequestError('wait goes with index: the version to wait past (X-ThunderDB-Index)');
  return {
    consistency: { ...defaults, r: quorum('r', r, replicas), repair },
    blocking: index === undefined ? null : { index, waitMs: wait ?? DEFAULT_WAIT_MS },
  };
}

/**
 * A conditional header's value as the guard read it, '' when the request has none. One
 * that is present but empty is refused: read as no condition, a conditional write would
 * silently become an unconditional one.
 */
function conditional(head: Readonly<RequestHead>, name: 'If-Match' | 'If-None-Match'): string {
  const value = name === 'If-Match' ? head.ifMatch : head.ifNoneMatch;
  if (value === '' && head.conditionals.includes(name)) {
    throw new BadRequestError(`${name} is empty; give * or a list of quoted entity tags`);
  }
  return value;
}

/** A PUT's or DELETE's condition, from `If-Match` and `If-None-Match`; undefined when it has none. */
function conditionOf(head: Readonly<RequestHead>): WriteCondition | undefined {
  const ifMatch = conditional(head, 'If-Match');
  const ifNoneMatch = conditional(head, 'If-None-Match');
  if (ifMatch !== '' && ifNoneMatch !== '') {
    throw new BadRequestError('give If-Match or If-None-Match, not both');
  }
  if (ifMatch !== '') return { ifMatch: parseEtags(ifMatch, 'If-Match') };
  if (ifNoneMatch !== '') return { ifNoneMatch: parseEtags(ifNoneMatch, 'If-None-Match') };
  return undefined;
}

/**
 * A PUT's or DELETE's quorum, condition and (a PUT's) TTL in ms, from its query and
 * headers as the guard read them; throws what is wrong.
 */
function writeOptions(
  head: Readonly<RequestHead>,
  defaults: Consistency,
  replicas: number,
  put: boolean,
): { consistency: Consistency; condition: WriteCondition | undefined; ttlMs: number | undefined } {
  const query = head.query;
  // Most writes have no query: no parsing, nothing allocated for it.
  if (!query) return { consistency: defaults, condition: conditionOf(head), ttlMs: undefined };
  const { w = defaults.w, ttl }: { w?: number; ttl?: number } = put
    ? parseQuery(query, PUT_PARAMS)
    : parseQuery(query, WRITE_PARAMS);
  return {
    consistency: { ...defaults, w: quorum('w', w, replicas) },
    condition: conditionOf(head),
    ttlMs: ttl,
  };
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

  const replicas = cluster.ring.replicas;

  /** GET (and HEAD, the same handler on a response marked HEAD). */
  function getValue(res: HttpResponse, req: HttpRequest): void {
    const key = keyFromPath(req.getUrl(), PREFIX, limits);
    if (key instanceof ThunderError) return sendError(res, key);
    let options: ReturnType<typeof readOptions>;
    let unchanged: number[] | '*' | null = null;
    try {
      // The guard has read the query and headers already (requestHead).
      options = readOptions(requestHead.query, cluster.consistency, replicas);
      const ifNoneMatch = conditional(requestHead, 'If-None-Match');
      if (ifNoneMatch !== '') unchanged = parseEtags(ifNoneMatch, 'If-None-Match');
    } catch (err) {
      return sendError(res, toThunderError(err));
    }
    const { consistency, blocking } = options;
    const request = new KeyRequest(res, ctx, Op.Get, key, unchanged);
    if (blocking !== null) return blockingRead(request, consistency, blocking.index, blocking.waitMs);
    cluster.submit(request, 0, Op.Get, key, undefined, consistency);
  }

  /** Draws each blocking read's stagger: seeded, as every random choice of the cluster. */
  const stagger = new Rng(subSeed(cluster.seed, 'blocking reads'));

  /**
   * A Consul-style blocking read: answers once the key's version is past `index`, or when
   * `waitMs` (plus a stagger of up to a sixteenth, so waits that began together do not all
   * end together) is over, with `X-ThunderDB-Index` saying what to wait past next. The read
   * goes first; if its version is not past `index`, the key's changes after the feed's
   * position before that read are watched, and the first one past `index` reads again.
   */
  function blockingRead(request: KeyRequest, consistency: Consistency, index: number, waitMs: number): void {
    let disarm: (() => void) | null = null;
    let waiting = false;
    let changed = false;
    // Watching from before the first read: a change past `index` that comes while it is
    // under way is not missed (a live watch: nothing to replay, never compacted).
    const watched = cluster.feed.subscribe({ key: request.key }, undefined, {
      change: (change) => {
        if (change.version <= index) return;
        changed = true;
        if (waiting) readAgain();
      },
    }) as Subscription;
    const stoppable = { stop: () => readAgain() };
    const release = () => {
      watched.close();
      disarm?.();
      disarm = null;
      waiting = false;
      ctx.inFlight.settled(stoppable);
    };
    // The wait is over (a change, the time, a shutdown): the read again answers what it finds.
    function readAgain(): void {
      if (!waiting) return;
      release();
      cluster.submit(request, 0, Op.Get, request.key, undefined, consistency);
    }
    request.whenOver(release);
    request.header = [INDEX_HEADER, ''];
    request.blocking = {
      index,
      stale: () => {
        if (request.over) return release();
        waiting = true;
        ctx.inFlight.waiting(stoppable);
        if (changed) return readAgain();
        disarm = ctx.clock.setTimer(waitMs + Math.floor(stagger.next() * (waitMs / 16)), readAgain);
      },
    };
    cluster.submit(request, 0, Op.Get, request.key, undefined, consistency);
  }

  function deleteKey(res: HttpResponse, req: HttpRequest): void {
    const key = keyFromPath(req.getUrl(), PREFIX, limits);
    if (key instanceof ThunderError) return sendError(res, key);
    let options: ReturnType<typeof writeOptions>;
    try {
      options = writeOptions(requestHead, cluster.consistency, replicas, false);
    } catch (err) {
      return sendError(res, toThunderError(err));
    }
    const { consistency, condition } = options;
    const request = new KeyRequest(res, ctx, Op.Delete, key);
    cluster.submit(request, 0, Op.Delete, key, undefined, consistency, condition);
  }

  // `/kv/_mget` is also a key: only POST there is the multi-get.
  for (const pattern of ['/kv/*', '/kv/_mget']) {
    app.get(pattern, [...Object.keys(READ_PARAMS), 'If-None-Match'], getValue);
    app.del(pattern, [...Object.keys(WRITE_PARAMS), 'If-Match', 'If-None-Match'], deleteKey);
    app.put(pattern, [...Object.keys(PUT_PARAMS), 'If-Match', 'If-None-Match'], putValue);
  }

  function putValue(res: HttpResponse, req: HttpRequest): void {
    const key = keyFromPath(req.getUrl(), PREFIX, limits);
    const declared = contentLength(requestHead.contentLength);
    // The body is not read on these paths, so the connection is closed behind the answer.
    if (key instanceof ThunderError) return sendError(res, key, true);
    const tooLarge = valueError(declared, limits);
    if (tooLarge) return sendError(res, tooLarge, true);
    let options: ReturnType<typeof writeOptions>;
    try {
      options = writeOptions(requestHead, cluster.consistency, replicas, true);
    } catch (err) {
      return sendError(res, toThunderError(err), true);
    }
    const { consistency, condition, ttlMs } = options;
    const op = ttlMs === undefined ? Op.Put : Op.PutExpiring;
    const request = new KeyRequest(res, ctx, op, key);
    readBody(
      request,
      limits.maxValueBytes,
      (bytes) => valueError(bytes, limits)!,
      (body) => {
        // The expiry counts from when the value has arrived, on the coordinator's clock.
        const value = ttlMs === undefined ? body : envelope(cluster.wall() + ttlMs, body);
        cluster.submit(request, 0, op, key, value, consistency, condition);
      },
    );
  }

  app.post('/kv/_mget', (res, req) => {
    const declared = contentLength(req.getHeader('content-length'));
    const tooLarge = bodyError(declared, limits);
    if (tooLarge) return sendError(res, tooLarge, true);
    const busy = ctx.heavy.enter();
    if (busy) return sendError(res, busy, true);
    const answer = new StreamedAnswer(res, inFlight, () => ctx.heavy.leave());
    // Parsed as it arrives, a chunk at a time: a body naming too many keys is refused at the
    // first key past the limit, never parsed whole on the front end's thread.
    const parser = new MgetKeysParser(limits);
    let length = 0;
    let refused = false;
    res.onData((chunk, isLast) => {
      if (refused || answer.over) return;
      try {
        length += chunk.byteLength;
        const over = bodyError(length, limits);
        if (over) throw over;
        parser.push(Buffer.from(chunk));
        if (isLast) void answerMultiGet(answer, cluster, parser.end(), limits.maxValueBytes);
      } catch (err) {
        refused = true;
        // The rest of the body, if any, is unread: close so it is never parsed as a request.
        answer.error(toThunderError(err), !isLast);
      }
    });
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
