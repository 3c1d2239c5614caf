import type { PartitionSet } from '../wire/protocol.js';

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
