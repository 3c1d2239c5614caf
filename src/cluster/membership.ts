import type { Clock } from '../time/clock.js';
import { BadRequestError, ConflictError, NodeUnavailableError, NotFoundError } from '../errors.js';
import { HASH_SPACE } from '../ring/murmur3.js';
import { MAX_NODES } from './node-budget.js';
import { addPartition, emptyPartitionSet, type PartitionSet } from '../ring/partition-set.js';
import { copyPartitions, type CopyCount } from './partition-copy.js';
import type { NodeSet } from './nodes.js';
import type { Move, Ring } from '../ring/ring.js';
import type { Transfer, Transfers } from './transfers.js';

/** What a join or a leave moved (or, for a plan, would move). */
export interface Moved {
  /** Partition copies created on nodes that did not hold them. */
  partitions: number;
  /** Records (tombstones too) copied, and their key and value bytes. */
  keys: number;
  bytes: number;
}

/** A membership change's answer: the node and what moved. */
export interface MembershipChange {
  id: number;
  moved: Moved;
  /** Whole milliseconds the change took. */
  ms: number;
}

/**
 * Joins, leaves and their plans. A change moves the fewest partition copies the ring allows
 * (Ring.withNode, Ring.withoutNode) while reads and writes go on: a moving partition's
 * writes go to its old and new replicas both, its reads stay on the old ones until every
 * copy is done, then the ring flips and the nodes drop the copies they gave up. One change at
 * a time.
 */
export class Membership {
  readonly #nodes: NodeSet;
  readonly #transfers: Transfers;
  readonly #clock: Clock;
  readonly #saveRing: ((next: Ring, nextId: number) => Promise<void>) | undefined;
  #changing = false;

  /**
   * `saveRing`: with durable storage, stores the ring a change moves to (and the id the next
   * joining node takes) once its copies are made and before the cluster flips to it, so a
   * restart serves the ring its data was placed by. A failed save fails the change.
   */
  constructor(
    nodes: NodeSet,
    transfers: Transfers,
    clock: Clock,
    saveRing?: (next: Ring, nextId: number) => Promise<void>,
  ) {
    this.#nodes = nodes;
    this.#transfers = transfers;
    this.#clock = clock;
    this.#saveRing = saveRing;
  }

  /** Adds a node: starts its thread, then moves it its share of partition copies. */
  async addNode(): Promise<MembershipChange> {
    const nodes = this.#nodes;
    if (nodes.ring.nodes >= MAX_NODES) {
      throw new ConflictError(
        `the ring has ${nodes.ring.nodes} nodes, the most a cluster runs (see --nodes)`,
      );
    }
    this.#beginChange();
    const id = nodes.nextNodeId();
    try {
      await nodes.startNode(id);
      try {
        return { id, ...(await this.#moveTo(nodes.ring.withNode(id), 'join', id)) };
      } catch (err) {
        // The ring did not flip: the new node holds nothing anyone reads. Stop it, so no
        // thread outlives a failed join.
        await nodes.stopNode(id);
        throw err;
      }
    } finally {
      this.#changing = false;
    }
  }

  /** Decommissions a node: moves every partition copy it holds to the others, flips, then stops it. */
  async removeNode(id: number): Promise<MembershipChange> {
    const next = this.#ringWithout(id);
    this.#beginChange();
    try {
      const moved = await this.#moveTo(next, 'leave', id);
      await this.#nodes.stopNode(id);
      return { id, ...moved };
    } finally {
      this.#changing = false;
    }
  }

  /**
   * What adding a node (`add`) or removing node `remove` would move, counted on the real
   * data (each moving partition's records on the replica it would be copied from), and
   * nothing moves: Riak's `cluster plan`, exact.
   */
  async plan(change: { add: number } | { remove: number }): Promise<Moved> {
    if ('add' in change && change.add !== 1)
      throw new BadRequestError('a plan adds one node at a time: add=1');
    const ring = this.#nodes.ring;
    const next = 'add' in change ? ring.withNode(this.#nodes.nextNodeId()) : this.#ringWithout(change.remove);
    const moves = ring.movesTo(next);
    const stats = new Map<number, { records: Uint32Array; bytes: Float64Array }>();
    const moved: Moved = { partitions: moves.length, keys: 0, bytes: 0 };
    for (const move of moves) {
      const source = this.#sourceOf(move, next);
      if (source === null) continue;
      let of = stats.get(source);
      if (of === undefined) stats.set(source, (of = await this.#partitionStats(source)));
      moved.keys += of.records[move.partition]!;
      moved.bytes += of.bytes[move.partition]!;
    }
    return moved;
  }

  #ringWithout(id: number): Ring {
    const ring = this.#nodes.ring;
    if (!ring.members.includes(id)) throw new NotFoundError(`node ${id} is not in the ring`);
    if (ring.nodes - 1 < ring.replicas) {
      throw new ConflictError(
        `${ring.nodes - 1} nodes cannot hold ${ring.replicas} replicas of each key: add a node first`,
      );
    }
    return ring.withoutNode(id);
  }

  #beginChange(): void {
    if (this.#changing)
      throw new ConflictError('a node is joining or leaving already; wait for it to finish');
    this.#changing = true;
  }

  /**
   * The node a move copies from: of the partition's old replicas that are up, not being
   * refilled (half empty) and not the target, the one giving the partition up if it can,
   * else the first. A write W replicas acknowledged may have survived a crash on just one
   * of them; only a copy on the node that gives the partition up would be lost by the move,
   * so that one is copied. A node dropping it that is down lost its copy already, and every
   * other copy stays where it is.
   */
  #sourceOf(move: Move, next: Ring): number | null {
    const kept = next.preferenceList(move.partition);
    const sources = move.from.filter(
      (node) => node !== move.target && this.#nodes.isUp(node) && !this.#nodes.isRefilling(node),
    );
    return sources.find((node) => !kept.includes(node)) ?? sources[0] ?? null;
  }

  async #partitionStats(node: number): Promise<{ records: Uint32Array; bytes: Float64Array }> {
    const payload = (await this.#nodes.callNode(node, (w) => w.partitionStats())) as Buffer;
    const n = payload.length / 12;
    const records = new Uint32Array(n);
    const bytes = new Float64Array(n);
    for (let p = 0; p < n; p++) {
      records[p] = payload.readUInt32LE(p * 12);
      bytes[p] = payload.readDoubleLE(p * 12 + 4);
    }
    return { records, bytes };
  }

  /**
   * Moves the cluster to `next`: writes to both rings' replicas, every new copy made from
   * one old replica (slice by slice, records keeping their versions), then the ring flips
   * and nodes drop the partitions they no longer replicate.
   */
  async #moveTo(next: Ring, kind: 'join' | 'leave', node: number): Promise<Omit<MembershipChange, 'id'>> {
    const nodes = this.#nodes;
    const started = this.#clock.now();
    const before = nodes.ring;
    const moves = before.movesTo(next);
    nodes.beginMove(next);
    const transfer: Transfer = {
      node,
      kind,
      partitions: moves.length,
      keys: 0,
      bytes: 0,
      sourcesDone: 0,
      sources: 0,
    };
    const copied: CopyCount = { keys: 0, bytes: 0, failed: 0, firstError: null };
    this.#transfers.begin(transfer, copied);
    try {
      // One copy per (source, target): all the partitions that pair moves, in one walk.
      const pairs = new Map<string, { source: number; target: number; only: PartitionSet }>();
      for (const move of moves) {
        const source = this.#sourceOf(move, next);
        if (source === null) continue; // no replica up holds it: nothing to copy
        const id = `${source}>${move.target}`;
        let pair = pairs.get(id);
        if (pair === undefined) {
          pairs.set(id, (pair = { source, target: move.target, only: emptyPartitionSet(next.partitions) }));
        }
        addPartition(pair.only, move.partition);
      }
      transfer.sources = pairs.size;
      // Every (source, target) pair at once: each keeps one slice in flight, and a join's
      // sources are all the old nodes.
      await Promise.all(
        [...pairs.values()].map(async ({ source, target, only }) => {
          await copyPartitions(nodes.copyChannel, source, only, () => [target], copied);
          transfer.sourcesDone++;
        }),
      );
      if (copied.failed > 0) {
        // The ring does not flip: reads stay where the data is whole. The change can be retried.
        const cause = copied.firstError;
        throw new NodeUnavailableError(
          `${copied.failed} copies failed, so nothing moved` +
            (cause ? ` (${cause.code}: ${cause.message})` : ''),
        );
      }
      // Stored before the flip: a restart after it finds the data where this ring routes.
      // A crash between the two restarts on the new ring, whose copies are all made.
      if (this.#saveRing !== undefined) {
        try {
          await this.#saveRing(next, nodes.nextNodeId());
        } catch (err) {
          throw new NodeUnavailableError(
            `the new ring could not be stored, so nothing moved: ${(err as Error).message}`,
          );
        }
      }
      nodes.flip();
      this.#transfers.end(node); // the copy is over; dropping what moved away is not a transfer
      await this.#dropMovedAway(before, next);
      return {
        moved: { partitions: moves.length, keys: copied.keys, bytes: copied.bytes },
        ms: Math.round(this.#clock.now() - started),
      };
    } finally {
      if (nodes.next !== null) nodes.endMove(); // it did not flip
      this.#transfers.end(node);
    }
  }

  /** Has every node still up drop the partitions it replicated in `before` and does not in `after`. */
  async #dropMovedAway(before: Ring, after: Ring): Promise<void> {
    const lost = new Map<number, PartitionSet>();
    for (let p = 0; p < before.partitions; p++) {
      const now = after.preferenceList(p);
      for (const node of before.preferenceList(p)) {
        if (now.includes(node) || !this.#nodes.isUp(node)) continue;
        let set = lost.get(node);
        if (set === undefined) lost.set(node, (set = emptyPartitionSet(before.partitions)));
        addPartition(set, p);
      }
    }
    await Promise.all(
      [...lost].map(async ([node, only]) => {
        try {
          for (let from = 0; from < HASH_SPACE;) {
            const payload = (await this.#nodes.callNode(node, (w) => w.dropPartitions(from, only))) as Buffer;
            from = payload.readDoubleLE(0);
          }
        } catch {
          // A node that went down lost its memory anyway.
        }
      }),
    );
  }
}
