/** Hashes are unsigned 32-bit integers in [0, HASH_SPACE); a slice cursor that reaches it is done. */
export const HASH_SPACE = 2 ** 32;

/**
 * MurmurHash3 x86 32-bit of `bytes[start, end)`, as an unsigned integer. Written here rather
 * than taken from a library because it hashes a key where it lies (in a request's bytes, a
 * batch, a slab) without a view or copy per call: the hot path hashes every key.
 */
export function murmur3(bytes: Uint8Array, start: number, end: number, seed: number): number {
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  let h = seed | 0;
  let i = start;
  const blocks = end - ((end - start) & 3);
  for (; i < blocks; i += 4) {
    let k = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = end - i;
  if (tail > 0) {
    let k = bytes[i]!;
    if (tail > 1) k |= bytes[i + 1]! << 8;
    if (tail > 2) k |= bytes[i + 2]! << 16;
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
  }
  h ^= end - start;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
