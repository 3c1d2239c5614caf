import type { Change, ChangeType } from './change.js';

const TYPES: readonly ChangeType[] = ['put', 'delete', 'expire'];
const TYPE_CODE: Readonly<Record<ChangeType, number>> = { put: 0, delete: 1, expire: 2 };
/** An inline length saying the value was not kept (too large to travel in events). */
const NOT_KEPT = -1;

/**
 * The released changes kept for watchers that resume, oldest first, in typed arrays and one
 * byte ring rather than an object each: kept for thousands of writes, objects would outlive
 * the young generation and be copied and promoted at every scavenge (PUTs ran 8 % slower
 * with 10,000 changes kept as objects; bench/RESULTS.md). A change's key and kept value are
 * bytes in the ring; reading one back builds a {@link Change}.
 *
 * Bounded by a count of changes and by the ring's bytes: the oldest go first when either is
 * full. Indexes are absolute (they only grow); slot `i` lives at `i % capacity`.
 */
export class ChangeRing {
  readonly #maxChanges: number;
  readonly #maxBytes: number;
  #capacity = 0;
  #versions = new Float64Array(0);
  #types = new Uint8Array(0);
  #sizes = new Float64Array(0);
  #expiries = new Float64Array(0);
  #releasedAt = new Float64Array(0);
  /** Where each change's bytes start in the ring (absolute: a position that only grows). */
  #starts = new Float64Array(0);
  #keyLengths = new Uint32Array(0);
  /** The kept value's length, or NOT_KEPT. */
  #valueLengths = new Int32Array(0);
  #bytes = Buffer.alloc(0);
  /** The oldest change kept, and the next to be written. */
  #head = 0;
  #tail = 0;
  /** Where the next change's bytes go (absolute). */
  #byteEnd = 0;

  constructor(maxChanges: number, maxBytes: number) {
    this.#maxChanges = maxChanges;
    this.#maxBytes = maxBytes;
  }

  /** Changes kept. */
  get size(): number {
    return this.#tail - this.#head;
  }

  /** The absolute index of the oldest change kept (the next dropped), and past the newest. */
  get head(): number {
    return this.#head;
  }

  get tail(): number {
    return this.#tail;
  }

  versionAt(i: number): number {
    return this.#versions[i % this.#capacity]!;
  }

  releasedAt(i: number): number {
    return this.#releasedAt[i % this.#capacity]!;
  }

  /**
   * Keeps a change; returns the version of the newest change dropped to make room, or 0 when
   * none was. A change whose bytes could never fit is not kept, and returns its own version.
   */
  push(change: Change, releasedAt: number): number {
    const keyLength = Buffer.byteLength(change.key, 'utf8');
    const valueLength = change.value === null ? 0 : change.value.length;
    const length = keyLength + valueLength;
    if (this.#maxChanges === 0 || length > this.#maxBytes) return change.version;
    this.#grow(length);
    let dropped = 0;
    while (this.size >= this.#maxChanges) dropped = this.dropOldest();
    // A change's bytes never wrap: one that does not fit before the ring's end starts at the
    // next turn of it.
    let start = this.#byteEnd;
    const ring = this.#bytes.length;
    if ((start % ring) + length > ring) start += ring - (start % ring);
    while (this.size > 0 && start + length - this.#starts[this.#head % this.#capacity]! > ring)
      dropped = this.dropOldest();
    const at = start % ring;
    this.#bytes.write(change.key, at, 'utf8');
    if (change.value !== null) change.value.copy(this.#bytes, at + keyLength);
    const slot = this.#tail % this.#capacity;
    this.#versions[slot] = change.version;
    this.#types[slot] = TYPE_CODE[change.type];
    this.#sizes[slot] = change.size;
    this.#expiries[slot] = change.expiresAt;
    this.#releasedAt[slot] = releasedAt;
    this.#starts[slot] = start;
    this.#keyLengths[slot] = keyLength;
    this.#valueLengths[slot] = change.value === null ? NOT_KEPT : valueLength;
    this.#tail++;
    this.#byteEnd = start + length;
    return dropped;
  }

  /** Drops the oldest change; returns its version. */
  dropOldest(): number {
    const version = this.#versions[this.#head % this.#capacity]!;
    this.#head++;
    return version;
  }

  /** The key of change `i`, without building the rest. */
  keyAt(i: number): string {
    const slot = i % this.#capacity;
    const at = this.#starts[slot]! % this.#bytes.length;
    return this.#bytes.toString('utf8', at, at + this.#keyLengths[slot]!);
  }

  /** Change `i` (absolute, between head and tail) as an object, its value copied out. */
  at(i: number): Change {
    const slot = i % this.#capacity;
    const at = this.#starts[slot]! % this.#bytes.length;
    const keyLength = this.#keyLengths[slot]!;
    const valueLength = this.#valueLengths[slot]!;
    return {
      version: this.#versions[slot]!,
      type: TYPES[this.#types[slot]!]!,
      key: this.#bytes.toString('utf8', at, at + keyLength),
      size: this.#sizes[slot]!,
      value:
        valueLength === NOT_KEPT
          ? null
          : Buffer.from(this.#bytes.subarray(at + keyLength, at + keyLength + valueLength)),
      expiresAt: this.#expiries[slot]!,
    };
  }

  /** Makes room for one more change of `length` bytes, doubling the arrays up to the bounds. */
  #grow(length: number): void {
    if (this.#capacity < this.#maxChanges && this.size === this.#capacity) {
      this.#resize(Math.min(this.#maxChanges, Math.max(64, this.#capacity * 2)), this.#bytes.length);
    }
    let bytes = this.#bytes.length;
    while (
      bytes < this.#maxBytes &&
      this.#byteEnd -
        (this.size > 0 ? this.#starts[this.#head % this.#capacity]! : this.#byteEnd) +
        2 * length >
        bytes
    )
      bytes = Math.min(this.#maxBytes, Math.max(64 * 1024, bytes * 2));
    if (bytes !== this.#bytes.length) this.#resize(this.#capacity, bytes);
  }

  /** Copies what is kept into arrays of `capacity` slots and a ring of `bytes`, in order from 0. */
  #resize(capacity: number, bytes: number): void {
    const old = {
      capacity: this.#capacity,
      versions: this.#versions,
      types: this.#types,
      sizes: this.#sizes,
      expiries: this.#expiries,
      releasedAt: this.#releasedAt,
      starts: this.#starts,
      keyLengths: this.#keyLengths,
      valueLengths: this.#valueLengths,
      bytes: this.#bytes,
    };
    this.#capacity = capacity;
    this.#versions = new Float64Array(capacity);
    this.#types = new Uint8Array(capacity);
    this.#sizes = new Float64Array(capacity);
    this.#expiries = new Float64Array(capacity);
    this.#releasedAt = new Float64Array(capacity);
    this.#starts = new Float64Array(capacity);
    this.#keyLengths = new Uint32Array(capacity);
    this.#valueLengths = new Int32Array(capacity);
    this.#bytes = Buffer.allocUnsafe(bytes);
    let end = 0;
    for (let i = this.#head, j = 0; i < this.#tail; i++, j++) {
      const from = i % old.capacity;
      this.#versions[j] = old.versions[from]!;
      this.#types[j] = old.types[from]!;
      this.#sizes[j] = old.sizes[from]!;
      this.#expiries[j] = old.expiries[from]!;
      this.#releasedAt[j] = old.releasedAt[from]!;
      this.#keyLengths[j] = old.keyLengths[from]!;
      this.#valueLengths[j] = old.valueLengths[from]!;
      const at = old.starts[from]! % old.bytes.length;
      const length = old.keyLengths[from]! + Math.max(0, old.valueLengths[from]!);
      old.bytes.copy(this.#bytes, end, at, at + length);
      this.#starts[j] = end;
      end += length;
    }
    this.#tail -= this.#head;
    this.#head = 0;
    this.#byteEnd = end;
  }
}
