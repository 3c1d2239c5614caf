/**
 * The request-body bytes all connections together may hold between uWS callbacks while
 * bodies read whole arrive. Without it, N slow uploads pin N × the largest body (150
 * uploads of 16 MiB held 2.4 GB); with it, past the budget a request is refused rather
 * than buffered.
 */
export class BodyBudget {
  readonly limit: number;
  #held = 0;

  /** `limit` in bytes; Infinity for no budget. */
  constructor(limit: number) {
    if (!(limit > 0)) throw new RangeError(`the body budget must be a positive number, got ${limit}`);
    this.limit = limit;
  }

  /** Bytes held now. */
  get held(): number {
    return this.#held;
  }

  /** Takes `bytes` from the budget; false (and nothing taken) when they do not fit. */
  take(bytes: number): boolean {
    if (this.#held + bytes > this.limit) return false;
    this.#held += bytes;
    return true;
  }

  /** Gives back bytes taken earlier. */
  give(bytes: number): void {
    this.#held -= bytes;
  }
}
