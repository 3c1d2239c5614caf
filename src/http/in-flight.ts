import { holdingClock, systemClock, type Clock } from '../time/clock.js';

import { BodyBudget } from './body-budget.js';
import { DEFAULT_LIMITS } from '../config.js';

/** How long requests stopped at the end of the grace period get to send their answer. */
const STOP_MS = 1000;

/** A request that can be ended early with an answer of its own, e.g. a batch still streaming. */
export interface Stoppable {
  /** Stop taking input and answer (with what was done so far) as soon as possible. */
  stop(): void;
}

/** How long an answer may wait on a client that takes none of its bytes, and the clock that times it. */
export interface StallTimeout {
  ms: number;
  clock: Clock;
}

/**
 * Counts requests that answer later, so a shutdown can stop listening and still finish
 * them, and holds the budget for the request bodies they buffer and the time a streamed
 * answer may wait on its client (every answer that waits takes this one object). Also
 * refuses new work once draining has begun.
 */
export class InFlight {
  /** What request bodies read whole may hold, all requests together. */
  readonly bodies: BodyBudget;
  /** See {@link StallTimeout}; default `stallTimeoutMs` of DEFAULT_LIMITS, on the system clock. */
  readonly stall: StallTimeout;
  #count = 0;
  #draining = false;
  #onIdle: (() => void) | null = null;
  readonly #stoppable = new Set<Stoppable>();
  /** Requests that wait on events, not on work (a watch, a blocking read): stopped as a drain begins. */
  readonly #waiting = new Set<Stoppable>();

  constructor(
    bodies: BodyBudget = new BodyBudget(Infinity),
    stall: StallTimeout = { ms: DEFAULT_LIMITS.stallTimeoutMs, clock: systemClock },
  ) {
    this.bodies = bodies;
    this.stall = stall;
  }

  get count(): number {
    return this.#count;
  }

  get draining(): boolean {
    return this.#draining;
  }

  begin(): void {
    this.#count++;
  }

  end(): void {
    if (--this.#count === 0 && this.#onIdle) this.#onIdle();
  }

  /** Registers a request that {@link drain} may stop when the grace period ends. */
  stoppable(request: Stoppable): void {
    this.#stoppable.add(request);
  }

  /**
   * Registers a request that waits on events rather than doing work (a watch stream, a
   * blocking read): waiting out the grace period for it would only delay the shutdown, so
   * {@link drain} stops it at once.
   */
  waiting(request: Stoppable): void {
    this.#waiting.add(request);
  }

  /** Unregisters it (it answered, or its client left). */
  settled(request: Stoppable): void {
    this.#stoppable.delete(request);
    this.#waiting.delete(request);
  }

  /**
   * Resolves when nothing is in flight, or after `timeoutMs` at the latest. Requests still
   * running then that can answer early (a batch still streaming) are stopped and get up to
   * another second to send their answer, so their client learns what was written rather
   * than seeing the connection reset.
   */
  async drain(timeoutMs: number): Promise<void> {
    this.#draining = true;
    for (const request of [...this.#waiting]) request.stop();
    if (await this.#idleWithin(timeoutMs)) return;
    if (this.#stoppable.size === 0) return;
    for (const request of [...this.#stoppable]) request.stop();
    await this.#idleWithin(STOP_MS);
  }

  /** True once nothing is in flight, false if `ms` pass first. */
  #idleWithin(ms: number): Promise<boolean> {
    if (this.#count === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      // A grace period of any length (--shutdown-grace-ms): the clock's timers never overflow.
      const cancel = holdingClock.setTimer(ms, () => {
        this.#onIdle = null;
        resolve(false);
      });
      this.#onIdle = () => {
        cancel();
        this.#onIdle = null;
        resolve(true);
      };
    });
  }
}
