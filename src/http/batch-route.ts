import type { ReplySink } from '../transport/batcher.js';
import { pairParserFor } from '../batch/formats.js';
import { RejectionLog, type PairParser, type PairSink, type Rejection } from '../batch/pairs.js';
import { base64Length, base64ToBytes } from '../bytes.js';
import { BadRequestError, ShuttingDownError, ThunderError, toThunderError } from '../errors.js';
import { envelope, MAX_TTL_SECONDS } from '../expiry.js';
import { valueError } from '../limits.js';
import { Op } from '../wire/protocol.js';
import type { RouteContext } from './context.js';
import { Deferred } from './deferred.js';
import type { Stoppable } from './in-flight.js';
import { oneOf, parseQuery, seconds } from './params.js';
import { sendError } from './reply.js';
import type { Router } from './router.js';
import type { HttpResponse } from './seam.js';

/**
 * Body bytes parsed in one turn of the event loop, at most: about 3,500 `key value` pairs of
 * uuids, some 10 ms of parsing and sending, so a large upload never holds the front end's
 * one thread for long (issue 17).
 */
const SLICE_BYTES = 64 * 1024;

/** Pairs sent and not yet acknowledged before the body is paused: bounds memory per batch. */
const HIGH_WATER = 32_768;
/** ...and resumed once acknowledgements bring it down to this. */
const LOW_WATER = 8_192;

/**
 * Operations unanswered by any one node before the body is paused, whatever this batch's own
 * acknowledgements say: with W below N a write is acknowledged by the fastest replicas, and
 * a replica behind a slower storage backend (Redis, memcached) would take a queue without
 * bound, its batches then timing out (NODE_TIMEOUT) once the queue held more than its
 * storage stores in `--timeout-ms`. 16,384 is about a second of a node storing to one Redis.
 */
const BACKLOG_HIGH = 16_384;
/** ...and resumed once every node has come down to this. */
const BACKLOG_LOW = 8_192;

/**
 * A streamed batch write. Pairs are sent to their nodes as their lines arrive, so the body
 * is never held whole; the answer waits until every sent pair is acknowledged, so
 * `written` counts pairs that are really stored.
 *
 * With `?invalid=stop` (the default) the first bad pair ends the batch: the answer is its
 * error, with `written` saying how many pairs before it were stored. With `?invalid=skip`
 * bad pairs are counted, the first few listed, and the rest of the batch goes on.
 *
 * With `?ttl=SECONDS` every pair expires that long after it is read; a pair's own expiry
 * (an NDJSON line's third element) wins over it, and a pair whose expiry has passed is not
 * written but counted as `expired`. With `?encoding=base64` values are base64 text (as
 * `GET /export` writes them), decoded to the bytes they spell.
 */
class BatchWrite extends Deferred implements ReplySink, PairSink, Stoppable {
  readonly #ctx: RouteContext;
  readonly #skip: boolean;
  readonly #options: BatchOptions;
  /** Pairs left out because their expiry had passed. */
  #expired = 0;
  #parser: PairParser | null = null;
  #sent = 0;
  #acked = 0;
  readonly #rejections = new RejectionLog();
  #failure: ThunderError | null = null;
  #ended = false;
  /** The body is paused: too many pairs unacknowledged (HIGH_WATER), or a chunk still being read. */
  #paused = false;
  /** Paused (too) for a node's backlog (BACKLOG_HIGH), until every node is down to BACKLOG_LOW. */
  #backlogged = false;
  /**
   * Body bytes waiting to be parsed, a slice a turn (copies: a large chunk, and whatever
   * arrives while one is being read), and whether the body's last byte is among them.
   */
  readonly #waiting: Buffer[] = [];
  /** Body bytes parsed in this turn of the event loop. */
  #turnBytes = 0;
  #waitingEnds = false;
  /** The connection closed before the answer: no client left to tell what was written. */
  #cutOff = false;

  constructor(res: HttpResponse, ctx: RouteContext, options: BatchOptions) {
    super(res, ctx.inFlight);
    this.#ctx = ctx;
    this.#skip = options.invalid === 'skip';
    this.#options = options;
    ctx.inFlight.stoppable(this);
    this.whenOver(() => ctx.inFlight.settled(this));
  }

  /** A shutdown's grace period is over: read no more, answer with what is written. */
  stop(): void {
    this.#failure ??= new ShuttingDownError(
      'the server is shutting down; the rest of the batch was not read',
    );
    this.#maybeAnswer();
  }

  protected override onAbort(): void {
    this.#cutOff = true;
    this.#maybeAnswer();
  }

  start(contentType: string): void {
    try {
      const { limits } = this.#ctx;
      // Base64 text is a third longer than the bytes it spells: the parser bounds the text,
      // and each value is checked against the real limit once decoded.
      const parsing =
        this.#options.encoding === 'base64'
          ? { ...limits, maxValueBytes: base64Length(limits.maxValueBytes) }
          : limits;
      this.#parser = pairParserFor(contentType, this, parsing);
    } catch (err) {
      return this.error(toThunderError(err), true);
    }
    this.res.onData((chunk, isLast) => this.#data(Buffer.from(chunk), isLast));
  }

  pair(key: string, value: Uint8Array | string, index: number, expiresAt?: number): void {
    // A node that failed under this batch ends it here, as a bad pair would.
    if (this.#failure) throw this.#failure;
    const { cluster, limits } = this.#ctx;
    if (this.#options.encoding === 'base64') {
      const text = typeof value === 'string' ? value : Buffer.from(value).toString('latin1');
      const bytes = base64ToBytes(text);
      const error =
        bytes === null
          ? new BadRequestError(`pair ${index}: the value is not base64 (RFC 4648, padded)`)
          : valueError(bytes.length, limits);
      if (error) {
        if (bytes !== null) error.message = `pair ${index}: ${error.message}`;
        return this.reject(index, error);
      }
      value = bytes!;
    }
    const { ttlMs } = this.#options;
    // Most batches never expire: no clock read on the bulk-load path.
    if (expiresAt === undefined && ttlMs === undefined) {
      this.#sent++;
      cluster.submit(this, 0, Op.Put, key, value);
      return;
    }
    const now = cluster.wall();
    if (expiresAt !== undefined && expiresAt > now + MAX_TTL_SECONDS * 1000) {
      return this.reject(
        index,
        new BadRequestError(`pair ${index}: its expiry ${expiresAt} is more than ${MAX_TTL_SECONDS} s away`),
      );
    }
    const expires = expiresAt ?? now + ttlMs!;
    if (expires <= now) {
      this.#expired++;
      return;
    }
    this.#sent++;
    cluster.submit(this, 0, Op.PutExpiring, key, envelope(expires, value));
  }

  reject(index: number, error: ThunderError): void {
    if (!this.#skip) throw error;
    this.#rejections.add(index, error);
  }

  settle(): void {
    this.#acked++;
    if (
      this.#paused &&
      !this.#backlogged &&
      this.#waiting.length === 0 &&
      this.#sent - this.#acked <= LOW_WATER &&
      !this.over
    ) {
      this.#paused = false;
      this.res.resume();
    }
    this.#maybeAnswer();
  }

  fail(_tag: number, error: ThunderError): void {
    // A node went down under the batch: what it had not acknowledged is not stored.
    this.#failure ??= error;
    this.#sent--;
    this.#maybeAnswer();
  }

  /**
   * A chunk of the body, as the front end hands it over (a view, valid during the call). At
   * most {@link SLICE_BYTES} are parsed in one turn of the event loop, however the body
   * arrives: uWS hands over up to 512 KiB at once (some 27,000 pairs, 60-200 ms of parsing
   * and sending), node:http up to 64 KiB a read but many reads in one turn. What is past the
   * turn's share is copied and parsed a slice a turn, the body paused meanwhile, so other
   * requests are served between slices; what arrives meanwhile waits behind it, in order.
   */
  #data(chunk: Buffer, isLast: boolean): void {
    if (this.#failure || this.over) return;
    if (this.#waiting.length === 0 && this.#turnBytes + chunk.length <= SLICE_BYTES) {
      this.#spend(chunk.length);
      return this.#parse(chunk, isLast);
    }
    const first = this.#waiting.length === 0;
    this.#waiting.push(Buffer.from(chunk));
    this.#waitingEnds = isLast;
    if (!this.#paused) {
      this.#paused = true;
      this.res.pause();
    }
    if (!first) return;
    if (this.#turnBytes === 0) this.#parseWaiting();
    else setImmediate(this.#parseWaiting);
  }

  /** Counts bytes parsed in this turn; the count starts again at the next. */
  #spend(bytes: number): void {
    if (this.#turnBytes === 0) setImmediate(this.#newTurn);
    this.#turnBytes += bytes;
  }

  readonly #newTurn = (): void => {
    this.#turnBytes = 0;
  };

  /** Parses the next slice of what waits, and the one after that a turn later. */
  readonly #parseWaiting = (): void => {
    const waiting = this.#waiting;
    if (this.#failure || this.over) {
      waiting.length = 0;
      return this.#maybeAnswer();
    }
    const next = waiting[0]!;
    const slice = next.subarray(0, SLICE_BYTES);
    if (next.length > SLICE_BYTES) waiting[0] = next.subarray(SLICE_BYTES);
    else waiting.shift();
    this.#spend(slice.length);
    this.#parse(slice, waiting.length === 0 && this.#waitingEnds);
    if (waiting.length > 0) {
      // The rest waits, parsed on once every node has caught up (#backlogEased).
      if (!this.#behind()) setImmediate(this.#parseWaiting);
    } else if (this.#paused && !this.#ended && !this.over && !this.#mustWait()) {
      this.#paused = false;
      this.res.resume();
    }
  };

  /** Whether the body must wait before more is read: too many of this batch's pairs unacknowledged, or {@link behind}. */
  #mustWait(): boolean {
    return this.#sent - this.#acked >= HIGH_WATER || this.#behind();
  }

  /**
   * Whether a node is too far behind to send it more (BACKLOG_HIGH); if so, reading goes on
   * only once every node has caught up (to BACKLOG_LOW).
   */
  #behind(): boolean {
    if (this.#backlogged) return true;
    const { cluster } = this.#ctx;
    if (cluster.backlog <= BACKLOG_HIGH) return false;
    this.#backlogged = true;
    cluster.whenBacklogAtMost(BACKLOG_LOW, this.#backlogEased);
    return true;
  }

  /** Every node is down to BACKLOG_LOW: parse what waits, or read on, unless something else holds the body. */
  readonly #backlogEased = (): void => {
    this.#backlogged = false;
    if (this.#waiting.length > 0) return this.#parseWaiting();
    if (this.#paused && !this.#ended && !this.#failure && !this.over && !this.#mustWait()) {
      this.#paused = false;
      this.res.resume();
    }
  };

  #parse(chunk: Buffer, isLast: boolean): void {
    try {
      this.#parser!.push(chunk);
      if (isLast) {
        this.#parser!.end();
        this.#ended = true;
      }
    } catch (err) {
      this.#failure = toThunderError(err);
    }
    if (!this.#ended && !this.#failure && !this.#paused && this.#mustWait()) {
      this.#paused = true;
      this.res.pause();
    }
    this.#maybeAnswer();
  }

  #maybeAnswer(): void {
    if (this.#acked < this.#sent) return;
    if (this.#cutOff) {
      // uWS closes an upload slower than 16 KiB/s after 10 s, with no way to answer; the
      // client may also just have gone. Either way the pairs before the cut are stored,
      // so the operator at least learns how many.
      this.#cutOff = false;
      this.#ctx.log(
        `POST /kv: the connection closed before the batch ended (client gone, or an upload slower than 16 KiB/s for 10 s); ${this.#acked} pairs were written, the rest was not read`,
      );
      return;
    }
    if (this.over) return;
    if (this.#failure) {
      // Answered before the body ends, the connection stays open: uWS goes on parsing the
      // rest as this request's body (#data drops it) and only then reads a next request.
      // Closing instead, with the client's upload still arriving, would make the kernel
      // reset the connection, and a client still writing (`thunderdb load`) would lose
      // this answer to EPIPE.
      if (this.#paused) {
        this.#paused = false;
        this.res.resume();
      }
      this.error(this.#failure, false, { written: this.#acked });
    } else if (this.#ended) {
      const answer: { written: number; expired?: number; rejected?: number; rejections?: Rejection[] } = {
        written: this.#acked,
      };
      if (this.#expired > 0) answer.expired = this.#expired;
      if (this.#skip) {
        answer.rejected = this.#rejections.count;
        answer.rejections = this.#rejections.first;
      }
      this.json(200, JSON.stringify(answer));
    }
  }
}

/** `?invalid=stop|skip&ttl=SECONDS&encoding=text|base64` of a batch. */
const BATCH_PARAMS = {
  invalid: oneOf(['stop', 'skip'], 'stop'),
  ttl: seconds(MAX_TTL_SECONDS),
  encoding: oneOf(['text', 'base64'], 'text'),
};

interface BatchOptions {
  invalid: 'stop' | 'skip';
  /** Undefined: the pairs do not expire (unless a pair says so). */
  ttlMs: number | undefined;
  encoding: 'text' | 'base64';
}

/** Registers `POST /kv`, the streamed batch write in JSON, NDJSON or `key value` text. */
export function registerBatchRoute(app: Router, ctx: RouteContext): void {
  app.post('/kv', Object.keys(BATCH_PARAMS), (res, req) => {
    const contentType = req.getHeader('content-type');
    let options: BatchOptions;
    try {
      const { invalid, ttl, encoding } = parseQuery(req.getQuery(), BATCH_PARAMS);
      options = { invalid, ttlMs: ttl, encoding };
    } catch (err) {
      return sendError(res, toThunderError(err), true);
    }
    new BatchWrite(res, ctx, options).start(contentType);
  });
}
