import { EXPIRES, EXPIRY, EXTERNAL, HEADER, recordLengthIn, SLAB_SHIFT, TOMBSTONE } from './record.js';

/** Compact a full slab once less than this share of it is live. */
const MIN_LIVE = 0.5;

/** What the slabs ask of the index that points into them when a compaction moves records. */
export interface SlabIndex {
  /** The slot pointing at the record at `location` (`slab[at…]`), or -1 if none does: it is dead. */
  slotOf(location: number, slab: Buffer, at: number): number;
  /** The record of `slot` now lives at `location`. */
  moved(slot: number, location: number): void;
}

/**
 * Where a RecordMap's records live (src/node/record-map.ts): large off-heap slabs,
 * appended to, one current at a time. Overwrites and deletes leave dead bytes behind; a slab
 * that falls below half live is compacted into the current one and freed, so space comes
 * back under any mix of writes. A record's location is slab × 2^32 + offset + 1
 * (src/node/record.ts), so 0 can mean an empty slot of the index.
 */
export class Slabs {
  readonly #index: SlabIndex;
  readonly #slabBytes: number;
  #slabs: (Buffer | null)[] = [];
  /** Bytes appended to each slab, and how many of them still belong to live records. */
  #used: number[] = [];
  #live: number[] = [];
  /** Indexes of freed slabs, reused before the slab list grows. */
  #freeSlabs: number[] = [];
  #current = -1;

  /** `slabBytes`: a slab's size (a larger record gets one of its own). */
  constructor(slabBytes: number, index: SlabIndex) {
    this.#slabBytes = slabBytes;
    this.#index = index;
  }

  /** Bytes of slabs allocated, live or not. */
  get allocatedBytes(): number {
    let total = 0;
    for (const slab of this.#slabs) total += slab?.length ?? 0;
    return total;
  }

  /** The slab of index `index` (a location's `Math.floor(location / SLAB_SHIFT)`). */
  slabAt(index: number): Buffer {
    return this.#slabs[index]!;
  }

  /** The slab holding the record at `location` (see {@link offsetOf} for where in it). */
  slabOf(location: number): Buffer {
    return this.#slabs[Math.floor(location / SLAB_SHIFT)]!;
  }

  /**
   * Appends a record for a key and value (null: a tombstone) that expires at `expiresAt` (0:
   * never); returns its location. `external`: the value's bytes live in the storage backend,
   * and the record keeps only their length.
   */
  append(
    src: Uint8Array,
    start: number,
    keyLength: number,
    value: Uint8Array | null,
    valueStart: number,
    valueLength: number,
    version: number,
    expiresAt: number,
    external = false,
  ): number {
    const expiry = expiresAt === 0 ? 0 : EXPIRY;
    const held = external ? 0 : valueLength;
    const length = HEADER + keyLength + expiry + held;
    const index = this.#room(length);
    const slab = this.#slabs[index]!;
    const at = this.#used[index]!;
    slab[at] = keyLength & 0xff;
    slab[at + 1] = keyLength >>> 8;
    slab.writeUInt32LE(
      value === null
        ? TOMBSTONE
        : (valueLength | (expiry === 0 ? 0 : EXPIRES) | (external ? EXTERNAL : 0)) >>> 0,
      at + 2,
    );
    slab.writeDoubleLE(version, at + 6);
    for (let i = 0; i < keyLength; i++) slab[at + HEADER + i] = src[start + i]!;
    if (expiry !== 0) slab.writeDoubleLE(expiresAt, at + HEADER + keyLength);
    if (value !== null && !external)
      slab.set(value.subarray(valueStart, valueStart + valueLength), at + HEADER + keyLength + expiry);
    this.#used[index] = at + length;
    this.#live[index]! += length;
    return index * SLAB_SHIFT + at + 1;
  }

  /** The slab to append `length` bytes to: the current one, or a new one when it is full. */
  #room(length: number): number {
    for (;;) {
      const index = this.#current;
      if (index >= 0 && this.#used[index]! + length <= this.#slabs[index]!.length) return index;
      // allocUnsafeSlow: a slab of its own, not a slice of Node's shared pool.
      const slab = Buffer.allocUnsafeSlow(Math.max(this.#slabBytes, length));
      const fresh = this.#freeSlabs.pop() ?? this.#slabs.length;
      this.#slabs[fresh] = slab;
      this.#used[fresh] = 0;
      this.#live[fresh] = 0;
      this.#current = fresh;
      // The retired slab was exempt from compaction while current; hold it to the same rule
      // as every other slab now. Compacting it may fill the new slab, hence the loop.
      if (index >= 0) this.#settle(index);
    }
  }

  /** Marks a record's bytes dead, compacting or freeing its slab once it is mostly dead. */
  release(location: number, length: number): void {
    const index = Math.floor(location / SLAB_SHIFT);
    this.#live[index]! -= length;
    if (index !== this.#current) this.#settle(index);
    // Everything in the current slab has died: start it again from the beginning.
    else if (this.#live[index] === 0) this.#used[index] = 0;
  }

  /** Frees a non-current slab with nothing live in it, or compacts one under half live. */
  #settle(index: number): void {
    if (this.#live[index] === 0) this.#free(index);
    else if (this.#live[index]! < this.#used[index]! * MIN_LIVE) this.#compact(index);
  }

  #free(index: number): void {
    this.#slabs[index] = null;
    this.#used[index] = 0;
    this.#live[index] = 0;
    this.#freeSlabs.push(index);
  }

  /** Moves a slab's live records into the current slab and frees it. */
  #compact(index: number): void {
    const slab = this.#slabs[index]!;
    const used = this.#used[index]!;
    for (let at = 0; at < used;) {
      const length = recordLengthIn(slab, at);
      const slot = this.#index.slotOf(index * SLAB_SHIFT + at + 1, slab, at);
      if (slot >= 0) this.#index.moved(slot, this.#copy(slab, at, length));
      at += length;
    }
    this.#free(index);
  }

  /** Copies a raw record into the current slab; returns its new location. */
  #copy(from: Buffer, at: number, length: number): number {
    const index = this.#room(length);
    const to = this.#used[index]!;
    from.copy(this.#slabs[index]!, to, at, at + length);
    this.#used[index] = to + length;
    this.#live[index]! += length;
    return index * SLAB_SHIFT + to + 1;
  }
}
