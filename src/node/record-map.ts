import { Written, type WriteOutcome } from '../wire/protocol.js';
import { HASH_SPACE, murmur3 } from '../ring/murmur3.js';
import {
  EXPIRES,
  EXPIRY,
  EXTERNAL,
  expiryBytesIn,
  HEADER,
  heldValueBytesIn,
  MAX_KEY_BYTES,
  offsetOf,
  recordDigest,
  SLAB_SHIFT,
  TOMBSTONE,
  valueLengthIn,
} from './record.js';
import { INDEX_SCRAMBLE, inverse } from './scramble.js';
import { Slabs } from './slabs.js';

/** Seed of the second key hash, {@link RecordMap.fingerprintAt}: any but the ring's 0. */
const FINGERPRINT_SEED = 0x2545f491;

/** Grow the index when it is this full. */
const MAX_LOAD = 0.75;
/**
 * A hash map from keys (UTF-8 bytes, with their ring hash) to versioned byte values that
 * keeps its records in large off-heap slabs (src/node/slabs.ts) instead of one JS string pair
 * per entry. A V8 Map of short strings costs about 250 bytes of RSS per uuid→uuid record
 * here (two string objects, the Map's entry and bucket, and the garbage collector's slack);
 * this costs the record's bytes plus a 14-byte header (src/node/record.ts) and about 20
 * bytes of index. A deleted key can stay as a tombstone (a record with no value) so that an
 * older write arriving later cannot bring it back.
 *
 * The index is open addressing with linear probing over two typed arrays: the record's
 * location and its key's hash (so probes rarely touch a record and growing never rehashes
 * a key). Deletion shifts the probe run back instead of leaving tombstones. Overwrites of
 * the same length happen in place; others append. Text keys: `ByteMap`
 * (src/node/byte-map.ts).
 */
export class RecordMap {
  /** Where the records live; this index points into them. */
  readonly #slabs: Slabs;
  #locations: Float64Array;
  #hashes: Uint32Array;
  #mask: number;
  /** 32 − log2(slots): a hash's home slot is `hash >>> #shift`. */
  #shift: number;
  #size = 0;
  #tombstones = 0;
  #bytes = 0;
  /** Bytes of the keys of every record, tombstones too. */
  #keyBytes = 0;
  /** Records of values that expire (expired or not). */
  #expiring = 0;
  /** No value here expires before this (Unix ms): a lower bound, tightened by each expiry scan. */
  #earliestExpiry = Infinity;
  /** The earliest expiry stored since the expiry scan under way began. */
  #earliestSinceScan = Infinity;
  /** Per partition, the XOR of its records' digests (see {@link recordDigest}). */
  readonly #digests: Uint32Array;
  /** Per partition, its records (tombstones too) and their key and value bytes. */
  readonly #partitionRecords: Uint32Array;
  readonly #partitionBytes: Float64Array;
  /** Ring hashes per partition. */
  readonly #span: number;
  /** The index's multiplier and its inverse (see {@link scrambleFor}). */
  readonly #scramble: number;
  readonly #unscramble: number;

  /** Values live in the storage backend: records keep their lengths, not their bytes. */
  readonly #external: boolean;

  /** Told the index hash of every key that takes a new slot, while set (see {@link watchInserts}). */
  #onInsert: ((indexHash: number) => void) | null = null;

  /**
   * @param options.slabBytes size of a slab; a larger record gets one of its own. Default 4 MiB.
   * @param options.initialSlots index slots to start with (rounded up to a power of two). Default 1024.
   * @param options.partitions the ring's partitions, each with its own digest. Default 1024.
   * @param options.scramble the index's odd multiplier. Default {@link INDEX_SCRAMBLE}.
   * @param options.external values live in the storage backend (src/storage/values.ts): each
   *   record keeps its value's length and not its bytes ({@link EXTERNAL}). Default false.
   */
  constructor(
    options: {
      slabBytes?: number;
      initialSlots?: number;
      partitions?: number;
      scramble?: number;
      external?: boolean;
    } = {},
  ) {
    const {
      slabBytes = 4 << 20,
      initialSlots = 1024,
      partitions = 1024,
      scramble = INDEX_SCRAMBLE,
      external = false,
    } = options;
    this.#external = external;
    if (!Number.isInteger(scramble) || (scramble & 1) === 0) {
      throw new RangeError(`scramble must be an odd integer, got ${scramble}`);
    }
    this.#scramble = scramble;
    this.#unscramble = inverse(scramble);
    this.#digests = new Uint32Array(partitions);
    this.#partitionRecords = new Uint32Array(partitions);
    this.#partitionBytes = new Float64Array(partitions);
    this.#span = HASH_SPACE / partitions;
    if (!Number.isInteger(slabBytes) || slabBytes < 64)
      throw new RangeError(`slabBytes must be an integer ≥ 64, got ${slabBytes}`);
    this.#slabs = new Slabs(slabBytes, {
      slotOf: (location, slab, at) => {
        const keyLength = slab[at]! | (slab[at + 1]! << 8);
        return this.#slotOf(location, this.#slotHash(murmur3(slab, at + HEADER, at + HEADER + keyLength, 0)));
      },
      moved: (slot, location) => (this.#locations[slot] = location),
    });
    const slots = 2 ** Math.ceil(Math.log2(Math.max(16, initialSlots)));
    this.#locations = new Float64Array(slots);
    this.#hashes = new Uint32Array(slots);
    this.#mask = slots - 1;
    this.#shift = 32 - Math.log2(slots);
  }

  /** Where the index places a ring hash. */
  #slotHash(hash: number): number {
    return Math.imul(hash, this.#scramble) >>> 0;
  }

  /** The ring hash of a key, from the hash {@link visitRange} passes (which is scrambled). */
  ringHashOf(visitedHash: number): number {
    return Math.imul(visitedHash, this.#unscramble) >>> 0;
  }

  /**
   * Calls `watch` with the index hash (the hash {@link visitRange} passes) of every key that
   * takes a new slot from now on, a value or a tombstone, until called with null. Writes over
   * a key already held (its tombstone too) are not told. For a key order kept beside the
   * map (src/node/key-order.ts): with no watcher, a write pays one null check.
   */
  watchInserts(watch: ((indexHash: number) => void) | null): void {
    this.#onInsert = watch;
  }

  /**
   * A second hash of the key at `location` (murmur3 with another seed): with the index hash,
   * 64 bits that tell one key from another without holding its bytes or its location,
   * which moves (see {@link locateEntry}).
   */
  fingerprintAt(location: number): number {
    const slab = this.#slabs.slabOf(location);
    const at = offsetOf(location) + HEADER;
    return murmur3(slab, at, at + (slab[at - HEADER]! | (slab[at - HEADER + 1]! << 8)), FINGERPRINT_SEED);
  }

  /**
   * The location of the record whose key has this index hash and {@link fingerprintAt}, or
   * 0 when none has (the key has been removed). Two keys alike in both would be taken one
   * for the other: a chance of about 2^-64 for each pair of keys.
   */
  locateEntry(indexHash: number, fingerprint: number): number {
    const mask = this.#mask;
    for (let slot = indexHash >>> this.#shift; ; slot = (slot + 1) & mask) {
      const location = this.#locations[slot]!;
      if (location === 0) return 0;
      if (this.#hashes[slot] === indexHash && this.fingerprintAt(location) === fingerprint) return location;
    }
  }

  /**
   * Describes the key at `location` in three words written to `target` from `offset`: its
   * {@link fingerprintAt}, then its first 8 bytes as two big-endian words (bytes past its
   * end read as 0), which order keys as their bytes do where they differ. One read of the
   * record, for a key order's entries (src/node/key-order.ts).
   */
  describeKeyAt(location: number, target: Uint32Array, offset: number): void {
    const slab = this.#slabs.slabOf(location);
    const at = offsetOf(location) + HEADER;
    const length = slab[at - HEADER]! | (slab[at - HEADER + 1]! << 8);
    target[offset] = murmur3(slab, at, at + length, FINGERPRINT_SEED);
    let high = 0;
    let low = 0;
    for (let i = 0; i < 4; i++) high = high * 256 + (i < length ? slab[at + i]! : 0);
    for (let i = 4; i < 8; i++) low = low * 256 + (i < length ? slab[at + i]! : 0);
    target[offset + 1] = high;
    target[offset + 2] = low;
  }

  /** Calls `visit(location)` for every record whose key has this index hash (nearly always one, or none). */
  visitIndexHash(indexHash: number, visit: (location: number) => void): void {
    const mask = this.#mask;
    for (let slot = indexHash >>> this.#shift; ; slot = (slot + 1) & mask) {
      const location = this.#locations[slot]!;
      if (location === 0) return;
      if (this.#hashes[slot] === indexHash) visit(location);
    }
  }

  /** Number of keys holding a value (tombstones not counted). */
  get size(): number {
    return this.#size;
  }

  /** Number of tombstones. */
  get tombstones(): number {
    return this.#tombstones;
  }

  /** Records of values that expire, expired ones included until purged. */
  get expiring(): number {
    return this.#expiring;
  }

  /** No value here expires before this, Unix ms (Infinity: none expires). A lower bound. */
  get earliestExpiry(): number {
    return this.#expiring === 0 ? Infinity : this.#earliestExpiry;
  }

  /** An expiry scan begins: a pass over every record (see {@link endExpiryScan}). */
  beginExpiryScan(): void {
    this.#earliestSinceScan = Infinity;
  }

  /**
   * An expiry scan has visited every record, and found none that expires before `earliest`
   * (Unix ms) that it left in place: the bound becomes that, or an expiry stored since the
   * scan began, whichever is earlier.
   */
  endExpiryScan(earliest: number): void {
    this.#earliestExpiry = Math.min(earliest, this.#earliestSinceScan);
  }

  /** Bytes of the keys (UTF-8) of every record, tombstones too. */
  get keyBytes(): number {
    return this.#keyBytes;
  }

  /** Bytes of the keys (UTF-8) and values of keys holding a value. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Per partition, a digest of its records: the XOR of each record's {@link recordDigest}
   * (key hash, version, tombstone or not). Kept as records change, so two replicas of a
   * partition hold the same records exactly when (but for a 2^-32 chance) their digests
   * agree, and comparing them costs 4 bytes a partition, not a pass over the data.
   */
  get digests(): Uint32Array {
    return this.#digests;
  }

  /** Per partition, how many records (tombstones too) it holds, and their key and value bytes. */
  get partitionRecords(): Uint32Array {
    return this.#partitionRecords;
  }

  get partitionBytes(): Float64Array {
    return this.#partitionBytes;
  }

  /** True when values live in the storage backend and records hold only their lengths. */
  get external(): boolean {
    return this.#external;
  }

  /** Memory this map holds outside the JS heap: slabs and index. */
  get allocatedBytes(): number {
    return this.#locations.byteLength + this.#hashes.byteLength + this.#slabs.allocatedBytes;
  }

  /**
   * The location of the key `src[start, start + length)` whose ring hash is `hash`, or 0 when
   * absent. Read the record with {@link isTombstoneAt}, {@link versionAt},
   * {@link valueLengthAt} and {@link copyValueAt}.
   */
  locate(src: Uint8Array, start: number, length: number, hash: number): number {
    const slot = this.#find(src, start, length, this.#slotHash(hash));
    return slot < 0 ? 0 : this.#locations[slot]!;
  }

  /**
   * Writes `value[valueStart, valueStart + valueLength)` (or, when `value` is null, a
   * tombstone) under the key `src[start, start + length)` with `version`, unless the stored
   * record's version is as new or newer: the newest version wins whatever order writes
   * arrive in, the same on every replica. At the same version a tombstone wins over a value:
   * that is an expired value cleared (one write, its bytes dropped), wherever it is cleared
   * first. With `force`, writes whatever is stored.
   *
   * `expiresAt`: when the value expires (Unix ms; 0, never). `asOf`: the time (Unix ms) at
   * which to judge whether the value written over had expired, for the outcome.
   */
  store(
    src: Uint8Array,
    start: number,
    length: number,
    hash: number,
    value: Uint8Array | null,
    valueStart: number,
    valueLength: number,
    version: number,
    force = false,
    expiresAt = 0,
    asOf = 0,
  ): WriteOutcome {
    const mixed = this.#slotHash(hash);
    const slot = this.#find(src, start, length, mixed);
    const tombstone = value === null;
    if (tombstone) valueLength = expiresAt = 0;
    const expiry = expiresAt === 0 ? 0 : EXPIRY;
    if (expiry !== 0) {
      this.#earliestExpiry = Math.min(this.#earliestExpiry, expiresAt);
      this.#earliestSinceScan = Math.min(this.#earliestSinceScan, expiresAt);
    }
    const partition = Math.floor(hash / this.#span);
    if (slot >= 0) {
      const location = this.#locations[slot]!;
      const slab = this.#slabs.slabOf(location);
      const at = offsetOf(location);
      const oldVersion = slab.readDoubleLE(at + 6);
      const wasLive = slab.readUInt32LE(at + 2) !== TOMBSTONE;
      if (!force && (oldVersion > version || (oldVersion === version && !(tombstone && wasLive)))) {
        return Written.Stale;
      }
      const oldExpiry = expiryBytesIn(slab, at);
      // A value past its expiry counts as absent for the outcome, as it reads.
      const wasPresent = wasLive && (oldExpiry === 0 || slab.readDoubleLE(at + HEADER + length) > asOf);
      this.#digests[partition]! ^=
        recordDigest(hash, oldVersion, !wasLive) ^ recordDigest(hash, version, tombstone);
      const oldLength = valueLengthIn(slab, at);
      const oldHeld = heldValueBytesIn(slab, at);
      const held = tombstone || this.#external ? 0 : valueLength;
      this.#partitionBytes[partition]! += valueLength - oldLength;
      this.#count(wasLive, -1, length + oldLength, oldExpiry);
      this.#count(!tombstone, 1, length + valueLength, expiry);
      if (oldHeld === held && oldExpiry === expiry) {
        slab.writeUInt32LE(
          tombstone
            ? TOMBSTONE
            : (valueLength | (expiry === 0 ? 0 : EXPIRES) | (this.#external ? EXTERNAL : 0)) >>> 0,
          at + 2,
        );
        slab.writeDoubleLE(version, at + 6);
        if (expiry !== 0) slab.writeDoubleLE(expiresAt, at + HEADER + length);
        if (held !== 0)
          slab.set(value!.subarray(valueStart, valueStart + valueLength), at + HEADER + length + expiry);
        return wasPresent ? Written.WasLive : Written.WasAbsent;
      }
      const fresh = this.#slabs.append(
        src,
        start,
        length,
        value,
        valueStart,
        valueLength,
        version,
        expiresAt,
        this.#external,
      );
      // Appending may have retired and compacted the slab holding the old record, moving
      // it: release it where it is now, not where it was.
      const moved = this.#locations[slot]!;
      this.#locations[slot] = fresh;
      this.#slabs.release(moved, HEADER + length + oldExpiry + oldHeld);
      return wasPresent ? Written.WasLive : Written.WasAbsent;
    }
    if (length > MAX_KEY_BYTES)
      throw new RangeError(`key is ${length} bytes; a RecordMap holds at most ${MAX_KEY_BYTES}`);
    const free = ~slot;
    this.#digests[partition]! ^= recordDigest(hash, version, tombstone);
    this.#partitionRecords[partition]!++;
    this.#partitionBytes[partition]! += length + valueLength;
    this.#keyBytes += length;
    this.#hashes[free] = mixed;
    this.#locations[free] = this.#slabs.append(
      src,
      start,
      length,
      value,
      valueStart,
      valueLength,
      version,
      expiresAt,
      this.#external,
    );
    this.#count(!tombstone, 1, length + valueLength, expiry);
    if (this.#size + this.#tombstones > this.#locations.length * MAX_LOAD) this.#grow();
    if (this.#onInsert !== null) this.#onInsert(mixed);
    return Written.WasAbsent;
  }

  /** Adds (`sign` 1) or takes away (−1) one record of `bytes` key and value bytes. */
  #count(live: boolean, sign: 1 | -1, bytes: number, expiry: number): void {
    if (live) {
      this.#size += sign;
      this.#bytes += sign * bytes;
      if (expiry !== 0) this.#expiring += sign;
    } else this.#tombstones += sign;
  }

  /**
   * Removes the record of the key `src[start, start + length)`, value or tombstone, leaving
   * nothing behind; with `onlyPurgeableOf`, only a tombstone or a value that expires, of
   * exactly that version (a purge, which a newer write in between must not undo). True if a
   * record was removed.
   */
  remove(src: Uint8Array, start: number, length: number, hash: number, onlyPurgeableOf?: number): boolean {
    const slot = this.#find(src, start, length, this.#slotHash(hash));
    if (slot < 0) return false;
    const location = this.#locations[slot]!;
    const slab = this.#slabs.slabOf(location);
    const at = offsetOf(location);
    const live = slab.readUInt32LE(at + 2) !== TOMBSTONE;
    const version = slab.readDoubleLE(at + 6);
    const expiry = expiryBytesIn(slab, at);
    if (onlyPurgeableOf !== undefined && ((live && expiry === 0) || version !== onlyPurgeableOf))
      return false;
    const partition = Math.floor(hash / this.#span);
    this.#digests[partition]! ^= recordDigest(hash, version, !live);
    this.#partitionRecords[partition]!--;
    this.#keyBytes -= length;
    const valueLength = valueLengthIn(slab, at);
    this.#partitionBytes[partition]! -= length + valueLength;
    this.#count(live, -1, length + valueLength, expiry);
    this.#removeSlot(slot);
    this.#slabs.release(location, HEADER + length + expiry + heldValueBytesIn(slab, at));
    return true;
  }

  /** True if the record at a location (from {@link locate} or {@link visitRange}) is a tombstone. */
  isTombstoneAt(location: number): boolean {
    const slab = this.#slabs.slabOf(location);
    const at = offsetOf(location);
    return slab.readUInt32LE(at + 2) === TOMBSTONE;
  }

  /** The version of the record at a location. */
  versionAt(location: number): number {
    const slab = this.#slabs.slabOf(location);
    const at = offsetOf(location);
    return slab.readDoubleLE(at + 6);
  }

  /** The key's length in bytes at a location. */
  keyLengthAt(location: number): number {
    const slab = this.#slabs.slabOf(location);
    const at = offsetOf(location);
    return slab[at]! | (slab[at + 1]! << 8);
  }

  /** Copies the key's bytes at `location` into `target` at `offset`. */
  copyKeyAt(location: number, target: Uint8Array, offset: number): void {
    const slab = this.#slabs.slabOf(location);
    const at = offsetOf(location);
    slab.copy(target, offset, at + HEADER, at + HEADER + (slab[at]! | (slab[at + 1]! << 8)));
  }

  /** When the value at a location expires, Unix ms; 0 when it never does (or a tombstone). */
  expiresAtOf(location: number): number {
    const slab = this.#slabs.slabOf(location);
    const at = offsetOf(location);
    return expiryBytesIn(slab, at) === 0
      ? 0
      : slab.readDoubleLE(at + HEADER + (slab[at]! | (slab[at + 1]! << 8)));
  }

  /** True if the record at a location holds a value not expired at `asOf` (Unix ms). */
  isLiveAt(location: number, asOf: number): boolean {
    if (this.isTombstoneAt(location)) return false;
    const expiresAt = this.expiresAtOf(location);
    return expiresAt === 0 || expiresAt > asOf;
  }

  /** The value's length at a location (0 for a tombstone). */
  valueLengthAt(location: number): number {
    const slab = this.#slabs.slabOf(location);
    const at = offsetOf(location);
    return valueLengthIn(slab, at);
  }

  /**
   * Copies the value at `location` into `target` at `offset`; returns its length. Only for a
   * record that holds its value (a map that is not {@link external}).
   */
  copyValueAt(location: number, target: Uint8Array, offset: number): number {
    const slab = this.#slabs.slabOf(location);
    const at = offsetOf(location);
    const start = at + HEADER + (slab[at]! | (slab[at + 1]! << 8)) + expiryBytesIn(slab, at);
    const length = heldValueBytesIn(slab, at);
    slab.copy(target, offset, start, start + length);
    return length;
  }

  /**
   * Calls `visit(hash, location)` for every key whose hash lies in `[from, end)`, where `end`
   * is chosen so that about `slots` index slots are read; returns `end` ({@link HASH_SPACE}
   * once the whole map is covered). Start at 0 and pass each answer back as the next `from`:
   * every key present throughout is visited exactly once, however the map grows or shrinks
   * in between, because the cursor is a hash, not a slot. A location is read with
   * {@link keyAt}, {@link keyBytesAt} and {@link valueAt}, and is valid until the next change.
   */
  visitRange(from: number, slots: number, visit: (hash: number, location: number) => void): number {
    const size = this.#mask + 1;
    const first = from >>> this.#shift;
    const last = Math.min(size, first + Math.max(1, slots)); // home slots [first, last)
    const end = last === size ? HASH_SPACE : last * 2 ** this.#shift;
    const locations = this.#locations;
    const hashes = this.#hashes;
    // Keys homed in the range sit at their home or later in its probe run, which may run
    // past `last` and, at the end of the table, wrap around to slot 0.
    const span = last - first;
    for (let i = first, steps = 0; steps < size; i = (i + 1) & this.#mask, steps++) {
      const location = locations[i]!;
      if (location === 0) {
        if (steps >= span) break; // past the range and at the end of its last probe run
        continue;
      }
      const hash = hashes[i]!;
      if (hash >= from && hash < end) visit(hash, location);
    }
    return end;
  }

  /** The key of the record at `location` (see {@link visitRange}). */
  keyAt(location: number): string {
    const slab = this.#slabs.slabOf(location);
    const at = offsetOf(location);
    return slab.toString('utf8', at + HEADER, at + HEADER + (slab[at]! | (slab[at + 1]! << 8)));
  }

  /**
   * Compares the key at `location` with `other` (UTF-8 bytes) in byte order; with `prefix`,
   * only the key's first `other.length` bytes count, so 0 means "starts with". Reads the
   * stored bytes in place: listing tests millions of keys without decoding one.
   */
  compareKeyAt(location: number, other: Uint8Array, prefix = false): number {
    const index = Math.floor(location / SLAB_SHIFT);
    const slab = this.#slabs.slabAt(index);
    const at = location - index * SLAB_SHIFT - 1;
    const length = slab[at]! | (slab[at + 1]! << 8);
    const n = Math.min(length, other.length);
    for (let i = 0, from = at + HEADER; i < n; i++) {
      const d = slab[from + i]! - other[i]!;
      if (d !== 0) return d;
    }
    return prefix && length >= other.length ? 0 : length - other.length;
  }

  /** Compares the keys at two locations in byte order. */
  compareKeysAt(a: number, b: number): number {
    const ia = Math.floor(a / SLAB_SHIFT);
    const ib = Math.floor(b / SLAB_SHIFT);
    const sa = this.#slabs.slabAt(ia);
    const sb = this.#slabs.slabAt(ib);
    const at = a - ia * SLAB_SHIFT - 1;
    const bt = b - ib * SLAB_SHIFT - 1;
    const la = sa[at]! | (sa[at + 1]! << 8);
    const lb = sb[bt]! | (sb[bt + 1]! << 8);
    const n = Math.min(la, lb);
    for (let i = 0; i < n; i++) {
      const d = sa[at + HEADER + i]! - sb[bt + HEADER + i]!;
      if (d !== 0) return d;
    }
    return la - lb;
  }

  /** The value byte string at `location`. */
  valueAt(location: number): string {
    const slab = this.#slabs.slabOf(location);
    const at = offsetOf(location);
    const start = at + HEADER + (slab[at]! | (slab[at + 1]! << 8)) + expiryBytesIn(slab, at);
    return slab.toString('latin1', start, start + heldValueBytesIn(slab, at));
  }

  /** The key of the record at `location` as a byte string (one char per byte): a Map key for its bytes. */
  keyNameAt(location: number): string {
    const slab = this.#slabs.slabOf(location);
    const at = offsetOf(location);
    return slab.toString('latin1', at + HEADER, at + HEADER + (slab[at]! | (slab[at + 1]! << 8)));
  }

  /** The slot holding the key `src[start, start + length)`, or ~slot of the empty slot where it would go. */
  #find(src: Uint8Array, start: number, length: number, mixed: number): number {
    const mask = this.#mask;
    for (let slot = mixed >>> this.#shift; ; slot = (slot + 1) & mask) {
      const location = this.#locations[slot]!;
      if (location === 0) return ~slot;
      if (this.#hashes[slot] !== mixed) continue;
      const slab = this.#slabs.slabOf(location);
      const at = offsetOf(location);
      if ((slab[at]! | (slab[at + 1]! << 8)) !== length) continue;
      let i = 0;
      const from = at + HEADER;
      while (i < length && slab[from + i] === src[start + i]) i++;
      if (i === length) return slot;
    }
  }

  /** The slot pointing at `location`, or -1 when no slot does (the record is dead). */
  #slotOf(location: number, hash: number): number {
    const mask = this.#mask;
    for (let slot = hash >>> this.#shift; ; slot = (slot + 1) & mask) {
      const here = this.#locations[slot]!;
      if (here === 0) return -1;
      if (here === location) return slot;
    }
  }

  /** Empties a slot, shifting later entries of its probe run back so lookups never stop early. */
  #removeSlot(slot: number): void {
    const mask = this.#mask;
    let hole = slot;
    for (let next = (hole + 1) & mask; this.#locations[next] !== 0; next = (next + 1) & mask) {
      const home = this.#hashes[next]! >>> this.#shift;
      // The entry at `next` may move into the hole unless its home lies cyclically in (hole, next].
      const stays = hole <= next ? hole < home && home <= next : hole < home || home <= next;
      if (stays) continue;
      this.#locations[hole] = this.#locations[next]!;
      this.#hashes[hole] = this.#hashes[next]!;
      hole = next;
    }
    this.#locations[hole] = 0;
  }

  /** Doubles the index, placing entries by their stored hashes. */
  #grow(): void {
    const oldLocations = this.#locations;
    const oldHashes = this.#hashes;
    const slots = oldLocations.length * 2;
    this.#locations = new Float64Array(slots);
    this.#hashes = new Uint32Array(slots);
    this.#mask = slots - 1;
    this.#shift--;
    for (let i = 0; i < oldLocations.length; i++) {
      const location = oldLocations[i]!;
      if (location === 0) continue;
      let slot = oldHashes[i]! >>> this.#shift;
      while (this.#locations[slot] !== 0) slot = (slot + 1) & this.#mask;
      this.#locations[slot] = location;
      this.#hashes[slot] = oldHashes[i]!;
    }
  }
}
