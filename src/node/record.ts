/**
 * The layout of one record in a slab (src/node/record-map.ts): `[key length u16][value length
 * u32][version f64][key UTF-8]([expiry f64])[value bytes]`, and where a record lives. A record
 * whose value lives in the storage backend ({@link EXTERNAL}) ends after the expiry.
 */
/** Record header: key length (u16), value length (u32) or {@link TOMBSTONE}, version (f64). */
export const HEADER = 14;
/** The value length that marks a tombstone: a deleted key's record, with no value bytes. */
export const TOMBSTONE = 0xffffffff;
/**
 * A value length with this bit set marks a value that expires: the record holds its expiry
 * (f64, Unix ms) between the key and the value. Values stay below 1 GiB
 * ({@link MAX_VALUE_BYTES}, which limits.ts holds `--max-value-bytes` to).
 */
export const EXPIRES = 0x80000000;
/**
 * A value length with this bit set marks a value whose bytes live in the storage backend
 * (src/storage/values.ts), not in the record: the length still counts, the bytes are not here.
 */
export const EXTERNAL = 0x40000000;
/** Bytes of an expiry in a record. */
export const EXPIRY = 8;
/**
 * Largest value a record can hold: its length must leave the {@link EXPIRES} and
 * {@link EXTERNAL} bits clear, and with both set must not read as a {@link TOMBSTONE}.
 */
export const MAX_VALUE_BYTES = 0x3ffffffe;
/** The bits of a length word that hold the value's length. */
const LENGTH_BITS = 0x3fffffff;

/** Bytes of the value of the record at `at` (held here or in the backend): 0 for a tombstone. */
export function valueLengthIn(slab: Buffer, at: number): number {
  const length = slab.readUInt32LE(at + 2);
  return length === TOMBSTONE ? 0 : length & LENGTH_BITS;
}

/** Bytes of value the record at `at` holds itself: 0 for a tombstone or an {@link EXTERNAL} value. */
export function heldValueBytesIn(slab: Buffer, at: number): number {
  const length = slab.readUInt32LE(at + 2);
  return length === TOMBSTONE || length & EXTERNAL ? 0 : length & LENGTH_BITS;
}

/** Bytes of expiry in the record at `at`: {@link EXPIRY} for a value that expires, else 0. */
export function expiryBytesIn(slab: Buffer, at: number): number {
  const length = slab.readUInt32LE(at + 2);
  return length !== TOMBSTONE && length & EXPIRES ? EXPIRY : 0;
}

/** The whole record's bytes at `at`. */
export function recordLengthIn(slab: Buffer, at: number): number {
  return HEADER + (slab[at]! | (slab[at + 1]! << 8)) + expiryBytesIn(slab, at) + heldValueBytesIn(slab, at);
}
/** Largest key a record can hold. */
export const MAX_KEY_BYTES = 0xffff;

/** A location is slab × 2^32 + offset + 1, so 0 can mean "empty slot". */
export const SLAB_SHIFT = 2 ** 32;

/**
 * Where in its slab the record at `location` starts. A location is slab × 2^32 + offset + 1,
 * so no pair is allocated to say both: reading a record takes no garbage.
 */
export function offsetOf(location: number): number {
  return (location - 1) % SLAB_SHIFT;
}

/** One record's part of its partition's digest: its key's ring hash, version and kind, mixed. */
export function recordDigest(hash: number, version: number, tombstone: boolean): number {
  let h = Math.imul(hash ^ (version >>> 0), 0xcc9e2d51);
  h = (h << 15) | (h >>> 17);
  h = Math.imul(h ^ Math.floor(version / 2 ** 32) ^ (tombstone ? 0x5bd1e995 : 0), 0x1b873593);
  return (h ^ (h >>> 16)) >>> 0;
}
