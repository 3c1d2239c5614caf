import type { Change, ChangeType } from './change.js';

const TYPES: readonly ChangeType[] = ['put', 'delete', 'expire'];
const TYPE_CODE: Readonly<Record<ChangeType, number>> = { put: 0, delete: 1, expire: 2 };
/** An inline length saying the value was not kept (too large to travel in events). */
const NOT_KEPT = -1;

/**
 * Slots and bytes at first: a bulk write keeps up to 32,768 pairs in flight (batch-route.ts),
 * and growing by doubling copies everything each time (1 % of a bulk load's main thread).
 */
const FIRST_CAPACITY = 16_384;
const FIRST_BYTES = 1 << 20;

/**
 * Copies `source[start, end)` to `target` at `at`. A loop for the short copies of every write
 * (a key, a small value): Buffer#copy and TypedArray#set with a subarray both make a view
 * each time (7 % of a bulk load's main thread).
 */
function copyInto(target: Uint8Array, at: number, source: Uint8Array, start: number, end: number): void {
  if (end - start > 64) {
    target.set(source.subarray(start, end), at);
    return;
  }
  for (let i = start; i < end; i++) target[at++] = source[i]!;
}

/** A stamped change's state: waiting for its write's quorum, acknowledged, or failed (never an event). */
export const State = { Waiting: 0, Acknowledged: 1, Failed: 2 } as const;

/**
 * The feed's changes in typed arrays and one byte ring, in version order: the history kept
 * for watchers that resume (`head` to `released`), then the writes stamped and still waiting
 * for their outcome (`released` to `tail`). No object a change: a bulk load has tens of
 * thousands of writes in flight and a history of thousands, and as objects they outlived the
 * young generation and were copied and promoted at every scavenge (a 300,000-pair load ran at
 * 0.67 of the reference with an object a change; bench/RESULTS.md). A change's key and kept
 * value are bytes in the ring; reading one back builds a {@link Change}.
 *
 * The history is bounded by a count of changes and by the ring's bytes, the oldest dropped
 * first; waiting writes are never dropped (the ring grows for them: they are bounded by the
 * writes in flight). Indexes are absolute (they only grow); slot `i` lives at `i % capacity`.
 */
export class ChangeRing {
  readonly #maxChanges: number;
  readonly #maxBytes: number;
  #capacity = 0;
  #versions = new Float64Array(0);
  #types = new Uint8Array(0);
  #states = new Uint8Array(0);
  #sizes = new Float64Array(0);
  #expiries = new Float64Array(0);
  #releasedAt = new Float64Array(0);
  /** Where each change's bytes start (absolute: a position that only grows). */
  #starts = new Float64Array(0);
  #keyLengths = new Uint32Array(0);
  /** The kept value's length, or NOT_KEPT. */
  #valueLengths = new Int32Array(0);
  #bytes = Buffer.alloc(0);
  /** The oldest change kept; the first still waiting; the next to be stamped. */
  #head = 0;
  #released = 0;
  #tail = 0;
  /** Where the next change's bytes go (absolute). */
  #byteEnd = 0;
  #droppedThrough = 0;

  constructor(maxChanges: number, maxBytes: number) {
    this.#maxChanges = maxChanges;
    this.#maxBytes = maxBytes;
  }

  get head(): number {
    return this.#head;
  }

  /** The first change still waiting (past the newest released). */
  get released(): number {
    return this.#released;
  }

  get tail(): number {
    return this.#tail;
  }

  versionAt(i: number): number {
    return this.#versions[i % this.#capacity]!;
  }

  stateAt(i: number): number {
    return this.#states[i % this.#capacity]!;
  }

  expiresAtOf(i: number): number {
    return this.#expiries[i % this.#capacity]!;
  }

  releasedAt(i: number): number {
    return this.#releasedAt[i % this.#capacity]!;
  }

  /**
   * Stamps a change at the tail: `value` (bytes, or a byte string of one char per byte) from
   * `valueStart`, kept when `keep`; `size` its length either way.
   */
  stamp(
    version: number,
    type: ChangeType,
    keyBytes: Buffer,
    keyLength: number,
    value: Uint8Array | string | undefined,
    valueStart: number,
    keep: boolean,
    size: number,
    expiresAt: number,
  ): void {
    const valueLength = keep && value !== undefined ? value.length - valueStart : 0;
    const length = keyLength + valueLength;
    if (this.#tail - this.#head === this.#capacity)
      this.#resize(
        Math.max(FIRST_CAPACITY, this.#capacity * 2),
        Math.max(Math.min(FIRST_BYTES, this.#maxBytes), this.#bytes.length),
      );
    const start = this.#room(length);
    const at = start % this.#bytes.length;
    // Copied without a view or a slice made for it: this runs for every write.
    copyInto(this.#bytes, at, keyBytes, 0, keyLength);
    if (valueLength > 0) {
      if (typeof value === 'string')
        this.#bytes.write(valueStart === 0 ? value : value.slice(valueStart), at + keyLength, 'latin1');
      else copyInto(this.#bytes, at + keyLength, value!, valueStart, valueStart + valueLength);
    }
    const slot = this.#tail % this.#capacity;
    this.#versions[slot] = version;
    this.#types[slot] = TYPE_CODE[type];
    this.#states[slot] = State.Waiting;
    this.#sizes[slot] = size;
    this.#expiries[slot] = expiresAt;
    this.#starts[slot] = start;
    this.#keyLengths[slot] = keyLength;
    this.#valueLengths[slot] = keep && value !== undefined ? valueLength : NOT_KEPT;
    this.#tail++;
    this.#byteEnd = start + length;
  }

  /**
   * Where `length` more bytes go: never wrapping (a change that does not fit before the ring's
   * end starts at its next turn); room made by dropping the oldest released changes, else by
   * growing the ring.
   */
  #room(length: number): number {
    for (;;) {
      const ring = this.#bytes.length;
      let start = this.#byteEnd;
      if (ring > 0 && (start % ring) + length > ring) start += ring - (start % ring);
      const oldest = this.#tail > this.#head ? this.#starts[this.#head % this.#capacity]! : start;
      if (ring > 0 && start + length - oldest <= ring) return start;
      // Grow while under the bound, or when only waiting writes hold the ring.
      if (ring < this.#maxBytes || this.#released === this.#head) {
        const used = this.#byteEnd - oldest;
        this.#resize(this.#capacity, Math.max(64 * 1024, ring * 2, 2 * (used + length)));
      } else this.dropOldest();
    }
  }

  /** Settles change `i` (between released and tail). */
  settle(i: number, state: typeof State.Acknowledged | typeof State.Failed): void {
    this.#states[i % this.#capacity] = state;
  }

  /** Marks the oldest waiting change released, at `now`. */
  release(now: number): void {
    this.#releasedAt[this.#released % this.#capacity] = now;
    this.#released++;
  }

  /** Drops the history past the count. */
  dropOverCount(): void {
    while (this.#released - this.#head > this.#maxChanges) this.dropOldest();
  }

  /** Changes of the history kept. */
  get kept(): number {
    return this.#released - this.#head;
  }

  /** Drops the oldest change of the history (never a waiting one); returns its version. */
  dropOldest(): number {
    const version = this.#versions[this.#head % this.#capacity]!;
    this.#head++;
    this.#droppedThrough = version;
    return version;
  }

  /** The newest version dropped (for the count, the bytes or the age), or 0: none is kept at or below it. */
  get droppedThrough(): number {
    return this.#droppedThrough;
  }

  /** The key of change `i`, without building the rest. */
  keyAt(i: number): string {
    const slot = i % this.#capacity;
    const at = this.#starts[slot]! % this.#bytes.length;
    return this.#bytes.toString('utf8', at, at + this.#keyLengths[slot]!);
  }

  /** Change `i` as an object, its value copied out; `key` when the caller has it already. */
  at(i: number, key = this.keyAt(i)): Change {
    const slot = i % this.#capacity;
    const at = this.#starts[slot]! % this.#bytes.length;
    const keyLength = this.#keyLengths[slot]!;
    const valueLength = this.#valueLengths[slot]!;
    return {
      version: this.#versions[slot]!,
      type: TYPES[this.#types[slot]!]!,
      key,
      size: this.#sizes[slot]!,
      value:
        valueLength === NOT_KEPT
          ? null
          : Buffer.from(this.#bytes.subarray(at + keyLength, at + keyLength + valueLength)),
      expiresAt: this.#expiries[slot]!,
    };
  }

  /** Copies every change into arrays of `capacity` slots and a ring of `bytes`. */
  #resize(capacity: number, bytes: number): void {
    const old = {
      capacity: this.#capacity,
      versions: this.#versions,
      types: this.#types,
      states: this.#states,
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
    this.#states = new Uint8Array(capacity);
    this.#sizes = new Float64Array(capacity);
    this.#expiries = new Float64Array(capacity);
    this.#releasedAt = new Float64Array(capacity);
    this.#starts = new Float64Array(capacity);
    this.#keyLengths = new Uint32Array(capacity);
    this.#valueLengths = new Int32Array(capacity);
    this.#bytes = Buffer.allocUnsafe(bytes);
    let end = 0;
    // Indexes stay as they were (a caller may hold one); slots move to `i % capacity`, and
    // the bytes to the ring's start, in order.
    for (let i = this.#head; i < this.#tail; i++) {
      const from = i % old.capacity;
      const j = i % capacity;
      this.#versions[j] = old.versions[from]!;
      this.#types[j] = old.types[from]!;
      this.#states[j] = old.states[from]!;
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
    this.#byteEnd = end;
  }
}
