import type { Clock } from '../time/clock.js';
import { HASH_SPACE } from '../ring/murmur3.js';

/** What the sweeper needs of the cluster. */
export interface SweepHost {
  /**
   * Whether any node may hold a value that expires. While none can, a sweep sends nothing:
   * a cluster that never sees a TTL runs exactly as it would without the sweeper (the
   * deterministic mode's runs among it).
   */
  mayExpire(): boolean;
  /** The nodes up now. */
  upNodes(): number[];
  /** One slice of a node's clearing of values expired at or before `cutoff` (Unix ms). */
  clearExpired(node: number, from: number, cutoff: number): Promise<{ next: number; cleared: number }>;
}

/**
 * Clears values whose expiry has passed, on every node, once in each interval: each becomes
 * a tombstone of its version, so its bytes are freed (in memory and in the journal) while
 * the version goes on keeping an older write of the key out. An expired value already reads
 * as absent everywhere; the value is kept for the grace period past its expiry, as a
 * tombstone is, so a repair in flight finds the same record on every replica.
 *
 * Each replica clears on its own, with no coordination: replicas hold the same expiry with
 * the same version, so they clear the same records, and a node that was down does so at
 * the next sweep after it is back. Tombstones every replica holds are then purged (see
 * src/cluster/purger.ts).
 */
export class ExpirySweeper {
  readonly #clock: Clock;
  readonly #intervalMs: number;
  readonly #graceMs: number;
  readonly #host: SweepHost;
  #disarm: (() => void) | null = null;
  #cleared = 0;

  /** `intervalMs`: how often (0: never); `graceMs`: how long past its expiry a value is kept. */
  constructor(clock: Clock, intervalMs: number, graceMs: number, host: SweepHost) {
    this.#clock = clock;
    this.#intervalMs = intervalMs;
    this.#graceMs = graceMs;
    this.#host = host;
  }

  /** Values cleared since start, summed over nodes (each replica counts). */
  get cleared(): number {
    return this.#cleared;
  }

  /** One sweep of every node that is up, a slice at a time; resolves to the values cleared. */
  async sweep(): Promise<number> {
    const cutoff = this.#clock.wall() - this.#graceMs;
    let cleared = 0;
    if (!this.#host.mayExpire()) return 0;
    for (const node of this.#host.upNodes()) {
      try {
        for (let from = 0; from < HASH_SPACE;) {
          const slice = await this.#host.clearExpired(node, from, cutoff);
          cleared += slice.cleared;
          from = slice.next;
        }
      } catch {
        // The node went down or did not answer: the next sweep tries again.
      }
    }
    this.#cleared += cleared;
    return cleared;
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
