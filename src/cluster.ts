import type { ReplySink } from './batcher.js';
import {
  BadRequestError,
  ConflictError,
  NodeUnavailableError,
  NotFoundError,
  PreconditionFailedError,
  QuorumNotMetError,
  type ThunderError,
} from './errors.js';
import { HybridClock } from './hlc.js';
import { compareKeys, KeyBytes } from './key-bytes.js';
import { KeyCalls, type Consistency, type KeyOp, type KeySink, type ReplicaSender } from './key-call.js';
import { systemClock, type Clock } from './clock.js';
import { NodeLink, type LinkOptions, type NodeState } from './node-link.js';
import { HASH_SPACE } from './murmur3.js';
import { Op, type NodeStats, type PartitionSet, type SnapshotSlice } from './protocol.js';
import { Ring, type Move } from './ring.js';
import { TombstonePurger } from './tombstone-purger.js';
import { Hints, type Hint } from './hints.js';
import { copyPartitions, type Copied, type CopyChannel, type CopyCount } from './partition-copy.js';
import { readListSlice, readRecordSlice, readSnapshotSlice, type BatchWriter, type Result } from './wire.js';

export type { Consistency, KeyOp, KeySink } from './key-call.js';

/**
 * What a conditional write needs of the key's current value: `If-Match`, a value at one of
 * these versions (`'*'`: any value); or `If-None-Match`, no value at any of them (`'*'`:
 * no value at all, so the write creates the key).
 */
export type WriteCondition = { ifMatch: number[] | '*' } | { ifNoneMatch: number[] | '*' };

/** Whether a key whose value has `version` (0: no value) meets a condition. */
function meets(condition: WriteCondition, version: number): boolean {
  if ('ifMatch' in condition) {
    return condition.ifMatch === '*' ? version !== 0 : condition.ifMatch.includes(version);
  }
  return condition.ifNoneMatch === '*' ? version === 0 : !condition.ifNoneMatch.includes(version);
}

/** How a {@link Cluster} is started. */
export interface ClusterOptions {
  /** Node threads to start. Default 3. */
  nodes?: number;
  /** Equal hash-ring partitions shared out among the nodes. Default 1024. */
  partitions?: number;
  /** Copies of each key, on distinct nodes. Default 3, or the node count when below 3. */
  replicas?: number;
  /** Replicas a read gathers before answering. Default a majority of the replicas. */
  r?: number;
  /** Replicas that must apply a write before it is acknowledged. Default a majority. */
  w?: number;
  /**
   * How long after every replica acknowledged a delete its tombstone is purged, in ms.
   * Default {@link DEFAULT_TOMBSTONE_GRACE_MS}.
   */
  tombstoneGraceMs?: number;
  /** Called as each node's thread comes up, for start-up progress. */
  onNodeReady?: (id: number) => void;
  /**
   * A node that has not answered a batch within this many ms fails its operations with
   * NODE_TIMEOUT (a write among them may still happen). Default {@link DEFAULT_TIMEOUT_MS}.
   */
  timeoutMs?: number;
  /** Time and timers. Default the system clock. */
  clock?: Clock;
  /**
   * How often replicas compare their partition digests and copy what differs, in ms; 0:
   * never (a restarted node is still refilled). Default {@link DEFAULT_ANTI_ENTROPY_MS}.
   */
  antiEntropyMs?: number;
}

/** Default {@link ClusterOptions.antiEntropyMs}: 30 s. */
export const DEFAULT_ANTI_ENTROPY_MS = 30_000;

/** A copy of partitions to a node, as `GET /cluster` shows it while it runs. */
export interface Transfer {
  /** The node being filled. */
  node: number;
  kind: 'refill' | 'join' | 'leave';
  partitions: number;
  /** Records copied so far (each source's copies counted), and their bytes. */
  keys: number;
  bytes: number;
  /** Sources done, of all. */
  sourcesDone: number;
  sources: number;
}

/** What a refill did. */
export interface Refilled {
  node: number;
  /** Partitions the node holds a replica of. */
  partitions: number;
  /** Hints replayed before the copy. */
  hints: number;
  /** Records copied (from every source), their bytes, and writes that failed. */
  keys: number;
  bytes: number;
  failed: number;
  ms: number;
}

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
  ms: number;
}

/** What anti-entropy has done since start. */
export interface AntiEntropyStats {
  runs: number;
  /** Partitions whose replicas' digests differed, and were copied between them. */
  partitionsRepaired: number;
  recordsCopied: number;
  running: boolean;
}

/** Default {@link ClusterOptions.timeoutMs}: 5 s, Cassandra's read timeout. */
export const DEFAULT_TIMEOUT_MS = 5000;
/** Default {@link ClusterOptions.tombstoneGraceMs}: 10 s. */
export const DEFAULT_TOMBSTONE_GRACE_MS = 10_000;

/** The replication settings a cluster runs with, as `GET /cluster` shows them. */
export interface Replication {
  replicas: number;
  r: number;
  w: number;
  tombstoneGraceMs: number;
}

/** Replication settings from options: defaults filled in, each checked, naming the bad one. */
export function replicationFor(options: ClusterOptions): Replication {
  const nodes = options.nodes ?? 3;
  const replicas = options.replicas ?? Math.min(3, nodes);
  const majority = Math.floor(replicas / 2) + 1;
  const settings = {
    replicas,
    r: options.r ?? majority,
    w: options.w ?? majority,
    tombstoneGraceMs: options.tombstoneGraceMs ?? DEFAULT_TOMBSTONE_GRACE_MS,
  };
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > Math.min(nodes, 16)) {
    throw new RangeError(
      `replicas must be an integer from 1 to the node count (at most 16), got ${replicas}`,
    );
  }
  for (const name of ['r', 'w'] as const) {
    const value = settings[name];
    if (!Number.isInteger(value) || value < 1 || value > replicas) {
      throw new RangeError(`${name} must be an integer from 1 to replicas (${replicas}), got ${value}`);
    }
  }
  if (!Number.isSafeInteger(settings.tombstoneGraceMs) || settings.tombstoneGraceMs < 0) {
    throw new RangeError(`tombstoneGraceMs must be an integer ≥ 0, got ${settings.tombstoneGraceMs}`);
  }
  return settings;
}

/** One node as `GET /cluster` shows it. */
export interface NodeInfo extends Partial<NodeStats> {
  id: number;
  /**
   * `joining`: new, or restarted, taking writes while data is copied to it, not yet asked
   * for reads; `leaving`: handing its data over before it stops.
   */
  state: NodeState | 'joining' | 'leaving';
  /** Writes kept for it while it was down, not yet replayed; and those dropped past the budget. */
  hints: number;
  hintsDropped: number;
  partitions: number;
  /** Set when an up node did not answer for its statistics (e.g. NODE_TIMEOUT). */
  error?: string;
}

/** What the coordinator has done beyond answering requests, as `GET /cluster` shows it. */
export interface CoordinatorStats {
  /** Copies under way. */
  transfers: Transfer[];
  antiEntropy: AntiEntropyStats;
  /** Read repairs sent to stale replicas since start. */
  readRepairs: number;
  /** Tombstones held by every replica, waiting out the grace period before purging. */
  tombstonesAwaitingPurge: number;
  /** Tombstones purged since start. */
  tombstonesPurged: number;
}

/**
 * The `limit` smallest of two sorted lists of distinct keys, merged (UTF-8 byte order); a
 * key in both (a replica's copy) is taken once.
 */
function mergeSorted(a: string[], b: string[], limit: number): string[] {
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (out.length < limit && (i < a.length || j < b.length)) {
    const order = j >= b.length ? -1 : i >= a.length ? 1 : compareKeys(a[i]!, b[j]!);
    if (order <= 0) out.push(a[i++]!);
    else out.push(b[j++]!);
    if (order === 0) j++;
  }
  return out;
}

/** A reply with its version, as a {@link KeySink} hears it. */
interface Versioned {
  reply: Result;
  version: number;
}

/** Resolves a promise with one reply: the adapter behind the convenience methods. */
class PromiseSink implements ReplySink, KeySink {
  constructor(
    readonly resolve: (answer: Versioned) => void,
    readonly reject: (error: ThunderError) => void,
  ) {}
  settle(_tag: number, reply: Result, version = 0): void {
    // A Buffer reply is a view into a node's reply, valid during this call only.
    this.resolve({ reply: reply instanceof Buffer ? Buffer.from(reply) : reply, version });
  }
  fail(_tag: number, error: ThunderError): void {
    this.reject(error);
  }
}

/**
 * The nodes, the ring that routes keys to them, and the coordinator that replicates each key
 * over its preference list. Operations are queued per node and sent once per event-loop
 * turn: however many requests arrive in one turn, each node gets one message, and each
 * node answers with one.
 *
 * `submit()` is the allocation-light entry the HTTP front end uses; `get()`, `put()` and
 * friends wrap it in promises for everything else (loading, tests, benches).
 */
export class Cluster implements ReplicaSender {
  /** The ring in force: replaced when a node joins or leaves, once its data has moved. */
  ring: Ring;
  /** During a join or a leave, the ring being moved to: writes go to both rings' replicas. */
  #next: Ring | null = null;
  readonly replication: Replication;
  /** The request defaults: `r` and `w` from the options, repair after answering. */
  readonly consistency: Consistency;
  readonly #links: NodeLink[];
  readonly #key = new KeyBytes();
  /** Encodes keys for follow-ups (repairs, purges), which may run inside a submit. */
  readonly #followUpKey = new KeyBytes();
  readonly #hlc: HybridClock;
  readonly #purger: TombstonePurger;
  /**
   * Per partition, in preference order, the replicas a read asks (up, and not being
   * refilled) and those a write goes to (up, refilling or not); rebuilt when a node's state
   * changes.
   */
  #readReplicas: number[][] = [];
  #writeReplicas: number[][] = [];
  /** Nodes restarted and being refilled: they take writes, not reads, until caught up. */
  readonly #refilling = new Set<number>();
  /** Writes meant for replicas that were down. */
  readonly #hints = new Hints();
  /** Copies under way (refills), by target node, for `GET /cluster`. */
  readonly #transfers = new Map<number, { transfer: Transfer; copied: Copied }>();
  /** What anti-entropy has done, and its timer. */
  #antiEntropy: AntiEntropyStats = { runs: 0, partitionsRepaired: 0, recordsCopied: 0, running: false };
  #disarmAntiEntropy: (() => void) | null = null;
  readonly #clock: Clock;
  readonly #antiEntropyMs: number;
  readonly #linkOptions: LinkOptions;
  readonly #onStateChange = (): void => this.#findUpReplicas();
  /** Conditional writes waiting per key, so that each one's check and write happen alone. */
  readonly #keyLocks = new Map<string, Promise<void>>();
  #readRepairs = 0;
  /** The key operations in flight, with their quorums. */
  readonly #calls = new KeyCalls(this);
  #flushScheduled = false;
  readonly #flush = (): void => {
    this.#flushScheduled = false;
    for (const link of this.#links) link.flush();
  };

  private constructor(
    ring: Ring,
    replication: Replication,
    links: LinkOptions,
    clock: Clock,
    antiEntropyMs: number,
  ) {
    this.ring = ring;
    this.replication = replication;
    this.consistency = { r: replication.r, w: replication.w, repair: 'async' };
    this.#hlc = new HybridClock(() => clock.wall());
    this.#purger = new TombstonePurger(clock, replication.tombstoneGraceMs, (key, version) =>
      this.#sendToReplicas(Op.Purge, key, version),
    );
    this.#clock = clock;
    this.#antiEntropyMs = antiEntropyMs;
    this.#linkOptions = links;
    this.#links = Array.from({ length: ring.nodes }, (_, id) => new NodeLink(id, links, this.#onStateChange));
    this.#findUpReplicas();
  }

  /** Starts the node threads and resolves once every one holds its port. */
  static async start(options: ClusterOptions = {}): Promise<Cluster> {
    const {
      timeoutMs = DEFAULT_TIMEOUT_MS,
      clock = systemClock,
      antiEntropyMs = DEFAULT_ANTI_ENTROPY_MS,
    } = options;
    if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1) {
      throw new RangeError(`timeoutMs must be a positive integer, got ${timeoutMs}`);
    }
    if (!Number.isSafeInteger(antiEntropyMs) || antiEntropyMs < 0) {
      throw new RangeError(`antiEntropyMs must be an integer ≥ 0, got ${antiEntropyMs}`);
    }
    const replication = replicationFor(options);
    const ring = new Ring({
      nodes: options.nodes ?? 3,
      partitions: options.partitions ?? 1024,
      replicas: replication.replicas,
    });
    const cluster = new Cluster(
      ring,
      replication,
      { clock, timeoutMs, partitions: ring.partitions },
      clock,
      antiEntropyMs,
    );
    try {
      await Promise.all(
        cluster.#links.map((link) => link.ready().then(() => options.onNodeReady?.(link.id))),
      );
    } catch (err) {
      await cluster.close();
      throw err;
    }
    cluster.#armAntiEntropy();
    return cluster;
  }

  /** The nodes of the ring in force, by id. */
  get members(): readonly number[] {
    return this.ring.members;
  }

  /** Operations queued or in flight, over all nodes. */
  get pending(): number {
    let n = 0;
    for (const link of this.#links) n += link.pending;
    return n;
  }

  #findUpReplicas(): void {
    const { ring } = this;
    const next = this.#next;
    const up = (node: number) => this.#links[node]?.state === 'up';
    this.#writeReplicas = Array.from({ length: ring.partitions }, (_, p) => {
      const nodes = ring.preferenceList(p);
      // While a partition moves, its new replicas take its writes too.
      if (next !== null)
        for (const node of next.preferenceList(p)) if (!nodes.includes(node)) nodes.push(node);
      return nodes.filter(up);
    });
    // Reads stay on the ring in force: a partition being copied is not read from its copy.
    this.#readReplicas = Array.from({ length: ring.partitions }, (_, p) =>
      ring.preferenceList(p).filter((node) => up(node) && !this.#refilling.has(node)),
    );
  }

  /**
   * Sends a key operation to the key's replicas that are up and answers `sink` once the
   * quorum has: the allocation-light entry of the hot path (a slot of {@link KeyCalls} a request, no allocation).
   * Input must already be validated. `value` (bytes, or a byte string of one char per byte)
   * is copied into the batches at once, so the caller's buffer may be reused on return;
   * with a `condition` it is copied.
   *
   * A read goes to every replica that is up and answers with the newest of the first R
   * answers; a write gets a new version and is acknowledged once W replicas applied it.
   * With fewer than W replicas up a write is refused with QUORUM_NOT_MET before any replica
   * sees it; a Size is read from the first replica up, as a hint.
   */
  submit(
    sink: KeySink,
    tag: number,
    op: KeyOp,
    key: string,
    value?: Uint8Array | string,
    consistency: Consistency = this.consistency,
    condition?: WriteCondition,
  ): void {
    if (condition !== undefined) {
      const copy = value === undefined ? undefined : Buffer.from(value as Uint8Array);
      void this.#conditional(sink, tag, op, key, copy, consistency, condition);
      return;
    }
    const length = this.#key.encode(key);
    const hash = this.#key.hash();
    const partition = this.ring.partitionOf(hash);
    const write = op === Op.Put || op === Op.Delete;
    const up = (write ? this.#writeReplicas : this.#readReplicas)[partition]!;
    const needed = op === Op.Size ? 1 : Math.min(write ? consistency.w : consistency.r, this.ring.replicas);
    if (up.length < needed) {
      const error = new QuorumNotMetError(
        `${up.length} of ${this.ring.replicas} replicas are up; ${write ? 'W' : 'R'} = ${needed}`,
      );
      // With one replica there is no quorum to speak of: the node's own error.
      const owner = this.ring.replicaOf(partition, 0);
      const state = this.#links[owner]!.state;
      sink.fail(
        tag,
        this.ring.replicas === 1 ? new NodeUnavailableError(`node ${owner} is ${state}`) : error,
      );
      return;
    }
    const nodes = op === Op.Size ? up.slice(0, 1) : up;
    const version = write ? this.#hlc.next() : 0;
    // A replica down misses the write: keep it as a hint, replayed when the node is back.
    if (write && up.length < this.ring.replicas) this.#hint(partition, op, key, version, value);
    const calls = this.#calls;
    const base = calls.begin(sink, tag, op, key, nodes, needed, consistency.repair === 'sync', version);
    for (let i = 0; i < nodes.length; i++) {
      const link = this.#links[nodes[i]!]!;
      const writer = link.writerFor(calls, base + i);
      if (writer === null) continue;
      writer.key(op, this.#key.buffer, length, hash, version, value);
      link.add(calls, base + i);
    }
    this.#schedule();
  }

  /** Queues a key operation on one node (a read repair's or a purge's). See {@link ReplicaSender}. */
  sendKey(
    node: number,
    sink: ReplySink,
    tag: number,
    op: KeyOp | typeof Op.Purge,
    key: string,
    version: number,
    value?: Uint8Array,
  ): void {
    const link = this.#links[node]!;
    const writer = link.writerFor(sink, tag);
    if (writer === null) return;
    const length = this.#followUpKey.encode(key);
    writer.key(op, this.#followUpKey.buffer, length, this.#followUpKey.hash(), version, value);
    link.add(sink, tag);
    this.#schedule();
  }

  tombstoneWritten(key: string, version: number, acks: number): void {
    if (acks === this.ring.replicas) this.#purger.add(key, version);
  }

  repaired(): void {
    this.#readRepairs++;
  }

  /** Sends an operation to every replica of a key that is up, answered by nobody. */
  #sendToReplicas(op: typeof Op.Purge, key: string, version: number): void {
    for (const node of this.#writeReplicas[this.ring.partitionOf(this.ring.hash(key))]!) {
      this.sendKey(node, IGNORE, 0, op, key, version);
    }
  }

  /**
   * A conditional write: alone among the conditional writes of its key (one coordinator, so
   * a lock here is enough), it reads the key from enough replicas to overlap every write W
   * acknowledged (max(R, N − W + 1)), checks the condition, and writes with a version newer
   * than the one it read.
   */
  async #conditional(
    sink: KeySink,
    tag: number,
    op: KeyOp,
    key: string,
    value: Buffer | undefined,
    consistency: Consistency,
    condition: WriteCondition,
  ): Promise<void> {
    const unlock = await this.#lock(key);
    try {
      const r = Math.max(consistency.r, this.ring.replicas - consistency.w + 1);
      const current = await this.#callKey(Op.Get, key, undefined, { ...consistency, r });
      const version = current.reply === null ? 0 : current.version;
      if (!meets(condition, version)) {
        const error = new PreconditionFailedError(
          version === 0
            ? `key ${JSON.stringify(key)} has no value`
            : `key ${JSON.stringify(key)} is at another version`,
        );
        if (version !== 0) error.details.etag = `"${version}"`;
        return sink.fail(tag, error);
      }
      this.#hlc.observe(version);
      const written = await this.#callKey(op, key, value, consistency);
      sink.settle(tag, written.reply, written.version);
    } catch (err) {
      sink.fail(tag, err as ThunderError);
    } finally {
      unlock();
    }
  }

  /** Waits for the conditional writes of `key` queued before; returns the release. */
  async #lock(key: string): Promise<() => void> {
    const before = this.#keyLocks.get(key);
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = (before ?? Promise.resolve()).then(() => mine);
    this.#keyLocks.set(key, tail);
    await before;
    return () => {
      release();
      if (this.#keyLocks.get(key) === tail) this.#keyLocks.delete(key);
    };
  }

  /** Queues one operation, written by `write`, on a given node (slices, stats; tests). */
  submitTo(node: number, sink: ReplySink, tag: number, write: (writer: BatchWriter) => void): void {
    const link = this.#links[node]!;
    const writer = link.writerFor(sink, tag);
    if (writer === null) return;
    write(writer);
    link.add(sink, tag);
    this.#schedule();
  }

  #schedule(): void {
    // setImmediate runs after the poll phase has handed us every socket event of this turn,
    // so one flush carries all of them; a microtask would flush after each request.
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(this.#flush);
    }
  }

  #callKey(
    op: KeyOp,
    key: string,
    value?: Uint8Array | string,
    consistency?: Consistency,
  ): Promise<Versioned> {
    return new Promise((resolve, reject) =>
      this.submit(new PromiseSink(resolve, reject), 0, op, key, value, consistency),
    );
  }

  async #callNode(node: number, write: (writer: BatchWriter) => void): Promise<Result> {
    const answer = await new Promise<Versioned>((resolve, reject) =>
      this.submitTo(node, new PromiseSink(resolve, reject), 0, write),
    );
    return answer.reply;
  }

  /** The value's bytes (a copy), or undefined when absent. */
  async get(key: string, consistency?: Consistency): Promise<Buffer | undefined> {
    const { reply } = await this.#callKey(Op.Get, key, undefined, consistency);
    return reply === null ? undefined : (reply as Buffer);
  }

  /** The value's bytes (a copy) and version, or undefined when absent. */
  async getVersioned(
    key: string,
    consistency?: Consistency,
  ): Promise<{ value: Buffer; version: number } | undefined> {
    const { reply, version } = await this.#callKey(Op.Get, key, undefined, consistency);
    return reply === null ? undefined : { value: reply as Buffer, version };
  }

  /** The value's length in bytes, or -1 when absent: read from one replica, a hint. */
  async sizeOf(key: string): Promise<number> {
    return ((await this.#callKey(Op.Size, key)).reply as number | null) ?? -1;
  }

  /** Stores a value (bytes, or a byte string of one char per byte); resolves to its version. */
  async put(key: string, value: Uint8Array | string, consistency?: Consistency): Promise<number> {
    return (await this.#callKey(Op.Put, key, value, consistency)).version;
  }

  /** Deletes a key (a tombstone on every replica); true if a replica that acknowledged held it. */
  async delete(key: string, consistency?: Consistency): Promise<boolean> {
    return (await this.#callKey(Op.Delete, key, undefined, consistency)).reply === 1;
  }

  /**
   * Up to `limit` keys with `prefix`, greater than `after`, in UTF-8 byte order (code point
   * order), gathered from every node, each key once however many replicas hold it.
   * Each node is walked in bounded slices, one message each, so key operations interleave
   * with a listing instead of waiting for it; memory stays within a few pages of keys.
   */
  async list(prefix: string, after: string, limit: number): Promise<{ keys: string[]; more: boolean }> {
    let best: string[] = [];
    await Promise.all(
      this.ring.members.map(async (id) => {
        for (let from = 0; from < HASH_SPACE;) {
          // limit + 1 per slice: one more than the page says whether another page follows.
          const slice = readListSlice(
            (await this.#callNode(id, (w) => w.list(prefix, after, limit + 1, from))) as Buffer,
          );
          if (slice.keys.length > 0) best = mergeSorted(best, slice.keys, limit + 1);
          from = slice.next;
        }
      }),
    );
    const more = best.length > limit;
    if (more) best.length = limit;
    return { keys: best, more };
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
    return readSnapshotSlice((await this.#callNode(node, (w) => w.snapshot(from, maxBytes, only))) as Buffer);
  }

  /** The partitions whose first replica that is up is `node`. */
  #primaryPartitions(node: number): PartitionSet {
    const { partitions } = this.ring;
    const bits = new Uint8Array(Math.ceil(partitions / 8));
    this.#readReplicas.forEach((up, p) => {
      if (up[0] === node) bits[p >>> 3]! |= 1 << (p & 7);
    });
    return { partitions, bits };
  }

  /** One node's state; `stopped` for an id that is not (or no longer) a node. */
  stateOf(node: number): NodeInfo['state'] {
    return this.#links[node] === undefined ? 'stopped' : this.#stateOf(node);
  }

  #stateOf(id: number): NodeInfo['state'] {
    const state = this.#links[id]!.state;
    if (state === 'up' && this.#refilling.has(id)) return 'joining';
    if (state !== 'up' || this.#next === null) return state;
    if (!this.ring.members.includes(id)) return 'joining';
    if (!this.#next.members.includes(id)) return 'leaving';
    return 'up';
  }

  /** Every node's state and, where it answers, its statistics. */
  async nodes(): Promise<NodeInfo[]> {
    const counts = this.ring.partitionCounts();
    const ids = new Set([...this.ring.members, ...(this.#next?.members ?? [])]);
    return Promise.all(
      [...ids]
        .sort((x, y) => x - y)
        .map(async (id): Promise<NodeInfo> => {
          const link = this.#links[id]!;
          const info: NodeInfo = {
            id,
            state: this.#stateOf(id),
            partitions: counts.get(id) ?? 0,
            hints: this.#hints.pending(link.id),
            hintsDropped: this.#hints.dropped(link.id),
          };
          if (link.state !== 'up') return info;
          try {
            const stats = (await this.#callNode(link.id, (w) => w.stats())) as Buffer;
            return { ...info, ...(JSON.parse(stats.toString('utf8')) as NodeStats) };
          } catch (err) {
            return { ...info, error: (err as ThunderError).code };
          }
        }),
    );
  }

  /** What the coordinator did besides answering. */
  coordinatorStats(): CoordinatorStats {
    return {
      // Counts read live: the copies add to `copied` slice by slice.
      transfers: [...this.#transfers.values()].map(({ transfer, copied }) => ({
        ...transfer,
        keys: copied.keys,
        bytes: copied.bytes,
      })),
      antiEntropy: { ...this.#antiEntropy },
      readRepairs: this.#readRepairs,
      tombstonesAwaitingPurge: this.#purger.waiting,
      tombstonesPurged: this.#purger.purged,
    };
  }

  /**
   * Stops one node processing for `ms`, as a long GC pause would; its queue waits. Resolves
   * when the node answers again (or rejects with NODE_TIMEOUT if that takes longer than
   * the timeout). For fault tests.
   */
  async pause(node: number, ms: number): Promise<void> {
    await this.#callNode(node, (w) => w.pause(ms));
  }

  /**
   * Kills one node's thread, as a crash would: its memory is gone, what waited on it fails,
   * and its replicas carry on. For fault tests and demos.
   */
  crash(node: number): Promise<void> {
    this.#refilling.delete(node);
    return this.#links[node]!.crash();
  }

  /**
   * Brings a crashed node back: a new, empty thread, which takes writes at once and is
   * refilled while traffic goes on: first the hints kept for it are replayed, then every
   * partition it holds a replica of is copied to it from the other replicas up. Only then is
   * it asked for reads (`joining` until then), so no read is answered from a half-filled
   * node. Resolves with what the refill did.
   */
  async restart(node: number): Promise<Refilled> {
    const link = this.#links[node];
    if (link === undefined) throw new RangeError(`no node ${node}`);
    const started = this.#clock.now();
    this.#refilling.add(node);
    try {
      await link.restart();
      this.#findUpReplicas();
      const hints = await this.replayHints(node);
      const copied = await this.#refill(node);
      return { node, hints, ...copied, ms: this.#clock.now() - started };
    } finally {
      this.#refilling.delete(node);
      this.#transfers.delete(node);
      this.#findUpReplicas();
    }
  }

  /**
   * Replays the hints kept for `node`, oldest first, each with its original version: a
   * replica holding a newer write keeps it, so replaying twice changes nothing. Resolves
   * with how many were sent; hints the node fails (it went down again) are kept.
   */
  async replayHints(node: number): Promise<number> {
    const hints = this.#hints.take(node);
    const failed: Hint[] = [];
    await Promise.all(
      hints.map(
        (hint) =>
          new Promise<void>((resolve) =>
            this.sendKey(
              node,
              { settle: () => resolve(), fail: () => (failed.push(hint), resolve()) },
              0,
              hint.op,
              hint.key,
              hint.version,
              hint.value ?? undefined,
            ),
          ),
      ),
    );
    for (const hint of failed)
      this.#hints.add(node, hint.op, hint.key, hint.version, hint.value ?? undefined);
    return hints.length - failed.length;
  }

  /** Copies to `node` every partition it holds a replica of, from each other replica up. */
  async #refill(node: number): Promise<Omit<Refilled, 'node' | 'hints' | 'ms'>> {
    const { ring } = this;
    const mine = new Uint8Array(Math.ceil(ring.partitions / 8));
    let partitions = 0;
    const sources = new Set<number>();
    for (let p = 0; p < ring.partitions; p++) {
      if (!ring.preferenceList(p).includes(node)) continue;
      mine[p >>> 3]! |= 1 << (p & 7);
      partitions++;
      for (const other of this.#readReplicas[p]!) sources.add(other);
    }
    const transfer: Transfer = {
      node,
      kind: 'refill',
      partitions,
      keys: 0,
      bytes: 0,
      sourcesDone: 0,
      sources: sources.size,
    };
    const copied: CopyCount = { keys: 0, bytes: 0, failed: 0, firstError: null };
    this.#transfers.set(node, { transfer, copied });
    for (const source of sources) {
      // Only the partitions both hold: another source covers the rest.
      const both = new Uint8Array(mine.length);
      for (let p = 0; p < ring.partitions; p++) {
        if (mine[p >>> 3]! & (1 << (p & 7)) && ring.preferenceList(p).includes(source))
          both[p >>> 3]! |= 1 << (p & 7);
      }
      try {
        await copyPartitions(
          this.#copyChannel,
          source,
          { partitions: ring.partitions, bits: both },
          () => [node],
          copied,
        );
      } catch {
        // The source went down part-way: the other sources still copy theirs.
      }
      transfer.sourcesDone++;
    }
    return { partitions, ...copied };
  }

  /**
   * One round of anti-entropy: every node up reports its partitions' digests; for each
   * partition whose replicas up disagree, each of them copies its records of it to the
   * others (newest version wins on every replica), so a replica that missed writes
   * converges without stopping traffic. Only partitions that differ are exchanged.
   * Resolves with how many partitions differed.
   */
  async antiEntropy(): Promise<number> {
    if (this.#antiEntropy.running) return 0;
    this.#antiEntropy.running = true;
    try {
      const { ring } = this;
      const digests = new Map<number, Uint32Array>();
      await Promise.all(
        this.#links
          .filter((link) => link.state === 'up' && !this.#refilling.has(link.id))
          .map(async (link) => {
            try {
              const payload = (await this.#callNode(link.id, (w) => w.digests())) as Buffer;
              digests.set(link.id, new Uint32Array(Uint8Array.from(payload).buffer));
            } catch {
              // Not answering: not compared this round.
            }
          }),
      );
      const differing = new Map<number, Uint8Array>(); // source node → its partitions to copy
      let count = 0;
      for (let p = 0; p < ring.partitions; p++) {
        const replicas = this.#readReplicas[p]!.filter((node) => digests.has(node));
        if (replicas.length < 2) continue;
        const first = digests.get(replicas[0]!)![p];
        if (replicas.every((node) => digests.get(node)![p] === first)) continue;
        count++;
        for (const node of replicas) {
          let bits = differing.get(node);
          if (bits === undefined)
            differing.set(node, (bits = new Uint8Array(Math.ceil(ring.partitions / 8))));
          bits[p >>> 3]! |= 1 << (p & 7);
        }
      }
      for (const [source, bits] of differing) {
        const targets = (p: number) => this.#readReplicas[p]!.filter((node) => node !== source);
        try {
          const copied = await copyPartitions(
            this.#copyChannel,
            source,
            { partitions: ring.partitions, bits },
            targets,
          );
          this.#antiEntropy.recordsCopied += copied.keys;
        } catch {
          // The source went down part-way: the next round tries again.
        }
      }
      this.#antiEntropy.runs++;
      this.#antiEntropy.partitionsRepaired += count;
      return count;
    } finally {
      this.#antiEntropy.running = false;
    }
  }

  /** Runs anti-entropy every `antiEntropyMs` on the cluster's clock (never with 0). */
  #armAntiEntropy(): void {
    if (this.#antiEntropyMs === 0) return;
    this.#disarmAntiEntropy = this.#clock.setTimer(this.#antiEntropyMs, () => {
      void this.antiEntropy().finally(() => {
        if (this.#disarmAntiEntropy !== null) this.#armAntiEntropy();
      });
    });
  }

  /** How partition copies reach nodes: scans as node calls, writes queued like any other. */
  readonly #copyChannel: CopyChannel = {
    scan: async (node, from, maxBytes, only) =>
      readRecordSlice((await this.#callNode(node, (w) => w.scanRecords(from, maxBytes, only))) as Buffer),
    write: (node, sink, op, key, hash, version, value) => {
      const link = this.#links[node]!;
      const writer = link.writerFor(sink, 0);
      if (writer === null) return;
      writer.key(op, key, key.length, hash, version, value ?? undefined);
      link.add(sink, 0);
      this.#schedule();
    },
  };

  /**
   * Adds a node: starts its thread, then moves it its share of partition copies (the fewest
   * the ring can move: see Ring.withNode) while reads and writes go on. Writes go to a
   * moving partition's old and new replicas both; reads stay on the old ones until every
   * copy is done, then the ring flips and the copies the old replicas gave up are dropped.
   */
  async addNode(): Promise<MembershipChange> {
    this.#beginChange();
    const id = this.#links.length;
    try {
      const link = new NodeLink(id, this.#linkOptions, this.#onStateChange);
      this.#links.push(link);
      await link.ready();
      return { id, ...(await this.#moveTo(this.ring.withNode(id), 'join', id)) };
    } finally {
      this.#endChange();
    }
  }

  /**
   * Decommissions a node: moves every partition copy it holds to the other nodes (as
   * {@link addNode} moves, writes going to both), flips the ring, then stops its thread.
   */
  async removeNode(id: number): Promise<MembershipChange> {
    if (!this.ring.members.includes(id)) throw new NotFoundError(`node ${id} is not in the ring`);
    const next = this.#ringWithout(id);
    this.#beginChange();
    try {
      const moved = await this.#moveTo(next, 'leave', id);
      await this.#links[id]!.stop();
      return { id, ...moved };
    } finally {
      this.#endChange();
    }
  }

  /**
   * What adding a node (`add`) or removing node `remove` would move, counted on the real
   * data (each moving partition's records on the replica it would be copied from), and
   * nothing moves: Riak's `cluster plan`, exact.
   */
  async plan(change: { add: number } | { remove: number }): Promise<Moved> {
    const next = 'add' in change ? this.ring.withNode(this.#links.length) : this.#ringWithout(change.remove);
    if ('add' in change && change.add !== 1)
      throw new BadRequestError('a plan adds one node at a time: add=1');
    const moves = this.ring.movesTo(next);
    const stats = new Map<number, { records: Uint32Array; bytes: Float64Array }>();
    const moved: Moved = { partitions: moves.length, keys: 0, bytes: 0 };
    for (const move of moves) {
      const source = this.#sourceOf(move);
      if (source === null) continue;
      let of = stats.get(source);
      if (of === undefined) stats.set(source, (of = await this.#partitionStats(source)));
      moved.keys += of.records[move.partition]!;
      moved.bytes += of.bytes[move.partition]!;
    }
    return moved;
  }

  #ringWithout(id: number): Ring {
    if (!this.ring.members.includes(id)) throw new NotFoundError(`node ${id} is not in the ring`);
    if (this.ring.nodes - 1 < this.ring.replicas) {
      throw new ConflictError(
        `${this.ring.nodes - 1} nodes cannot hold ${this.ring.replicas} replicas of each key: add a node first`,
      );
    }
    return this.ring.withoutNode(id);
  }

  #changing = false;

  #beginChange(): void {
    if (this.#changing)
      throw new ConflictError('a node is joining or leaving already; wait for it to finish');
    this.#changing = true;
  }

  #endChange(): void {
    this.#changing = false;
  }

  /** The node a move copies from: the first of the partition's old replicas that is up and is not the target. */
  #sourceOf(move: Move): number | null {
    return move.from.find((node) => node !== move.target && this.#links[node]?.state === 'up') ?? null;
  }

  async #partitionStats(node: number): Promise<{ records: Uint32Array; bytes: Float64Array }> {
    const payload = (await this.#callNode(node, (w) => w.partitionStats())) as Buffer;
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
    const started = this.#clock.now();
    const moves = this.ring.movesTo(next);
    this.#next = next;
    this.#findUpReplicas();
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
    this.#transfers.set(node, { transfer, copied });
    try {
      // One copy per (source, target): all the partitions that pair moves, in one walk.
      const pairs = new Map<string, { source: number; target: number; bits: Uint8Array }>();
      for (const move of moves) {
        const source = this.#sourceOf(move);
        if (source === null) continue; // no replica up holds it: nothing to copy
        const id = `${source}>${move.target}`;
        let pair = pairs.get(id);
        if (pair === undefined) {
          pairs.set(
            id,
            (pair = { source, target: move.target, bits: new Uint8Array(Math.ceil(next.partitions / 8)) }),
          );
        }
        pair.bits[move.partition >>> 3]! |= 1 << (move.partition & 7);
      }
      transfer.sources = pairs.size;
      // Every (source, target) pair at once: each keeps one slice in flight, and a join's
      // sources are all the old nodes.
      await Promise.all(
        [...pairs.values()].map(async ({ source, target, bits }) => {
          const only = { partitions: next.partitions, bits };
          await copyPartitions(this.#copyChannel, source, only, () => [target], copied);
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
      const before = this.ring;
      this.ring = next;
      this.#next = null;
      this.#transfers.delete(node); // the copy is over; dropping what moved away is not a transfer
      this.#findUpReplicas();
      await this.#dropMovedAway(before, next);
      return {
        moved: { partitions: moves.length, keys: copied.keys, bytes: copied.bytes },
        ms: this.#clock.now() - started,
      };
    } finally {
      this.#next = null;
      this.#transfers.delete(node);
      this.#findUpReplicas();
    }
  }

  /** Has every node still up drop the partitions it replicated in `before` and does not in `after`. */
  async #dropMovedAway(before: Ring, after: Ring): Promise<void> {
    const lost = new Map<number, Uint8Array>();
    for (let p = 0; p < before.partitions; p++) {
      const now = after.preferenceList(p);
      for (const node of before.preferenceList(p)) {
        if (now.includes(node) || this.#links[node]?.state !== 'up') continue;
        let bits = lost.get(node);
        if (bits === undefined) lost.set(node, (bits = new Uint8Array(Math.ceil(before.partitions / 8))));
        bits[p >>> 3]! |= 1 << (p & 7);
      }
    }
    await Promise.all(
      [...lost].map(async ([node, bits]) => {
        const only = { partitions: before.partitions, bits };
        try {
          for (let from = 0; from < HASH_SPACE;) {
            const payload = (await this.#callNode(node, (w) => w.dropPartitions(from, only))) as Buffer;
            from = payload.readDoubleLE(0);
          }
        } catch {
          // A node that went down lost its memory anyway.
        }
      }),
    );
  }

  /** Keeps a write as a hint for each replica of its partition that is down. */
  #hint(
    partition: number,
    op: typeof Op.Put | typeof Op.Delete,
    key: string,
    version: number,
    value?: Uint8Array | string,
  ): void {
    for (let i = 0; i < this.ring.replicas; i++) {
      const node = this.ring.replicaOf(partition, i);
      if (this.#links[node]!.state !== 'up') this.#hints.add(node, op, key, version, value);
    }
  }

  /** Stops every node thread. */
  async close(): Promise<void> {
    this.#purger.stop();
    this.#disarmAntiEntropy?.();
    this.#disarmAntiEntropy = null;
    await Promise.all(this.#links.map((link) => link.stop()));
  }
}

/** Acknowledgements nobody waits for (purges). */
const IGNORE: ReplySink = { settle() {}, fail() {} };
