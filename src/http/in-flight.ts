import { BodyBudget } from './body-budget.js';

/**
 * Counts requests that answer later, so a shutdown can stop listening and still finish
 * them, and holds the budget for the request bodies they buffer. Also refuses new work
 * once draining has begun.
 */
export class InFlight {
  /** What request bodies read whole may hold, all requests together. */
  readonly bodies: BodyBudget;
  #count = 0;
  #draining = false;
  #onIdle: (() => void) | null = null;

  constructor(bodies: BodyBudget = new BodyBudget(Infinity)) {
    this.bodies = bodies;
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

  /** Resolves when nothing is in flight, or after `timeoutMs` at the latest. */
  drain(timeoutMs: number): Promise<void> {
    this.#draining = true;
    if (this.#count === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.#onIdle = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
