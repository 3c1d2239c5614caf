import type { ReplySink } from '../transport/batcher.js';
import {
  ConflictError,
  errorFromWire,
  NotFoundError,
  errorToWire,
  NodeUnavailableError,
  NotImplementedError,
  PreconditionFailedError,
  QuorumNotMetError,
  type ThunderError,
} from '../errors.js';
import { HybridClock } from '../time/hlc.js';
import { KeyBytes } from '../ring/key-bytes.js';
import { KeyCalls, type Consistency, type KeyOp, type KeySink, type ReplicaSender } from './key-call.js';
import { systemClock, type Clock } from '../time/clock.js';
import { NodeLink, type LinkOptions, type NodeState } from '../transport/node-link.js';
import { HASH_SPACE } from '../ring/murmur3.js';
import {
  Op,
  type NodeStats,
  type PartitionSet,
  type RecordSlice,
  type SnapshotSlice,
} from '../wire/protocol.js';
import { addPartition, emptyPartitionSet } from '../ring/partition-set.js';
import { Ring, type Location } from '../ring/ring.js';
import { Purger } from './purger.js';
import { ExpirySweeper } from './expiry-sweeper.js';
import { envelope, envelopeExpiresAt } from '../expiry.js';
import { Hints } from './hints.js';
import { checkFault, Network, type Fault } from '../sim/network.js';
import { threadRunner, type NodeRunner } from '../transport/node-runner.js';
import type { LatencyHistogram } from '../time/latency-histogram.js';
import { checkRedisPrefix, type StorageOptions } from '../storage/options.js';
import { claimDataDir } from '../storage/data-dir.js';
import { checkPause, type PauseFault } from '../sim/pause-fault.js';
import { newSeed } from '../time/rng.js';
import { Membership, type MembershipChange, type MembershipHost, type Moved } from './membership.js';
import {
  DEFAULT_ANTI_ENTROPY_MS,
  Recovery,
  type AntiEntropyStats,
  type Refilled,
  type RecoveryHost,
} from './recovery.js';
import { Transfers, type Transfer } from './transfers.js';
import type { CopyChannel } from './partition-copy.js';
import {
  readListPage,
  type ListPageView,
  readRecordSlice,
  readSnapshotSlice,
  recordVersion,
  type BatchWriter,
  type Result,
} from '../wire/wire.js';

export type { Consistency, KeyOp, KeySink } from './key-call.js';
export type { Moved, MembershipChange } from './membership.js';
export { DEFAULT_ANTI_ENTROPY_MS, type AntiEntropyStats, type Refilled } from './recovery.js';
export type { Transfer } from './transfers.js';

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
   * Where nodes run: a thread each (default), or inline on a simulated loop for the
   * deterministic mode (`inlineRunner` of src/transport/inline-runner.ts, with that loop as `clock`).
   */
  runner?: NodeRunner;
  /**
   * Where each node keeps a copy of its data beyond memory (`--storage log` or `redis`),
   * replayed when the node starts. Default: memory only. Threads only.
   */
  storage?: StorageOptions;
  /**
   * The seed every random choice of the simulation derives from (the network's fault
   * decisions). Default: a fresh one; `Cluster.seed` says which, so a run can be repeated.
   */
  seed?: number;
  /**
   * How often replicas compare their partition digests and copy what differs, in ms; 0:
   * never (a restarted node is still refilled). Default {@link DEFAULT_ANTI_ENTROPY_MS}.
   */
  antiEntropyMs?: number;
  /**
   * How often each node purges the values that expired more than the tombstone grace period
   * ago, in ms; 0: never (expired values still read as absent). Default
   * {@link DEFAULT_EXPIRY_SWEEP_MS}.
   */
  expirySweepMs?: number;
}

/** Default {@link ClusterOptions.expirySweepMs}: 1 s. */
export const DEFAULT_EXPIRY_SWEEP_MS = 1000;

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
  /**
   * Partitions being copied to it (a refill, a join) or from it (a leave) right now: the
   * copies of `coordinator.transfers` that concern this node.
   */
  partitionsUnderRepair: number;
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
  /** Values that expire, held by every replica, waiting for their expiry and the grace period. */
  expiredAwaitingPurge: number;
  /** Expired values purged from every replica since start. */
  expiredPurged: number;
  /** Expired values cleared into tombstones by the sweeps, summed over replicas. */
  expiredCleared: number;
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

/** A reply with its version, as a {@link KeySink} hears it. */
interface Versioned {
  reply: Result;
  version: number;
  /** A value read: when it expires, Unix ms; 0: never. */
  expiresAt: number;
}

/** Resolves a promise with one reply: the adapter behind the convenience methods. */
class PromiseSink implements ReplySink, KeySink {
  constructor(
    readonly resolve: (answer: Versioned) => void,
    readonly reject: (error: ThunderError) => void,
  ) {}
  settle(_tag: number, reply: Result, version = 0, expiresAt = 0): void {
    // A Buffer reply is a view into a node's reply, valid during this call only.
    this.resolve({ reply: reply instanceof Buffer ? Buffer.from(reply) : reply, version, expiresAt });
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
  readonly #purger: Purger;
  readonly #sweeper: ExpirySweeper;
  readonly #expiryPurger: Purger;
  /**
   * Whether a node may hold a value that expires: once a TTL write has been sent, or from
   * the start when nodes replay a journal (which may hold some).
   */
  #mayExpire: boolean;
  /**
   * Per partition, in preference order, the replicas a read asks (up, and not being
   * refilled) and those a write goes to (up, refilling or not); rebuilt when a node's state
   * changes.
   */
  #readReplicas: number[][] = [];
  #writeReplicas: number[][] = [];
  /** Writes meant for replicas that were down. */
  readonly #hints = new Hints();
  /** Copies under way (refills, joins, leaves), for `GET /cluster`. */
  readonly #transfers = new Transfers();
  readonly #recovery: Recovery;
  readonly #membership: Membership;
  readonly #clock: Clock;
  /** Per node, the build of its order of keys under way (see {@link list}). */
  readonly #keyOrderBuilds = new Map<number, Promise<void>>();
  readonly #linkOptions: LinkOptions;
  readonly #seed: number;
  /** With `--storage log` or `redis`: where the nodes keep their data. */
  readonly #storage: StorageOptions | undefined;
  /** With `--storage redis`: lets go of the claimed prefix. */
  readonly #releaseStorage: (() => Promise<void>) | undefined;
  /** Node pauses in force, by fault id. */
  readonly #pauses = new Map<number, PauseFault>();
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
    expirySweepMs: number,
    seed: number,
    storage: StorageOptions | undefined,
    releaseStorage: (() => Promise<void>) | undefined,
  ) {
    this.#storage = storage;
    this.#mayExpire = storage !== undefined;
    this.#releaseStorage = releaseStorage;
    this.ring = ring;
    this.replication = replication;
    this.consistency = { r: replication.r, w: replication.w, repair: 'async' };
    this.#hlc = new HybridClock(() => clock.wall());
    this.#purger = new Purger(clock, replication.tombstoneGraceMs, (key, version) =>
      this.#sendToReplicas(Op.Purge, key, version),
    );
    this.#clock = clock;
    this.#linkOptions = links;
    this.#seed = seed;
    this.#recovery = new Recovery(this.#recoveryHost(), antiEntropyMs);
    this.#sweeper = new ExpirySweeper(clock, expirySweepMs, replication.tombstoneGraceMs, {
      mayExpire: () => this.#mayExpire,
      upNodes: () => this.#links.filter((link) => link.state === 'up').map((link) => link.id),
      clearExpired: async (node, from, cutoff) => {
        const reply = (await this.#callNode(node, (w) => w.clearExpired(from, cutoff))) as Buffer;
        return { next: reply.readDoubleLE(0), cleared: reply.readUInt32LE(8) };
      },
    });
    this.#expiryPurger = new Purger(clock, replication.tombstoneGraceMs, (key, version) =>
      this.#sendToReplicas(Op.Purge, key, version),
    );
    this.#membership = new Membership(this.#membershipHost());
    this.#links = Array.from({ length: ring.nodes }, (_, id) => new NodeLink(id, links, this.#onStateChange));
    this.#findUpReplicas();
  }

  /** Starts the node threads and resolves once every one holds its port. */
  static async start(options: ClusterOptions = {}): Promise<Cluster> {
    const {
      timeoutMs = DEFAULT_TIMEOUT_MS,
      clock = systemClock,
      antiEntropyMs = DEFAULT_ANTI_ENTROPY_MS,
      expirySweepMs = DEFAULT_EXPIRY_SWEEP_MS,
    } = options;
    if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1) {
      throw new RangeError(`timeoutMs must be a positive integer, got ${timeoutMs}`);
    }
    if (!Number.isSafeInteger(antiEntropyMs) || antiEntropyMs < 0) {
      throw new RangeError(`antiEntropyMs must be an integer ≥ 0, got ${antiEntropyMs}`);
    }
    if (!Number.isSafeInteger(expirySweepMs) || expirySweepMs < 0) {
      throw new RangeError(`expirySweepMs must be an integer ≥ 0, got ${expirySweepMs}`);
    }
    const replication = replicationFor(options);
    const ring = new Ring({
      nodes: options.nodes ?? 3,
      partitions: options.partitions ?? 1024,
      replicas: replication.replicas,
    });
    const seed = options.seed ?? newSeed();
    if (!Number.isSafeInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new RangeError(`seed must be an integer from 0 to 4294967295, got ${seed}`);
    }
    /** Lets go of the Redis prefix the cluster claimed, when it closes. */
    let releaseStorage: (() => Promise<void>) | undefined;
    if (options.storage !== undefined) {
      if (options.runner !== undefined)
        throw new RangeError('storage needs nodes on threads, not an inline runner');
      const settings = { nodes: ring.nodes, partitions: ring.partitions, replicas: ring.replicas };
      if (options.storage.kind === 'log') claimDataDir(options.storage.dataDir, settings);
      else {
        checkRedisPrefix(options.storage.prefix);
        // Loaded only when used: ioredis takes about 50 ms to load.
        const { claimRedisPrefix } = await import('../storage/redis-claim.js');
        releaseStorage = await claimRedisPrefix(options.storage.target, options.storage.prefix, settings);
      }
    }
    const network = new Network(seed, clock);
    const cluster = new Cluster(
      ring,
      replication,
      {
        clock,
        timeoutMs,
        partitions: ring.partitions,
        network,
        runner: options.runner ?? threadRunner(options.storage, seed),
      },
      clock,
      antiEntropyMs,
      expirySweepMs,
      seed,
      options.storage,
      releaseStorage,
    );
    try {
      await Promise.all(
        cluster.#links.map((link) => link.ready().then(() => options.onNodeReady?.(link.id))),
      );
    } catch (err) {
      await cluster.close();
      throw err;
    }
    cluster.#recovery.start();
    cluster.#sweeper.start();
    return cluster;
  }

  /** The seed of this run's simulated randomness. */
  get seed(): number {
    return this.#seed;
  }

  /** The faults in force: the network's, and node pauses not yet over. */
  faults(): (Fault | PauseFault)[] {
    return [...this.#linkOptions.network.list(), ...this.#pauses.values()];
  }

  /**
   * Puts a fault in force (checked first: a bad one is a BadRequestError). A `pause` stops
   * each named node processing for `ms`, as a long GC pause would (its queue waits), and
   * ends by itself; the others last until healed.
   */
  addFault(spec: unknown): Fault | PauseFault {
    const network = this.#linkOptions.network;
    if (typeof spec === 'object' && spec !== null && (spec as { type?: unknown }).type === 'pause') {
      const pause = checkPause(spec, this.ring.members, network.reserveId());
      this.#pauses.set(pause.id, pause);
      // Listed for its `ms` on the cluster's clock: the node's answer may come later (its
      // queue waits behind the pause) or be lost (a NODE_TIMEOUT), and neither ends it.
      for (const node of pause.nodes) this.pause(node, pause.ms).catch(() => {});
      this.#clock.setTimer(pause.ms, () => this.#pauses.delete(pause.id));
      return pause;
    }
    return network.add(checkFault(spec, this.ring.members));
  }

  /** Heals one fault (a pause runs its course); false if none has that id. */
  healFault(id: number): boolean {
    return this.#linkOptions.network.remove(id);
  }

  /** Heals every network fault. */
  healAll(): void {
    this.#linkOptions.network.clear();
  }

  /** During a join or a leave, the ring being moved to; null otherwise. */
  get nextRing(): Ring | null {
    return this.#next;
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
      ring.preferenceList(p).filter((node) => up(node) && !this.#recovery.isRefilling(node)),
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
    const write = op === Op.Put || op === Op.PutExpiring || op === Op.Delete;
    const up = (write ? this.#writeReplicas : this.#readReplicas)[partition]!;
    const needed = op === Op.Size ? 1 : Math.min(write ? consistency.w : consistency.r, this.ring.replicas);
    if (up.length < needed) {
      const error = new QuorumNotMetError(
        `${up.length} of ${this.ring.replicas} replicas are up; ${write ? 'W' : 'R'} = ${needed}`,
      );
      // Said outright, so a client knows this write certainly did not happen.
      if (write) error.details.applied = false;
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
    const expiresAt = op === Op.PutExpiring ? envelopeExpiresAt(value!) : 0;
    if (expiresAt !== 0) this.#mayExpire = true;
    const base = calls.begin(
      sink,
      tag,
      op,
      key,
      nodes,
      needed,
      consistency.repair === 'sync',
      version,
      expiresAt,
    );
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
    const bytes = this.#followUpKey;
    this.submitTo(node, sink, tag, (writer) => {
      const length = bytes.encode(key);
      writer.key(op, bytes.buffer, length, bytes.hash(), version, value);
    });
  }

  tombstoneWritten(key: string, version: number, acks: number): void {
    if (acks === this.ring.replicas) this.#purger.add(key, version);
  }

  expiringWritten(key: string, version: number, expiresAt: number, acks: number): void {
    if (acks === this.ring.replicas) this.#expiryPurger.add(key, version, expiresAt);
  }

  repaired(): void {
    this.#readRepairs++;
  }

  /** The coordinator's wall clock, Unix ms: the time versions and expiries are stamped with. */
  wall(): number {
    return this.#clock.wall();
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
      const current = await this.#callKey(Op.Get, key, undefined, { ...consistency, r }).catch(
        (err: ThunderError) => {
          // The check failed: nothing was written. A copy says so, since the error caught
          // may be shared by every call of a batch, unconditional writes among them.
          const refused = errorFromWire(errorToWire(err));
          refused.details = { ...err.details, applied: false };
          throw refused;
        },
      );
      const version = current.reply === null ? 0 : current.version;
      if (!meets(condition, version)) {
        const name = JSON.stringify(key);
        const error = new PreconditionFailedError(
          version === 0
            ? `key ${name} has no value`
            : 'ifMatch' in condition
              ? `key ${name} is at another version`
              : `key ${name} exists${condition.ifNoneMatch === '*' ? '' : ' at a version If-None-Match names'}`,
        );
        if (version !== 0) error.details.etag = `"${version}"`;
        return sink.fail(tag, error);
      }
      // Newer than whatever was read, a tombstone or an expired value too: after a restart,
      // versions stored under a bulk load can be ahead of this clock, and a write no newer
      // than them would be dropped by every replica while answering success.
      this.#hlc.observe(current.version);
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

  /** Queues one operation, written by `write`, on a given node (slices, stats, repairs, copies; tests). */
  submitTo(node: number, sink: ReplySink, tag: number, write: (writer: BatchWriter) => void): void {
    const link = this.#links[node]!;
    const writer = link.writerFor(sink, tag);
    if (writer === null) return;
    write(writer);
    link.add(sink, tag);
    this.#schedule();
  }

  #schedule(): void {
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      this.#clock.defer(this.#flush);
    }
  }

  #callKey(
    op: KeyOp,
    key: string,
    value?: Uint8Array | string,
    consistency?: Consistency,
    condition?: WriteCondition,
  ): Promise<Versioned> {
    return new Promise((resolve, reject) =>
      this.submit(new PromiseSink(resolve, reject), 0, op, key, value, consistency, condition),
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

  /** Stores a value that expires at `expiresAt` (Unix ms, on the cluster's clock); resolves to its version. */
  async putExpiring(
    key: string,
    value: Uint8Array | string,
    expiresAt: number,
    consistency?: Consistency,
  ): Promise<number> {
    return (await this.#callKey(Op.PutExpiring, key, envelope(expiresAt, value), consistency)).version;
  }

  /**
   * Stores a value, or deletes the key (`value` null), only if the key meets `condition`;
   * resolves to the write's version, rejects with PRECONDITION_FAILED if it does not.
   */
  async putIf(
    key: string,
    value: Uint8Array | string | null,
    condition: WriteCondition,
    consistency?: Consistency,
  ): Promise<number> {
    const op = value === null ? Op.Delete : Op.Put;
    return (await this.#callKey(op, key, value ?? undefined, consistency, condition)).version;
  }

  /**
   * Where a key lives, and what each replica of the ring in force holds of it: its version
   * (negative for a tombstone, 0 for nothing), or null when the replica did not answer.
   */
  async locate(
    key: string,
  ): Promise<Location & { states: NodeInfo['state'][]; versions: (number | null)[] }> {
    const where = this.ring.locate(key);
    const versions = await Promise.all(
      where.replicas.map((node) =>
        new Promise<Versioned>((resolve, reject) =>
          this.sendKey(node, new PromiseSink(resolve, reject), 0, Op.Get, key, 0),
        ).then(
          ({ reply }) => (reply === null ? 0 : recordVersion(reply as Buffer)),
          () => null,
        ),
      ),
    );
    return { ...where, states: where.replicas.map((node) => this.stateOf(node)), versions };
  }

  /** Deletes a key (a tombstone on every replica); true if a replica that acknowledged held it. */
  async delete(key: string, consistency?: Consistency): Promise<boolean> {
    return (await this.#callKey(Op.Delete, key, undefined, consistency)).reply === 1;
  }

  /**
   * Up to `limit` keys with `prefix`, greater than `after`, in UTF-8 byte order (code point
   * order), gathered from every node, each key once however many replicas hold it. Each node
   * answers from its order of keys (src/node/key-order.ts) with its first `limit + 1`, and
   * this merges those: a page costs about a page per node. A node still building its order
   * answers "not ready" after each bounded step, so key operations interleave with the build.
   */
  async list(prefix: string, after: string, limit: number): Promise<{ keys: string[]; more: boolean }> {
    const pages = await Promise.all(
      this.ring.members.map(async (id) => {
        for (;;) {
          // limit + 1: one more than the page says whether another page follows.
          const page = readListPage(
            (await this.#callNode(id, (w) => w.list(prefix, after, limit + 1, this.#clock.wall()))) as Buffer,
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
        readListPage((await this.#callNode(id, (w) => w.list('', '', 1, this.#clock.wall()))) as Buffer)
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
      (await this.#callNode(node, (w) => w.snapshot(from, maxBytes, only, this.#clock.wall()))) as Buffer,
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
      (await this.#callNode(node, (w) => w.scanRecords(from, maxBytes, only))) as Buffer,
    );
  }

  /** The partitions whose first replica that is up is `node`. */
  #primaryPartitions(node: number): PartitionSet {
    const set = emptyPartitionSet(this.ring.partitions);
    this.#readReplicas.forEach((up, p) => {
      if (up[0] === node) addPartition(set, p);
    });
    return set;
  }

  /** One node's state; `stopped` for an id that is not (or no longer) a node. */
  stateOf(node: number): NodeInfo['state'] {
    return this.#links[node] === undefined ? 'stopped' : this.#stateOf(node);
  }

  #stateOf(id: number): NodeInfo['state'] {
    const state = this.#links[id]!.state;
    if (state === 'up' && this.#recovery.isRefilling(id)) return 'joining';
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
            partitionsUnderRepair: this.#transfers.partitionsOf(id),
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

  /** How long node `id`'s batches have taken, sent to answered, since it was added. */
  roundTripsOf(id: number): LatencyHistogram | undefined {
    return this.#links[id]?.roundTrips;
  }

  /** What the coordinator did besides answering. */
  coordinatorStats(): CoordinatorStats {
    return {
      transfers: this.#transfers.list(),
      antiEntropy: this.#recovery.antiEntropyStats,
      readRepairs: this.#readRepairs,
      tombstonesAwaitingPurge: this.#purger.waiting,
      tombstonesPurged: this.#purger.purged,
      expiredAwaitingPurge: this.#expiryPurger.waiting,
      expiredPurged: this.#expiryPurger.purged,
      expiredCleared: this.#sweeper.cleared,
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
    if (this.#links[node] === undefined)
      return Promise.reject(new NotFoundError(`no node ${node} in the cluster`));
    this.#recovery.ended(node);
    return this.#links[node]!.crash();
  }

  /** See {@link Recovery.restart}: a crashed node back, refilled while traffic goes on. */
  restart(node: number): Promise<Refilled> {
    const state = this.stateOf(node);
    if (state === 'stopped') return Promise.reject(new NotFoundError(`no node ${node} in the cluster`));
    if (state !== 'down') {
      return Promise.reject(
        new ConflictError(`node ${node} is ${state}; only a node that is down can be restarted`),
      );
    }
    return this.#recovery.restart(node);
  }

  /** See {@link Recovery.replayHints}. */
  replayHints(node: number): Promise<number> {
    return this.#recovery.replayHints(node);
  }

  /**
   * What the expiry timers do, now (for tests on a moved clock): purges the values every
   * replica holds whose expiry and grace period have passed, then sweeps every node (see
   * {@link ExpirySweeper.sweep}); resolves to the values the sweep cleared.
   */
  sweepExpired(): Promise<number> {
    this.#expiryPurger.purgeDue();
    return this.#sweeper.sweep();
  }

  /** See {@link Recovery.antiEntropy}: one round, now. */
  antiEntropy(): Promise<number> {
    return this.#recovery.antiEntropy();
  }

  /** See {@link Membership.addNode}. */
  addNode(): Promise<MembershipChange> {
    this.#refuseMembershipWithLogs();
    return this.#membership.addNode();
  }

  /** See {@link Membership.removeNode}. */
  removeNode(id: number): Promise<MembershipChange> {
    this.#refuseMembershipWithLogs();
    return this.#membership.removeNode(id);
  }

  /** The ring is not kept on disk, so a changed one would be forgotten at the next start. */
  #refuseMembershipWithLogs(): void {
    if (this.#storage !== undefined) {
      throw new NotImplementedError(
        `nodes cannot join or leave a cluster with --storage ${this.#storage.kind}: the ring is not stored, so the next start would route keys to nodes that do not hold them`,
      );
    }
  }

  /** See {@link Membership.plan}. */
  plan(change: { add: number } | { remove: number }): Promise<Moved> {
    return this.#membership.plan(change);
  }

  /** How partition copies reach nodes: scans as node calls, writes queued like any other. */
  readonly #copyChannel: CopyChannel = {
    scan: async (node, from, maxBytes, only) =>
      readRecordSlice((await this.#callNode(node, (w) => w.scanRecords(from, maxBytes, only))) as Buffer),
    write: (node, sink, tag, op, key, hash, version, value) =>
      this.submitTo(node, sink, tag, (writer) =>
        writer.key(op, key, key.length, hash, version, value ?? undefined),
      ),
  };

  /** What recovery needs of the cluster: its view of nodes and replicas, and its channels. */
  #recoveryHost(): RecoveryHost {
    return {
      ring: () => this.ring,
      readReplicas: (partition) => this.#readReplicas[partition]!,
      upNodes: () => this.#links.filter((link) => link.state === 'up').map((link) => link.id),
      restartNode: (node) => this.#links[node]!.restart(),
      replicasChanged: () => this.#findUpReplicas(),
      sendKey: (...args) => this.sendKey(...args),
      callNode: (node, write) => this.#callNode(node, write),
      copyChannel: this.#copyChannel,
      clock: this.#clock,
      transfers: this.#transfers,
      hints: this.#hints,
    };
  }

  /** What membership changes need of the cluster. */
  #membershipHost(): MembershipHost {
    return {
      ring: () => this.ring,
      moving: (next) => {
        this.#next = next;
        this.#findUpReplicas();
      },
      flip: (next) => {
        this.ring = next;
        this.#next = null;
        this.#findUpReplicas();
      },
      isUp: (node) => this.#links[node]?.state === 'up',
      isRefilling: (node) => this.#recovery.isRefilling(node),
      nextNodeId: () => this.#links.length,
      startNode: async (id) => {
        const link = new NodeLink(id, this.#linkOptions, this.#onStateChange);
        this.#links[id] = link;
        await link.ready();
      },
      stopNode: (id) => {
        this.#recovery.ended(id);
        return this.#links[id]!.stop();
      },
      callNode: (node, write) => this.#callNode(node, write),
      copyChannel: this.#copyChannel,
      clock: this.#clock,
      transfers: this.#transfers,
    };
  }

  /** Keeps a write as a hint for each replica of its partition that is down. */
  #hint(
    partition: number,
    op: typeof Op.Put | typeof Op.PutExpiring | typeof Op.Delete,
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
    this.#sweeper.stop();
    this.#expiryPurger.stop();
    this.#recovery.stop();
    await Promise.all(this.#links.map((link) => link.stop()));
    await this.#releaseStorage?.();
  }
}

/** Acknowledgements nobody waits for (purges). */
const IGNORE: ReplySink = { settle() {}, fail() {} };
