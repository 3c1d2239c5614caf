import { HASH_SPACE } from '../ring/murmur3.js';
import type { PartitionSet } from '../ring/partition-set.js';
import type { ValueBackend, ValueNeed } from '../storage/values.js';
import { readBatch, type BatchHandler } from '../wire/batch.js';
import { DIGEST_ABOVE_BYTES, Op, type OpCode } from '../wire/protocol.js';
import type { NodeStore } from './store.js';

/**
 * The values read from the backend for the batches waiting to apply, by key (its bytes as a
 * byte string) and version; null when the backend held none of that version (it was lost).
 * Pending writes are taken in by reference when a batch is looked at, so a write the backend
 * acknowledges before the batch applies (and so no longer serves) is still here for it.
 */
export class ValueFills {
  readonly #values = new Map<string, { version: number; bytes: Buffer | null }>();
  /**
   * Where each scan and snapshot slice of the batch looked at last ended, in order: applied
   * right after, each ends there at the latest, so it takes no record whose value was not
   * read (a delete earlier in the batch may have made room for more within its byte bound).
   */
  #cuts: number[] = [];
  #nextCut = 0;

  /** The batch about to be looked at: its cuts replace the last batch's. */
  beginCuts(): void {
    this.#cuts = [];
    this.#nextCut = 0;
  }

  addCut(next: number): void {
    this.#cuts.push(next);
  }

  /** The cut of the batch's next scan or snapshot slice, as it applies. */
  takeCut(): number {
    return this.#cuts[this.#nextCut++] ?? HASH_SPACE;
  }

  /** Whether the value of `name` at `version` is here (found, or known lost). */
  has(name: string, version: number): boolean {
    return this.#values.get(name)?.version === version;
  }

  /** The value of `name` at `version`: its bytes, or null when lost or not here. */
  valueOf(name: string, version: number): Buffer | null {
    const fill = this.#values.get(name);
    return fill !== undefined && fill.version === version ? fill.bytes : null;
  }

  set(name: string, version: number, bytes: Buffer | null): void {
    this.#values.set(name, { version, bytes });
  }

  /** Takes in what the backend answered for `needs`. */
  fill(needs: readonly ValueNeed[], values: readonly (Buffer | null)[]): void {
    for (let i = 0; i < needs.length; i++) this.set(needs[i]!.name, needs[i]!.version, values[i]!);
  }

  /** Forgets what `needs` asked for: the read failed, and a later one asks again. */
  forget(needs: readonly ValueNeed[]): void {
    for (const need of needs) this.#values.delete(need.name);
  }

  /**
   * Forgets what is known of `name`: it was just written, so its value is pending. (A value
   * known lost must not outlive its repair, once the repair is acknowledged.)
   */
  written(name: string): void {
    this.#values.delete(name);
  }

  clear(): void {
    this.#values.clear();
  }
}

/**
 * The values a batch will copy into its reply and that neither a pending write nor `fills`
 * holds: what to read from the backend before it applies. Found by walking the batch as the
 * runtime will, without changing the store: a Get or a GetDigest of a small value, a record
 * scan and a snapshot slice. A write earlier in the same batch can only make a value pending
 * (a Put) or unneeded (a delete), so applying the batch right after asks for nothing more.
 */
export function valuesToRead(
  batch: ArrayBuffer | SharedArrayBuffer,
  store: NodeStore,
  values: ValueBackend,
  fills: ValueFills,
): ValueNeed[] {
  const collector = new NeedCollector(store, values, fills);
  fills.beginCuts();
  try {
    readBatch(batch, collector);
  } catch (err) {
    // A malformed batch: nothing of it is read; applying it fails it with this error.
    fills.forget(collector.needs);
    throw err;
  }
  return collector.needs;
}

class NeedCollector implements BatchHandler {
  readonly needs: ValueNeed[] = [];
  readonly #store: NodeStore;
  readonly #values: ValueBackend;
  readonly #fills: ValueFills;

  constructor(store: NodeStore, values: ValueBackend, fills: ValueFills) {
    this.#store = store;
    this.#values = values;
    this.#fills = fills;
  }

  /** Notes the value of the record at `location`, unless it is a tombstone or already at hand. */
  #need(location: number, hash: number): void {
    const map = this.#store.records;
    if (location === 0 || map.isTombstoneAt(location)) return;
    const name = map.keyNameAt(location);
    const version = map.versionAt(location);
    if (this.#fills.has(name, version)) return;
    const pending = this.#values.pending(name, version);
    if (pending !== undefined) return this.#fills.set(name, version, pending);
    // Marked as asked (lost until the answer comes): each value is asked for once.
    this.#fills.set(name, version, null);
    this.needs.push({ name, hash, version });
  }

  key(op: OpCode, batch: Buffer, start: number, length: number, hash: number): void {
    if (op !== Op.Get && op !== Op.GetDigest) return;
    const map = this.#store.records;
    const location = map.locate(batch, start, length, hash);
    if (location === 0) return;
    if (op === Op.GetDigest && map.valueLengthAt(location) > DIGEST_ABOVE_BYTES) return;
    this.#need(location, hash);
  }

  snapshot(from: number, maxBytes: number, only: PartitionSet | null, asOf: number): void {
    const { next, found } = this.#store.snapshotLocations(from, maxBytes, only, asOf);
    this.#fills.addCut(next);
    for (let i = 0; i < found.length; i += 2) this.#need(found[i]!, found[i + 1]!);
  }

  scanRecords(from: number, maxBytes: number, only: PartitionSet): void {
    const { next, found } = this.#store.recordSlice(from, maxBytes, only);
    this.#fills.addCut(next);
    for (let i = 0; i < found.length; i += 2) this.#need(found[i]!, found[i + 1]!);
  }

  list(): void {}
  dropPartitions(): void {}
  clearExpired(): void {}
  stats(): void {}
  digests(): void {}
  partitionStats(): void {}
  pause(): void {}
}
