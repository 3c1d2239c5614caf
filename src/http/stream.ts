import type { ThunderError } from '../errors.js';
import type { InFlight } from './in-flight.js';
import { sendError, writeStatus } from './reply.js';
import { answerAs, answering, type RouteMetrics } from '../metrics/http-metrics.js';
import type { HttpResponse } from './seam.js';

/**
 * An answer written in pieces as they are produced, with backpressure: `write()` resolves
 * only once the client has taken what was written (uWS `onWritable`), so a producer that
 * awaits each write holds at most one piece in memory however slowly the client reads.
 * The status line goes out with the first piece; until then a failure can still be a proper
 * error answer, after it the connection is closed so the client sees a truncated body
 * rather than a well-formed partial one. A client that takes none of the answer's bytes for
 * `inFlight.stall.ms` is cut off the same way, so it cannot hold its heavy-request place
 * (`onFinish`) for longer.
 */
export class StreamedAnswer {
  readonly res: HttpResponse;
  /** The server's request bookkeeping (in-flight count, body budget). */
  readonly inFlight: InFlight;
  readonly #onFinish: () => void;
  #onOver: (() => void) | null = null;
  readonly #contentType: string;
  #aborted = false;
  #started = false;
  #done = false;
  #drained: (() => void) | null = null;
  /** Cancels the stall timer of the write waiting on the client. */
  #disarm: (() => void) | null = null;
  /** The route the answer counts against, and when its handler began (see `answering`). */
  readonly #route: RouteMetrics | null = answering.route;
  readonly #begun = answering.started;

  /** `onFinish` runs once when the answer ends, however it ends (sent, failed or aborted). */
  constructor(res: HttpResponse, inFlight: InFlight, onFinish: () => void, contentType = 'application/json') {
    this.res = res;
    this.inFlight = inFlight;
    this.#onFinish = onFinish;
    this.#contentType = contentType;
    inFlight.begin();
    res.onAborted(() => {
      this.#aborted = true;
      this.#wake();
      this.#finish();
    });
  }

  /** True once the answer is complete or the client is gone: stop producing. */
  get over(): boolean {
    return this.#done || this.#aborted;
  }

  /** Runs `release` once, when the answer ends or the client leaves (whichever first). */
  whenOver(release: () => void): void {
    if (this.over) release();
    else this.#onOver = release;
  }

  /** Sends one piece; resolves when the next one may be produced. */
  async write(piece: string): Promise<void> {
    if (!this.offer(piece)) await this.writable();
  }

  /**
   * Sends one piece now: true if the connection took it, false if it is held back (the
   * front end keeps it) and the client must take it before more is produced ({@link writable}).
   */
  offer(piece: string): boolean {
    if (this.over || piece.length === 0) return true;
    let sent = true;
    this.res.cork(() => {
      this.#head();
      sent = this.res.write(piece);
    });
    return sent;
  }

  /**
   * Resolves once the client has taken what was held back (or is gone); a client that takes
   * nothing for the stall timeout is cut off.
   */
  async writable(): Promise<void> {
    if (this.over) return;
    await new Promise<void>((resolve) => {
      this.#drained = resolve;
      const { ms, clock } = this.inFlight.stall;
      this.#disarm = clock.setTimer(ms, () => this.#stalled());
      this.res.onWritable(() => {
        this.#wake();
        return true;
      });
    });
  }

  /**
   * Sends the last piece and ends the answer, once the client has taken it: until then the
   * answer counts as in flight, so a shutdown within its grace period does not cut it off.
   */
  async end(piece = ''): Promise<void> {
    await this.write(piece);
    if (this.over) return;
    this.res.cork(() => {
      this.#head();
      this.res.end();
    });
    this.#finish();
  }

  /**
   * Ends with an error answer if nothing was sent yet (`close` also ends the connection, for
   * an unread body); otherwise cuts the connection, the only honest signal left.
   */
  error(error: ThunderError, close = false): void {
    if (this.over) return;
    if (this.#started)
      this.res.close(); // runs onAborted, which finishes
    else {
      answerAs(this.#route, this.#begun, () => this.res.cork(() => sendError(this.res, error, close)));
      this.#finish();
    }
  }

  #head(): void {
    if (this.#started) return;
    this.#started = true;
    answerAs(this.#route, this.#begun, () =>
      writeStatus(this.res, 200).writeHeader('Content-Type', this.#contentType),
    );
  }

  /** The client took nothing for the stall timeout: the only honest signal left is to close. */
  #stalled(): void {
    this.#disarm = null;
    if (!this.over) this.res.close(); // runs onAborted, which wakes the producer and finishes
  }

  #wake(): void {
    this.#disarm?.();
    this.#disarm = null;
    const resolve = this.#drained;
    this.#drained = null;
    resolve?.();
  }

  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    this.inFlight.end();
    this.#onFinish();
    const release = this.#onOver;
    this.#onOver = null;
    release?.();
  }
}
