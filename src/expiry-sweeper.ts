import type { Clock } from './clock.js';
import { HASH_SPACE } from './murmur3.js';

/** What the sweeper needs of the cluster. */
export interface SweepHost {
  /** The nodes up now. */
  upNodes(): number[];
  /** One slice of a node's purge of values expired at or before `cutoff` (Unix ms). */
  purgeExpired(node: number, from: number, cutoff: number): Promise<{ next: number; purged: number }>;
}

/**
 * Purges values whose expiry has passed, from every node, once in each interval. An expired
 * value already reads as absent everywhere; purging frees its memory and its journal's
 * copy. It is kept for the grace period past its expiry, as a tombstone is: a write older
 * than it, delayed in flight, then finds it and is dropped instead of bringing back an
 * older value.
 *
 * Each replica purges on its own, with no coordination: replicas hold the same expiry with
 * the same version, so they purge the same records, and a node that was down when its
 * peers purged does so at the next sweep after it is back.
 */
export class ExpirySweeper {
  readonly #clock: Clock;
  readonly #intervalMs: number;
  readonly #graceMs: number;
  readonly #host: SweepHost;
  #disarm: (() => void) | null = null;
  #purged = 0;

  /** `intervalMs`: how often (0: never); `graceMs`: how long past its expiry a value is kept. */
  constructor(clock: Clock, intervalMs: number, graceMs: number, host: SweepHost) {
    this.#clock = clock;
    this.#intervalMs = intervalMs;
    this.#graceMs = graceMs;
    this.#host = host;
  }

  /** Values purged since start, summed over nodes (each replica counts). */
  get purged(): number {
    return this.#purged;
  }

  /** One sweep of every node that is up, a slice at a time; resolves to the values purged. */
  async sweep(): Promise<number> {
    const cutoff = this.#clock.wall() - this.#graceMs;
    let purged = 0;
    for (const node of this.#host.upNodes()) {
      try {
        for (let from = 0; from < HASH_SPACE;) {
          const slice = await this.#host.purgeExpired(node, from, cutoff);
          purged += slice.purged;
          from = slice.next;
        }
      } catch {
        // The node went down or did not answer: the next sweep tries again.
      }
    }
    this.#purged += purged;
    return purged;
  }

  /** Sweeps every interval on the clock (never with 0), until {@link stop}. */
  start(): void {
    if (this.#intervalMs === 0) return;
    this.#disarm = this.#clock.setTimer(this.#intervalMs, () => {
      void this.sweep().finally(() => {
        if (this.#disarm !== null) this.start();
      });
    });
  }

  stop(): void {
    this.#disarm?.();
    this.#disarm = null;
  }
}
