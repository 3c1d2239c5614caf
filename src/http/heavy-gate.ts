import { ServerBusyError } from '../errors.js';

/**
 * Counts heavy requests (`_mget`, `/snapshot`, listings) and refuses one over the limit.
 * Each heavy request holds at most a bounded window of data at a time, so a cap on how
 * many run at once caps their memory in total, however large the store or slow the client.
 */
export class HeavyGate {
  readonly #max: number;
  #active = 0;

  constructor(max: number) {
    if (!Number.isSafeInteger(max) || max < 1)
      throw new RangeError(`max must be a positive integer, got ${max}`);
    this.#max = max;
  }

  get active(): number {
    return this.#active;
  }

  /** Takes a place, or returns the error to answer with when none is free. Call `leave()` once after. */
  enter(): ServerBusyError | null {
    if (this.#active >= this.#max) {
      return new ServerBusyError(
        `${this.#max} heavy requests (_mget, /snapshot, listings) are running; try again shortly`,
      );
    }
    this.#active++;
    return null;
  }

  leave(): void {
    this.#active--;
  }
}
