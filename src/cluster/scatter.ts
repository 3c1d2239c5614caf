import type { ThunderError } from '../errors.js';
import { HASH_SPACE } from '../ring/murmur3.js';
import { addPartition, emptyPartitionSet, type PartitionSet } from '../ring/partition-set.js';
import type { Location } from '../ring/ring.js';
import type { Clock } from '../time/clock.js';
import { Op, type NodeStats, type RecordSlice, type SnapshotSlice } from '../wire/protocol.js';
import { recordVersion } from '../wire/reply.js';
import { readListPage, readRecordSlice, readSnapshotSlice, type ListPageView } from '../wire/slices.js';
import type { Hints } from './hints.js';
import type { NodeSet, NodeView } from './nodes.js';
import type { Transfers } from './transfers.js';

/** One node as `GET /cluster` shows it. */
export interface NodeInfo extends Partial<NodeStats> {
  id: number;
  /**
   * `joining`: new, or restarted, taking writes while data is copied to it, not yet asked
   * for reads; `leaving`: handing its data over before it stops.
   */
  state: NodeView;
  /** Writes kept for it while it was down, not yet replayed; and those dropped past the budget. */
  hints: number;
  hintsDropped: number;
  partitions: number;
  /**
   * Partitions being copied to it (a refill, a join) or from it (a leave) right now: the
   * copies of `coordinator.transfers` that concern this node.
   */
  partitionsUnderRepair: number;
  /**
   * Operations sent to it (or about to be) and not yet answered, as the front end counts
   * them; and the most at once since it was added. A replica falling behind (a slow storage
   * backend, W below N) shows here; a bulk write holds its intake while any passes 16,384.
   */
  backlog: number;
  backlogPeak: number;
  /** Set when an up node did not answer for its statistics (e.g. NODE_TIMEOUT). */
  error?: string;
}

/** Where a key lives, and what each replica of the ring in force holds of it. */
export interface Located extends Location {
  states: NodeView[];
  /** Per replica: its version (negative for a tombstone, 0 for nothing), or null when it did not answer. */
  versions: (number | null)[];
}

/**
 * The reads that gather from every node rather than a key's replicas: listings, snapshot and
 * record slices (exports), each node's statistics, and where a key's copies stand. Each walks
 * a node in bounded steps, one message each, so key operations interleave with it.
 */
export class Scatter {
  readonly #nodes: NodeSet;
  readonly #hints: Hints;
  readonly #transfers: Transfers;
  readonly #clock: Clock;
  /** Per node, the build of its order of keys under way (see {@link list}). */
  readonly #keyOrderBuilds = new Map<number, Promise<void>>();

  constructor(nodes: NodeSet, hints: Hints, transfers: Transfers, clock: Clock) {
    this.#nodes = nodes;
    this.#hints = hints;
    this.#transfers = transfers;
    this.#clock = clock;
  }

  /**
   * Up to `limit` keys with `prefix`, greater than `after`, in UTF-8 byte order (code point
   * order), gathered from every node, each key once however many replicas hold it. Each node
   * answers from its order of keys (src/node/key-order.ts) with its first `limit + 1`, and
   * this merges those: a page costs about a page per node. A node still building its order
   * answers "not ready" after each bounded step, so key operations interleave with the build.
   */
  async list(prefix: string, after: string, limit: number): Promise<{ keys: string[]; more: boolean }> {
    const nodes = this.#nodes;
    const pages = await Promise.all(
      nodes.ring.members.map(async (id) => {
        for (;;) {
          // limit + 1: one more than the page says whether another page follows.
          const page = readListPage(
            (await nodes.callNode(id, (w) => w.list(prefix, after, limit + 1, this.#clock.wall()))) as Buffer,
          );
          if (page.ready) return page;
          await this.#buildKeyOrder(id);
        }
      }),
    );
    const best = mergePages(pages, limit + 1);
    const more = best.length > limit;
    if (more) best.length = limit;
    return { keys: best, more };
  }

  /**
   * Resolves once node `id` answers a listing message as ready: its order of keys is built.
   * One build is driven per node however many listings wait for it, with two messages in
   * flight, so the node goes from step to step without waiting for a round trip, and a key
   * operation waits behind at most two steps.
   */
  #buildKeyOrder(id: number): Promise<void> {
    let build = this.#keyOrderBuilds.get(id);
    if (build === undefined) {
      const step = async () =>
        readListPage((await this.#nodes.callNode(id, (w) => w.list('', '', 1, this.#clock.wall()))) as Buffer)
          .ready;
      build = (async () => {
        let queued = step();
        for (;;) {
          const next = step();
          next.catch(() => {}); // awaited next time round, or not needed: never unhandled
          if (await queued) return;
          queued = next;
        }
      })().finally(() => this.#keyOrderBuilds.delete(id));
      this.#keyOrderBuilds.set(id, build);
    }
    return build;
  }

  /**
   * One slice of a node's data as `"k":"v"` text; walk `from` from 0 to {@link HASH_SPACE}.
   * With `primaryOnly`, only keys of the partitions whose first replica that is up is this
   * node: over every node, each key once.
   */
  async snapshotSlice(
    node: number,
    from: number,
    maxBytes: number,
    primaryOnly = false,
  ): Promise<SnapshotSlice> {
    const only = primaryOnly ? this.#primaryPartitions(node) : null;
    // First replica up of nothing (a node down, say): nothing to ask it for.
    if (only !== null && only.bits.every((b) => b === 0)) return { next: HASH_SPACE, json: '' };
    return readSnapshotSlice(
      (await this.#nodes.callNode(node, (w) =>
        w.snapshot(from, maxBytes, only, this.#clock.wall()),
      )) as Buffer,
    );
  }

  /**
   * One slice of a node's records (tombstones and expired values too, with versions and
   * expiries) of the partitions whose first replica that is up is this node: over every
   * node, each key once. Walk `from` from 0 to {@link HASH_SPACE}.
   */
  async primaryRecordSlice(node: number, from: number, maxBytes: number): Promise<RecordSlice> {
    const only = this.#primaryPartitions(node);
    // First replica up of nothing (a node down, say): nothing to ask it for.
    if (only.bits.every((b) => b === 0)) return { next: HASH_SPACE, records: Buffer.alloc(0) };
    return readRecordSlice(
      (await this.#nodes.callNode(node, (w) => w.scanRecords(from, maxBytes, only))) as Buffer,
    );
  }

  /** The partitions whose first replica that is up is `node`. */
  #primaryPartitions(node: number): PartitionSet {
    const { ring } = this.#nodes;
    const set = emptyPartitionSet(ring.partitions);
    for (let p = 0; p < ring.partitions; p++)
      if (this.#nodes.readReplicas(p)[0] === node) addPartition(set, p);
    return set;
  }

  /** Every node's state and, where it answers, its statistics. */
  async nodes(): Promise<NodeInfo[]> {
    const nodes = this.#nodes;
    const counts = nodes.ring.partitionCounts();
    return Promise.all(
      nodes.shown().map(async (id): Promise<NodeInfo> => {
        const info: NodeInfo = {
          id,
          state: nodes.stateOf(id),
          partitions: counts.get(id) ?? 0,
          hints: this.#hints.pending(id),
          hintsDropped: this.#hints.dropped(id),
          partitionsUnderRepair: this.#transfers.partitionsOf(id),
          ...nodes.backlogOf(id),
        };
        if (!nodes.isUp(id)) return info;
        try {
          const stats = (await nodes.callNode(id, (w) => w.stats())) as Buffer;
          return { ...info, ...(JSON.parse(stats.toString('utf8')) as NodeStats) };
        } catch (err) {
          return { ...info, error: (err as ThunderError).code };
        }
      }),
    );
  }

  /**
   * Where a key lives, and what each replica of the ring in force holds of it: its version
   * (negative for a tombstone, 0 for nothing), or null when the replica did not answer.
   */
  async locate(key: string): Promise<Located> {
    const nodes = this.#nodes;
    const where = nodes.ring.locate(key);
    const versions = await Promise.all(
      where.replicas.map((node) =>
        nodes.callKey(node, Op.Get, key).then(
          (reply) => (reply === null ? 0 : recordVersion(reply as Buffer)),
          () => null,
        ),
      ),
    );
    return { ...where, states: where.replicas.map((node) => nodes.stateOf(node)), versions };
  }
}

/**
 * The `limit` smallest keys of some nodes' pages, each in UTF-8 byte order, merged; a key on
 * several pages (a replica's copy) is taken once. Keys are compared as the nodes' bytes and
 * only the ones taken are decoded: at most nodes × `limit` keys are looked at.
 */
function mergePages(pages: ListPageView[], limit: number): string[] {
  const next = pages.map(() => 0); // per page, its next key's index in bounds
  const keys: string[] = [];
  let last: ListPageView | null = null;
  let lastAt = 0;
  while (keys.length < limit) {
    let best = -1;
    for (let p = 0; p < pages.length; p++) {
      if (next[p]! >= pages[p]!.bounds.length) continue;
      if (best < 0 || compareKeyBytes(pages[p]!, next[p]!, pages[best]!, next[best]!) < 0) best = p;
    }
    if (best < 0) break;
    const page = pages[best]!;
    const at = next[best]!;
    next[best] = at + 2;
    if (last !== null && compareKeyBytes(page, at, last, lastAt) === 0) continue;
    keys.push(page.payload.toString('utf8', page.bounds[at], page.bounds[at + 1]));
    last = page;
    lastAt = at;
  }
  return keys;
}

/**
 * Compares the key at bounds index `i` of page `a` with the one at `j` of `b`, by their bytes
 * (a loop: Buffer's compare checks its five arguments on every call, which cost more here).
 */
function compareKeyBytes(a: ListPageView, i: number, b: ListPageView, j: number): number {
  const x = a.payload;
  const y = b.payload;
  let from = a.bounds[i]!;
  const end = a.bounds[i + 1]!;
  let other = b.bounds[j]!;
  const otherEnd = b.bounds[j + 1]!;
  for (; from < end && other < otherEnd; from++, other++) {
    if (x[from] !== y[other]) return x[from]! - y[other]!;
  }
  return end - from - (otherEnd - other);
}
