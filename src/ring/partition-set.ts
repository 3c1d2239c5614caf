/** Some of the ring's partitions: partition p is in the set if bit p % 8 of `bits[p / 8]` is set. */
export interface PartitionSet {
  /** How many partitions the ring has. */
  partitions: number;
  bits: Uint8Array;
}

/** A set of none of a ring's `partitions`. */
export function emptyPartitionSet(partitions: number): PartitionSet {
  return { partitions, bits: new Uint8Array(Math.ceil(partitions / 8)) };
}

export function addPartition(set: PartitionSet, partition: number): void {
  set.bits[partition >>> 3]! |= 1 << (partition & 7);
}

export function hasPartition(set: PartitionSet, partition: number): boolean {
  return (set.bits[partition >>> 3]! & (1 << (partition & 7))) !== 0;
}
