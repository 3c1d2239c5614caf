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

/** One partition copy a ring change creates: `target` gains `partition`, held by `from` before. */
export interface Move {
  partition: number;
  target: number;
  /** The partition's preference list before the change: where its data is. */
  from: readonly number[];
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
 * Each partition's preference list starts as its owner, then the owners of the partitions
 * after it on the ring, skipping nodes already listed (Dynamo's rule, so the copies sit on
 * distinct nodes), until it holds `replicas` nodes. The lists are kept as an explicit table,
 * and a join or a leave edits it copy by copy ({@link withNode}, {@link withoutNode}),
 * moving no more copies than the change needs. Node ids stay as they were: after a leave
 * they are no longer 0 to n − 1 ({@link members}). Pure: no I/O, no globals.
 */
export class Ring {
  /** How many nodes the ring holds. */
  readonly nodes: number;
  /** Their ids, ascending. */
  readonly members: readonly number[];
  readonly partitions: number;
  readonly replicas: number;
  /** preference[p × replicas + i] is the i-th node of partition p's preference list; i = 0 owns p. */
  readonly #preference: Uint16Array;
  readonly #span: number;
  readonly #key = new KeyBytes();

  /** `table`: preference lists to take as they are (a changed ring), instead of dealing them. */
  constructor(options: RingOptions, table?: Uint16Array) {
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
    this.members = Array.from({ length: nodes }, (_, id) => id);
    this.partitions = partitions;
    this.replicas = replicas;
    this.#span = HASH_SPACE / partitions;
    // Round-robin owners keep neighbouring partitions on different nodes and every node's
    // share within one partition of the others'.
    const owner = (p: number) => p % nodes;
    this.#preference = table ?? new Uint16Array(partitions * replicas);
    if (table !== undefined) {
      this.members = [...new Set(table)].sort((a, b) => a - b);
      this.nodes = this.members.length;
      return;
    }
    for (let p = 0; p < partitions; p++) {
      const list = this.#preference.subarray(p * replicas, (p + 1) * replicas);
      for (let q = p, found = 0; found < replicas; q = (q + 1) % partitions) {
        const node = owner(q);
        if (!list.subarray(0, found).includes(node)) list[found++] = node;
      }
    }
  }

  /** A ring over this one's partitions with `table` as its preference lists. */
  #derive(table: Uint16Array): Ring {
    return new Ring({ nodes: this.replicas, partitions: this.partitions, replicas: this.replicas }, table);
  }

  /** Copies each member holds, indexed by id. */
  #copies(table: Uint16Array): Map<number, number> {
    const copies = new Map<number, number>();
    for (const node of table) copies.set(node, (copies.get(node) ?? 0) + 1);
    return copies;
  }

  /**
   * The ring with node `id` joined: it takes ⌊partitions × replicas ÷ (nodes + 1)⌋ copies,
   * from evenly spaced partitions, each from the partition's replica that holds the most
   * copies (the owner's place when the new node still owns fewer than its share). Every
   * other copy stays where it is, so exactly the new node's share moves: the ideal.
   */
  withNode(id: number): Ring {
    if (this.members.includes(id)) throw new RangeError(`node ${id} is in the ring already`);
    if (!Number.isInteger(id) || id < 0 || id > 0xffff)
      throw new RangeError(`node ids are 0 to 65535, got ${id}`);
    const { partitions: P, replicas: R } = this;
    const table = this.#preference.slice();
    const copies = this.#copies(table);
    const share = Math.floor((P * R) / (this.nodes + 1));
    const owned = Math.floor(P / (this.nodes + 1));
    const owns = new Map<number, number>();
    for (let p = 0; p < P; p++) owns.set(table[p * R]!, (owns.get(table[p * R]!) ?? 0) + 1);
    let taken = 0;
    let owning = 0;
    for (let p = 0; p < P && taken < share; p++) {
      // Evenly spaced: partition p is taken when the running share passes a whole copy.
      if (Math.floor(((p + 1) * share) / P) === Math.floor((p * share) / P)) continue;
      const list = table.subarray(p * R, (p + 1) * R);
      let victim = 0;
      if (owning >= owned) {
        victim = -1;
        for (let i = R > 1 ? 1 : 0; i < R; i++) {
          if (victim < 0 || copies.get(list[i]!)! > copies.get(list[victim]!)!) victim = i;
        }
      } else owning++;
      copies.set(list[victim]!, copies.get(list[victim]!)! - 1);
      if (victim === 0) owns.set(list[0]!, owns.get(list[0]!)! - 1);
      list[victim] = id;
      taken++;
    }
    return this.#derive(table);
  }

  /**
   * The ring without node `id`: each copy it held goes, in the same place of the list, to
   * the member not already in that list that holds the fewest copies. Only its copies move.
   */
  withoutNode(id: number): Ring {
    if (!this.members.includes(id)) throw new RangeError(`node ${id} is not in the ring`);
    if (this.nodes - 1 < this.replicas) {
      throw new RangeError(`${this.nodes - 1} nodes cannot hold ${this.replicas} replicas of each key`);
    }
    const { partitions: P, replicas: R } = this;
    const table = this.#preference.slice();
    const copies = this.#copies(table);
    copies.delete(id);
    const others = this.members.filter((n) => n !== id);
    for (let p = 0; p < P; p++) {
      const list = table.subarray(p * R, (p + 1) * R);
      const at = list.indexOf(id);
      if (at < 0) continue;
      let best = -1;
      for (const node of others) {
        if (list.includes(node)) continue;
        if (best < 0 || copies.get(node)! < copies.get(best)!) best = node;
      }
      list[at] = best;
      copies.set(best, copies.get(best)! + 1);
    }
    return this.#derive(table);
  }

  /** The partition copies going from this ring to `next`: each node that gains a partition. */
  movesTo(next: Ring): Move[] {
    const moves: Move[] = [];
    for (let p = 0; p < this.partitions; p++) {
      const before = this.preferenceList(p);
      for (const node of next.preferenceList(p)) {
        if (!before.includes(node)) moves.push({ partition: p, target: node, from: before });
      }
    }
    return moves;
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

  /** The node that owns a partition: the first of its preference list. */
  ownerOf(partition: number): number {
    return this.#preference[partition * this.replicas]!;
  }

  /** The node that owns a key. */
  nodeFor(key: string): number {
    return this.nodeForHash(this.hash(key));
  }

  /** The node that owns a ring hash: the hot-path call, on a hash the caller computed. */
  nodeForHash(hash: number): number {
    return this.ownerOf(Math.floor(hash / this.#span));
  }

  /** The `i`-th node (0-based, below {@link replicas}) of a partition's preference list: the hot-path call. */
  replicaOf(partition: number, i: number): number {
    return this.#preference[partition * this.replicas + i]!;
  }

  /** Every partition's preference list, one after another (a copy): what a stored ring keeps. */
  table(): Uint16Array {
    return this.#preference.slice();
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

  /** How many partitions each member owns (first of the list), by id. */
  partitionCounts(): Map<number, number> {
    const counts = new Map<number, number>(this.members.map((id) => [id, 0]));
    for (let p = 0; p < this.partitions; p++) counts.set(this.ownerOf(p), counts.get(this.ownerOf(p))! + 1);
    return counts;
  }

  /** How many partitions each member holds a copy of, by id. */
  replicaCounts(): Map<number, number> {
    const counts = new Map<number, number>(this.members.map((id) => [id, 0]));
    for (const node of this.#preference) counts.set(node, counts.get(node)! + 1);
    return counts;
  }
}
