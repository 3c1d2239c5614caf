import type { Clock } from './clock.js';

/**
 * Tombstones that every replica acknowledged, each purged once the grace period has passed
 * since. A tombstone is kept until then so that a write delayed in flight (older than the
 * delete) finds it and is dropped, instead of bringing the key back; one that some replica
 * missed is never queued here, so it stays until that replica has it.
 *
 * The grace period is one constant, so tombstones fall due in the order they were added:
 * a queue and one timer, whatever the number waiting.
 */
export class TombstonePurger {
  readonly #clock: Clock;
  readonly #graceMs: number;
  readonly #purge: (key: string, version: number) => void;
  /** key, version, due time: three entries per tombstone, oldest first. */
  #queue: (string | number)[] = [];
  #head = 0;
  #disarm: (() => void) | null = null;
  #purged = 0;

  /** `purge` sends the purge of one tombstone (of exactly that version) to its replicas. */
  constructor(clock: Clock, graceMs: number, purge: (key: string, version: number) => void) {
    this.#clock = clock;
    this.#graceMs = graceMs;
    this.#purge = purge;
  }

  /** Tombstones waiting for their grace period to pass. */
  get waiting(): number {
    return (this.#queue.length - this.#head) / 3;
  }

  /** Purges sent since start. */
  get purged(): number {
    return this.#purged;
  }

  add(key: string, version: number): void {
    this.#queue.push(key, version, this.#clock.now() + this.#graceMs);
    this.#disarm ??= this.#clock.setTimer(this.#graceMs, this.#due);
  }

  readonly #due = (): void => {
    const now = this.#clock.now();
    const queue = this.#queue;
    while (this.#head < queue.length && (queue[this.#head + 2] as number) <= now) {
      this.#purge(queue[this.#head] as string, queue[this.#head + 1] as number);
      this.#purged++;
      this.#head += 3;
    }
    // Drop the spent front once it is most of the array, so memory follows what waits.
    if (this.#head > 3 * 1024 && this.#head * 2 > queue.length) {
      this.#queue = queue.slice(this.#head);
      this.#head = 0;
    }
    this.#disarm =
      this.#head < this.#queue.length
        ? this.#clock.setTimer((this.#queue[this.#head + 2] as number) - now, this.#due)
        : null;
  };

  /** Cancels the timer; what waits is not purged. */
  stop(): void {
    this.#disarm?.();
    this.#disarm = null;
  }
}
