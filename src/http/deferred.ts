import type { ThunderError } from '../errors.js';
import type { InFlight } from './in-flight.js';
import {
  countAnswer,
  endWith,
  endWithLength,
  errorBody,
  isHead,
  sendJson,
  writeErrorHead,
  writeStatus,
} from './reply.js';
import { answering, type RouteMetrics } from '../metrics/http-metrics.js';
import type { HeaderText, HttpResponse } from './seam.js';

// The hot path's header names as bytes: uWS copies them as they are (see HeaderText).
const CONTENT_TYPE = Buffer.from('Content-Type');
const ETAG = Buffer.from('ETag');

/**
 * A request that answers after its handler returned. Registers `onAborted` first, as uWS
 * requires, and from then on never touches a response the client has abandoned; every
 * later write is corked.
 *
 * It counts as in flight (so a shutdown waits for it) until its answer's bytes have left
 * for the kernel, not merely until the answer was handed to uWS: a client still reading a
 * large answer is not cut off by a shutdown within its grace period.
 */
export class Deferred {
  readonly res: HttpResponse;
  /** The client went away (or uWS dropped the connection). */
  aborted = false;
  /** An answer was given; it may still be draining to a slow reader. */
  done = false;
  #counted = true;
  #onOver: (() => void) | null = null;
  /** A header every answer of this request carries (a blocking read's `X-ThunderDB-Index`). */
  header: [name: string, value: string] | null = null;
  /** The server's request bookkeeping (in-flight count, body budget). */
  readonly inFlight: InFlight;

  /** The route the answer counts against, and when its handler began (see `answering`). */
  readonly #route: RouteMetrics | null;
  readonly #started: number;

  constructor(res: HttpResponse, inFlight: InFlight) {
    this.res = res;
    this.inFlight = inFlight;
    this.#route = answering.route;
    this.#started = answering.started;
    inFlight.begin();
    res.onAborted(() => {
      this.aborted = true;
      if (!this.done) this.onAbort();
      this.#release();
      this.#uncount();
    });
  }

  /** Hook for subclasses: the client left before the answer was given. */
  protected onAbort(): void {}

  /** True once the answer is given or the client is gone: nothing more to do. */
  get over(): boolean {
    return this.done || this.aborted;
  }

  /** Runs `release` once, when the answer is given or the client leaves (whichever first). */
  whenOver(release: () => void): void {
    if (this.over) release();
    else this.#onOver = release;
  }

  json(status: number, json: string, close = false): void {
    if (this.over) return;
    if (close) this.#answer(() => sendJson(this.res, status, json, true));
    else
      this.#answerWithBody(
        () => writeStatus(this.res, status).writeHeader('Content-Type', 'application/json'),
        json,
      );
  }

  /** An error answer; `extra` fields are merged into this answer's body only. */
  error(error: ThunderError, close = false, extra?: Record<string, unknown>): void {
    if (this.over) return;
    const body = errorBody(error, extra);
    if (close) {
      this.#answer(() => {
        writeErrorHead(this.res, error);
        this.#header();
        endWith(this.res, body, true);
      });
    } else
      this.#answerWithBody(() => {
        writeErrorHead(this.res, error);
        this.#header();
      }, body);
  }

  /**
   * An empty response with a status (and an ETag, when given). A 204 or 304 carries no
   * Content-Length, as RFC 9110 asks.
   */
  empty(status: number, etag?: HeaderText): void {
    if (this.over) return;
    this.#answer(() => {
      writeStatus(this.res, status);
      if (etag !== undefined) this.res.writeHeader(ETAG, etag);
      this.#header();
      if (status === 204 || status === 304) this.res.endWithoutBody();
      else this.res.end();
    });
  }

  /** A byte-string body, e.g. a value, with its ETag and its `X-TTL` (seconds left) when given. */
  bytes(body: Buffer, contentType: HeaderText, etag?: HeaderText, ttl?: string): void {
    if (this.over) return;
    this.#answerWithBody(() => {
      countAnswer(200);
      this.res.writeHeader(CONTENT_TYPE, contentType);
      if (etag !== undefined) this.res.writeHeader(ETAG, etag);
      if (ttl !== undefined) this.res.writeHeader('X-TTL', ttl);
      this.#header();
    }, body);
  }

  #header(): void {
    // A blocking read's index is set when its read answers; a failed read has none to say.
    if (this.header !== null && this.header[1] !== '') this.res.writeHeader(this.header[0], this.header[1]);
  }

  /** Writes a whole answer at once (small, or closing the connection behind it). */
  #answer(write: () => void): void {
    this.#write(write);
    this.done = true;
    this.#release();
    this.#uncount();
  }

  /**
   * Writes the head, then the body with `tryEnd`, which sends what the socket takes now
   * and leaves the rest to `onWritable`: the request stays in flight until the last byte
   * is out, and uWS never holds a second copy of a large body. (node:http takes the whole
   * body at once, `ok` without `done`, and calls `onWritable` once it has left.)
   */
  #answerWithBody(writeHead: () => void, body: string | Buffer): void {
    const res = this.res;
    let sent = true;
    this.#write(() => {
      writeHead();
      if (isHead(res)) {
        endWithLength(res, Buffer.byteLength(body));
        return;
      }
      const total = Buffer.byteLength(body);
      const [taken, done] = res.tryEnd(body, total);
      if (done) return;
      sent = false;
      // A value is a view into its node's whole reply: a slow reader must not keep every
      // other value of that reply alive, so the rest waits in a copy of its own (unless the
      // front end took it all: then it holds the bytes, and nothing is offered again).
      const rest = taken
        ? null
        : typeof body === 'string' || body.buffer.byteLength > 2 * body.length
          ? Buffer.from(body)
          : body;
      res.onWritable((offset) => {
        const [ok, finished] = res.tryEnd(rest === null ? '' : rest.subarray(offset), total);
        if (finished) this.#uncount();
        return ok;
      });
    });
    this.done = true;
    this.#release();
    if (sent) this.#uncount();
  }

  /** Runs `write` corked, its status counted against this request's route (see `answering`). */
  #write(write: () => void): void {
    const { route, started } = answering;
    answering.route = this.#route;
    answering.started = this.#started;
    try {
      this.res.cork(write);
    } finally {
      answering.route = route;
      answering.started = started;
    }
  }

  #release(): void {
    const release = this.#onOver;
    this.#onOver = null;
    release?.();
  }

  #uncount(): void {
    if (!this.#counted) return;
    this.#counted = false;
    this.inFlight.end();
  }
}
