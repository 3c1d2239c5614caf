import type { Clock } from '../time/clock.js';

/**
 * Records every replica acknowledged, each purged from every replica once the grace period
 * has passed since it fell due: a delete's tombstone from the delete on, a value that
 * expires from its expiry on. Until then the record stays, so a write older than it,
 * delayed in flight, finds it and is dropped instead of bringing back an older value. A
 * record some replica missed is never queued here: its replicas keep it (a value that
 * expired, as a tombstone once the sweeps have cleared it, src/cluster/expiry-sweeper.ts), so the
 * older write that replica may hold stays overwritten.
 *
 * Due times differ (expiries do), so the queue is a binary heap by due time (wall clock,
 * Unix ms), with one timer for the earliest. Tombstones arrive in due order, so adding one
 * moves nothing.
 */
export class Purger {
  readonly #clock: Clock;
  readonly #graceMs: number;
  readonly #purge: (key: string, version: number) => void;
  // The heap, as parallel columns: key, version, due.
  #keys: string[] = [];
  #versions: number[] = [];
  #due: number[] = [];
  #disarm: (() => void) | null = null;
  /** When the armed timer fires (Unix ms); Infinity when none is armed. */
  #armedFor = Infinity;
  #purged = 0;

  /** `purge` sends the purge of one record (of exactly that version) to its replicas. */
  constructor(clock: Clock, graceMs: number, purge: (key: string, version: number) => void) {
    this.#clock = clock;
    this.#graceMs = graceMs;
    this.#purge = purge;
  }

  /** Records waiting for the grace period to pass since they fell due. */
  get waiting(): number {
    return this.#keys.length;
  }

  /** Purges sent since start. */
  get purged(): number {
    return this.#purged;
  }

  /**
   * Queues the record of `key` at `version`, which falls due at `dueAt` (Unix ms: a value's
   * expiry; by default now, for a tombstone).
   */
  add(key: string, version: number, dueAt = this.#clock.wall()): void {
    const due = dueAt + this.#graceMs;
    let i = this.#keys.length;
    this.#keys.push(key);
    this.#versions.push(version);
    this.#due.push(due);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.#due[parent]! <= due) break;
      this.#swap(i, parent);
      i = parent;
    }
    if (due < this.#armedFor) this.#arm();
  }

  /** Purges every record now due; re-arms the timer for the next. Returns how many were sent. */
  purgeDue(): number {
    const now = this.#clock.wall();
    let sent = 0;
    while (this.#keys.length > 0 && this.#due[0]! <= now) {
      this.#purge(this.#keys[0]!, this.#versions[0]!);
      this.#pop();
      sent++;
    }
    this.#purged += sent;
    this.#arm();
    return sent;
  }

  /** Cancels the timer; what waits is not purged. */
  stop(): void {
    this.#disarm?.();
    this.#disarm = null;
    this.#armedFor = Infinity;
  }

  #arm(): void {
    this.#disarm?.();
    this.#disarm = null;
    this.#armedFor = Infinity;
    if (this.#keys.length === 0) return;
    this.#armedFor = this.#due[0]!;
    this.#disarm = this.#clock.setTimer(Math.max(0, this.#armedFor - this.#clock.wall()), () => {
      this.#disarm = null;
      this.purgeDue();
    });
  }

  /** Removes the heap's root. */
  #pop(): void {
    const last = this.#keys.length - 1;
    this.#swap(0, last);
    this.#keys.pop();
    this.#versions.pop();
    this.#due.pop();
    for (let i = 0; ;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let least = i;
      if (left < last && this.#due[left]! < this.#due[least]!) least = left;
      if (right < last && this.#due[right]! < this.#due[least]!) least = right;
      if (least === i) return;
      this.#swap(i, least);
      i = least;
    }
  }

  #swap(a: number, b: number): void {
    const key = this.#keys[a]!;
    this.#keys[a] = this.#keys[b]!;
    this.#keys[b] = key;
    const version = this.#versions[a]!;
    this.#versions[a] = this.#versions[b]!;
    this.#versions[b] = version;
    const due = this.#due[a]!;
    this.#due[a] = this.#due[b]!;
    this.#due[b] = due;
  }
}
