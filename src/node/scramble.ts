/**
 * The odd multipliers that place keys in a node's index (src/node/record-map.ts).
 */
/**
 * The index places a key by its ring hash (murmur3, seed 0, which the front end computes and
 * sends with every operation) scrambled by an odd multiplier: a bijection that spreads the
 * low bits over the high ones. Unscrambled, a node's keys would crowd into the slots of the
 * partitions it owns, since a partition is a range of the ring hash's high bits.
 *
 * Each node scrambles with a multiplier of its own ({@link scrambleFor}). With one for all,
 * a copy between nodes (records sent in the source's index order, a slice at a time) would
 * pour each slice into one narrow range of the target's index; while the target's index is
 * smaller than the source's, linear probing then runs long, and a 300,000-record refill was
 * measured spending 80% of its time there (about 10 s instead of 1).
 */
export const INDEX_SCRAMBLE = 0x9e3779b1;

/**
 * A node's own odd multiplier (see above). `salt`, the cluster's seed, makes node n of one
 * cluster differ from node n of another: an export of one cluster (read in its nodes' index
 * order) imported into another would otherwise pour into the same narrow ranges of the
 * importing nodes' indexes (measured: a 100,000-pair import took 1.39 s against 0.56 s).
 */
export function scrambleFor(node: number, salt = 0): number {
  return (Math.imul(node + 1, 0x9e3779b1) ^ 0x85ebca6b ^ Math.imul(salt, 0x27d4eb2f)) | 1;
}

/** The inverse of an odd multiplier mod 2^32 (Newton's iteration; each step doubles the correct low bits). */
export function inverse(odd: number): number {
  return [0, 0, 0, 0, 0].reduce((x) => Math.imul(x, 2 - Math.imul(odd, x)), odd);
}
