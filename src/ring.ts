import { KeyBytes } from './key-bytes.js';
import { HASH_SPACE } from './murmur3.js';

/** How a {@link Ring} is laid out. */
export interface RingOptions {
  /** Number of nodes, 1 or more. */
  nodes: number;
  /**
   * Number of equal partitions the 32-bit hash space is cut into (Dynamo's "strategy 3",
   * Redis Cluster's hash slots); each is owned by one node. Must be at least `nodes`.
   * Default 1024: 3 nodes then own 342/341/341 partitions, a 1.002 max/mean split.
   */
  partitions?: number;
  /**
   * Copies of each key, on distinct nodes: the length of every preference list, 1 to
   * `nodes`. Default 1.
   */
  replicas?: number;
}

/** Where a key lives. */
export interface Location {
  hash: number;
  partition: number;
  /** The first node of the preference list. */
  node: number;
  /** The nodes holding the key, in preference order. */
  replicas: number[];
}

/**
 * The consistent-hash ring: murmur3 (x86, 32-bit) of the key's UTF-8 bytes picks one of
 * `partitions` equal ranges of the hash space, and a table says which node owns each range.
 * Equal ranges make the split even by construction (hashed virtual-node tokens need thousands
 * per node to get within 5%) and make the lookup a division instead of a binary search.
 *
 * Each partition's preference list is its owner, then the owners of the partitions after it
 * on the ring, skipping nodes already listed (Dynamo's rule, so the copies sit on distinct
 * nodes), until it holds `replicas` nodes. The lists are kept as an explicit table.
 * Pure: no I/O, no globals.
 */
export class Ring {
  readonly nodes: number;
  readonly partitions: number;
  readonly replicas: number;
  /** owner[p] is the node that owns partition p. */
  readonly #owner: Uint16Array;
  /** preference[p × replicas + i] is the i-th node of partition p's preference list. */
  readonly #preference: Uint16Array;
  readonly #span: number;
  readonly #key = new KeyBytes();

  constructor(options: RingOptions) {
    const { nodes, partitions = 1024, replicas = 1 } = options;
    if (!Number.isInteger(nodes) || nodes < 1 || nodes > 1024) {
      throw new RangeError(`nodes must be an integer from 1 to 1024, got ${nodes}`);
    }
    if (!Number.isInteger(partitions) || partitions < nodes || partitions > 65536) {
      throw new RangeError(`partitions must be an integer from nodes (${nodes}) to 65536, got ${partitions}`);
    }
    if (!Number.isInteger(replicas) || replicas < 1 || replicas > nodes) {
      throw new RangeError(`replicas must be an integer from 1 to nodes (${nodes}), got ${replicas}`);
    }
    this.nodes = nodes;
    this.partitions = partitions;
    this.replicas = replicas;
    this.#span = HASH_SPACE / partitions;
    this.#owner = new Uint16Array(partitions);
    // Round-robin keeps neighbouring partitions on different nodes and every node's share
    // within one partition of the others'.
    for (let p = 0; p < partitions; p++) this.#owner[p] = p % nodes;
    this.#preference = new Uint16Array(partitions * replicas);
    for (let p = 0; p < partitions; p++) {
      const list = this.#preference.subarray(p * replicas, (p + 1) * replicas);
      for (let q = p, found = 0; found < replicas; q = (q + 1) % partitions) {
        const node = this.#owner[q]!;
        if (!list.subarray(0, found).includes(node)) list[found++] = node;
      }
    }
  }

  /** murmur3 x86 32-bit (seed 0) of the key's UTF-8 bytes, as an unsigned integer. */
  hash(key: string): number {
    this.#key.encode(key);
    return this.#key.hash();
  }

  /** The partition a hash falls in. */
  partitionOf(hash: number): number {
    return Math.floor(hash / this.#span);
  }

  /** The node that owns a partition. */
  ownerOf(partition: number): number {
    return this.#owner[partition]!;
  }

  /** The node that owns a key. */
  nodeFor(key: string): number {
    return this.nodeForHash(this.hash(key));
  }

  /** The node that owns a ring hash: the hot-path call, on a hash the caller computed. */
  nodeForHash(hash: number): number {
    return this.#owner[Math.floor(hash / this.#span)]!;
  }

  /** The `i`-th node (0-based, below {@link replicas}) of a partition's preference list: the hot-path call. */
  replicaOf(partition: number, i: number): number {
    return this.#preference[partition * this.replicas + i]!;
  }

  /** A partition's preference list: {@link replicas} distinct nodes. */
  preferenceList(partition: number): number[] {
    return Array.from(this.#preference.subarray(partition * this.replicas, (partition + 1) * this.replicas));
  }

  /** Hash, partition and preference list of a key, for `GET /cluster/locate/{key}`. */
  locate(key: string): Location {
    const hash = this.hash(key);
    const partition = this.partitionOf(hash);
    return { hash, partition, node: this.ownerOf(partition), replicas: this.preferenceList(partition) };
  }

  /** How many partitions each node owns. */
  partitionCounts(): number[] {
    const counts = new Array<number>(this.nodes).fill(0);
    for (const owner of this.#owner) counts[owner]!++;
    return counts;
  }
}
