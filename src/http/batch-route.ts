import type { ReplySink } from '../batcher.js';
import { pairParserFor } from '../batch/formats.js';
import { RejectionLog, type PairParser, type PairSink, type Rejection } from '../batch/pairs.js';
import { ShuttingDownError, ThunderError, toThunderError } from '../errors.js';
import { Op } from '../protocol.js';
import type { RouteContext } from './context.js';
import { Deferred } from './deferred.js';
import type { Stoppable } from './in-flight.js';
import { oneOf, parseQuery } from './params.js';
import { sendError } from './reply.js';
import type { Router } from './router.js';
import type { HttpResponse } from './uws.js';

/** Pairs sent and not yet acknowledged before the body is paused: bounds memory per batch. */
const HIGH_WATER = 32_768;
/** ...and resumed once acknowledgements bring it down to this. */
const LOW_WATER = 8_192;

/**
 * A streamed batch write. Pairs are sent to their nodes as their lines arrive, so the body
 * is never held whole; the answer waits until every sent pair is acknowledged, so
 * `written` counts pairs that are really stored.
 *
 * With `?invalid=stop` (the default) the first bad pair ends the batch: the answer is its
 * error, with `written` saying how many pairs before it were stored. With `?invalid=skip`
 * bad pairs are counted, the first few listed, and the rest of the batch goes on.
 */
class BatchWrite extends Deferred implements ReplySink, PairSink, Stoppable {
  readonly #ctx: RouteContext;
  readonly #skip: boolean;
  #parser: PairParser | null = null;
  #sent = 0;
  #acked = 0;
  readonly #rejections = new RejectionLog();
  #failure: ThunderError | null = null;
  #ended = false;
  #paused = false;
  /** The connection closed before the answer: no client left to tell what was written. */
  #cutOff = false;

  constructor(res: HttpResponse, ctx: RouteContext, skip: boolean) {
    super(res, ctx.inFlight);
    this.#ctx = ctx;
    this.#skip = skip;
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
      this.#parser = pairParserFor(contentType, this, this.#ctx.limits);
    } catch (err) {
      return this.error(toThunderError(err), true);
    }
    this.res.onData((chunk, isLast) => this.#data(Buffer.from(chunk), isLast));
  }

  pair(key: string, value: Uint8Array | string): void {
    // A node that failed under this batch ends it here, as a bad pair would.
    if (this.#failure) throw this.#failure;
    this.#sent++;
    this.#ctx.cluster.submit(this, 0, Op.Put, key, value);
  }

  reject(index: number, error: ThunderError): void {
    if (!this.#skip) throw error;
    this.#rejections.add(index, error);
  }

  settle(): void {
    this.#acked++;
    if (this.#paused && this.#sent - this.#acked <= LOW_WATER && !this.over) {
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

  #data(chunk: Buffer, isLast: boolean): void {
    if (this.#failure || this.over) return;
    try {
      this.#parser!.push(chunk);
      if (isLast) {
        this.#parser!.end();
        this.#ended = true;
      }
    } catch (err) {
      this.#failure = toThunderError(err);
    }
    if (!this.#ended && !this.#failure && this.#sent - this.#acked >= HIGH_WATER) {
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
      const answer: { written: number; rejected?: number; rejections?: Rejection[] } = {
        written: this.#acked,
      };
      if (this.#skip) {
        answer.rejected = this.#rejections.count;
        answer.rejections = this.#rejections.first;
      }
      this.json(200, JSON.stringify(answer));
    }
  }
}

/** `?invalid=stop|skip` of a batch. */
const BATCH_PARAMS = { invalid: oneOf(['stop', 'skip'], 'stop') };

/** Registers `POST /kv`, the streamed batch write in JSON, NDJSON or `key value` text. */
export function registerBatchRoute(app: Router, ctx: RouteContext): void {
  app.post('/kv', ['invalid'], (res, req) => {
    const contentType = req.getHeader('content-type');
    let mode: 'stop' | 'skip';
    try {
      mode = parseQuery(req.getQuery(), BATCH_PARAMS).invalid;
    } catch (err) {
      return sendError(res, toThunderError(err), true);
    }
    new BatchWrite(res, ctx, mode === 'skip').start(contentType);
  });
}
