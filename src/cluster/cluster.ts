import type { ReplySink } from '../transport/batcher.js';
import { ConflictError, NotFoundError } from '../errors.js';

import type { Consistency, KeyOp, KeySink } from './key-call.js';
import { systemClock, type Clock } from '../time/clock.js';

import type { LinkOptions } from '../transport/node-link.js';
import type { RecordSlice, SnapshotSlice } from '../wire/protocol.js';
import { Ring } from '../ring/ring.js';

import { Hints } from './hints.js';

import { Network, type Fault } from '../sim/network.js';
import type { ClusterTrace, HintTrace } from '../sim/trace.js';

import { threadRunner, type NodeRunner } from '../transport/node-runner.js';

import type { LatencyHistogram } from '../time/latency-histogram.js';
import { checkKeyPrefix, type StorageOptions } from '../storage/options.js';

import { claimDataDir } from '../storage/data-dir.js';
import { ringOf, ringRecord, type RingRecord, type StoredRing } from '../storage/ring-record.js';

import type { PauseFault } from '../sim/pause-fault.js';
import { newSeed } from '../time/rng.js';

import { Membership, type MembershipChange, type Moved } from './membership.js';

import { Recovery, type AntiEntropyStats, type Refilled } from './recovery.js';
import { Transfers, type Transfer } from './transfers.js';

import { Coordinator, type WriteCondition } from './coordinator.js';
import type { ChangeFeed, FeedOptions } from '../watch/change-feed.js';

import { NodeSet, type NodeView } from './nodes.js';
import { storeShare } from './node-budget.js';

import { Scatter, type Located, type NodeInfo } from './scatter.js';

import { Faults } from './faults.js';

import type { BatchWriter } from '../wire/batch.js';
import {
  DEFAULT_ANTI_ENTROPY_MS,
  DEFAULT_EXPIRY_SWEEP_MS,
  DEFAULT_WATCH_HISTORY,
  DEFAULT_WATCH_HISTORY_MS,
  DEFAULT_TIMEOUT_MS,
  DEFAULT_TOMBSTONE_GRACE_MS,
} from '../config.js';

export type { Consistency, KeyOp, KeySink } from './key-call.js';
export type { Moved, MembershipChange } from './membership.js';
export type { AntiEntropyStats, Refilled } from './recovery.js';
export type { Transfer } from './transfers.js';
export type { WriteCondition } from './coordinator.js';
export type { NodeInfo } from './scatter.js';

/** How a {@link Cluster} is started. */
export interface ClusterOptions {
  /** Node threads to start. Default 3. */
  nodes?: number;
  /**
   * `--max-memory`: the process's memory, in bytes, that the nodes' stores keep within; each
   * node's share ({@link storeShare}) refuses writes that would add to a full store (507
   * OUT_OF_MEMORY). Default unbounded.
   */
  maxMemoryBytes?: number;
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
   * Told of every message, dropped message and hint (src/sim/trace.ts): the deterministic
   * mode's trace, with an inline `runner`. Default none.
   */
  trace?: ClusterTrace;
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
  /**
   * Acknowledged changes kept for watchers that resume, at most ({@link DEFAULT_WATCH_HISTORY}),
   * and for at most this many ms ({@link DEFAULT_WATCH_HISTORY_MS}).
   */
  watchHistory?: number;
  watchHistoryMs?: number;
}

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

/** What the coordinator has done beyond answering requests, as `GET /cluster` shows it. */
export interface CoordinatorStats {
  /** Copies under way. */
  transfers: Transfer[];
  antiEntropy: AntiEntropyStats;
  /** Read repairs sent to stale replicas since start. */
  readRepairs: number;
  /**
   * Records fetched since start because a replica's digest showed a newer version than the
   * record read (or the replica asked for the record failed).
   */
  readFetches: number;
  /**
   * Replica answers since start that the storage backend lost the value of the version the
   * replica holds (`--storage redis`): each is read from another replica and repaired, or
   * the read answers 410 VALUE_LOST.
   */
  valuesLostFound: number;
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
 * A cluster: its nodes and the parts that drive them, behind one door. The replica view and
 * the channels to the nodes live in {@link NodeSet}; the parts above it each call down into
 * it and nowhere else: the {@link Coordinator} (key operations and their quorums),
 * {@link Scatter} (reads of every node: listings, slices, statistics), {@link Recovery}
 * (restarts, refills, hints, anti-entropy), {@link Membership} (joins, leaves, plans) and
 * {@link Faults}. This class starts them, checks the options, and hands each call to the
 * part that owns it.
 */
export class Cluster {
  readonly replication: Replication;
  readonly #nodes: NodeSet;
  readonly #coordinator: Coordinator;
  readonly #scatter: Scatter;
  readonly #recovery: Recovery;
  readonly #membership: Membership;
  readonly #faults: Faults;
  readonly #transfers: Transfers;
  readonly #seed: number;
  /** With `--storage redis`: lets go of the claimed prefix. */
  readonly #releaseStorage: (() => Promise<void>) | undefined;

  private constructor(
    { ring, nextId }: { ring: Ring; nextId: number },
    replication: Replication,
    links: LinkOptions,
    timers: {
      antiEntropyMs: number;
      expirySweepMs: number;
      watchHistory: FeedOptions;
      hintTrace: HintTrace | undefined;
    },
    seed: number,
    claim: StorageClaim | undefined,
  ) {
    const { clock } = links;
    this.replication = replication;
    this.#seed = seed;
    this.#releaseStorage = claim?.release;
    const hints = new Hints(undefined, timers.hintTrace);
    this.#transfers = new Transfers();
    this.#nodes = new NodeSet(ring, links, nextId);
    this.#coordinator = new Coordinator(this.#nodes, hints, clock, {
      consistency: { r: replication.r, w: replication.w, repair: 'async' },
      tombstoneGraceMs: replication.tombstoneGraceMs,
      expirySweepMs: timers.expirySweepMs,
      // Nodes that replay storage may hold values that expire.
      mayExpire: claim !== undefined,
      watchHistory: timers.watchHistory,
      // With storage, changes made before this process began may be stored: none are known.
      changesBefore: claim !== undefined,
    });
    this.#scatter = new Scatter(this.#nodes, hints, this.#transfers, clock);
    this.#recovery = new Recovery(this.#nodes, hints, this.#transfers, clock, timers.antiEntropyMs);
    // With storage, a changed ring is stored before the cluster moves to it.
    const saveRing =
      claim === undefined
        ? undefined
        : (next: Ring, nextId: number) => claim.saveRing(ringRecord(next, nextId));
    this.#membership = new Membership(this.#nodes, this.#transfers, clock, saveRing);
    this.#faults = new Faults(this.#nodes, links.network, clock);
  }

  /** Starts the node threads and resolves once every one holds its port. */
  static async start(options: ClusterOptions = {}): Promise<Cluster> {
    const {
      timeoutMs = DEFAULT_TIMEOUT_MS,
      clock = systemClock,
      antiEntropyMs = DEFAULT_ANTI_ENTROPY_MS,
      expirySweepMs = DEFAULT_EXPIRY_SWEEP_MS,
      watchHistory = DEFAULT_WATCH_HISTORY,
      watchHistoryMs = DEFAULT_WATCH_HISTORY_MS,
    } = options;
    if (!Number.isSafeInteger(watchHistory) || watchHistory < 0) {
      throw new RangeError(`watchHistory must be an integer ≥ 0, got ${watchHistory}`);
    }
    if (!Number.isSafeInteger(watchHistoryMs) || watchHistoryMs < 0) {
      throw new RangeError(`watchHistoryMs must be an integer ≥ 0, got ${watchHistoryMs}`);
    }
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
    const claim = await claimStorage(options, ring);
    // After joins and leaves the ring is the stored one, not the one --nodes deals.
    const stored = claim?.stored ? ringOf(claim.stored) : null;
    const links: LinkOptions = {
      clock,
      timeoutMs,
      partitions: ring.partitions,
      network: new Network(seed, clock, options.trace),
      ...(options.trace === undefined ? {} : { trace: options.trace }),
      runner:
        options.runner ??
        threadRunner(
          options.storage,
          seed,
          options.maxMemoryBytes === undefined
            ? undefined
            : storeShare(options.maxMemoryBytes, ring.nodes, process.memoryUsage.rss()),
        ),
    };
    const cluster = new Cluster(
      stored ?? { ring, nextId: ring.nodes },
      replication,
      links,
      {
        antiEntropyMs,
        expirySweepMs,
        watchHistory: { maxChanges: watchHistory, maxAgeMs: watchHistoryMs },
        hintTrace: options.trace,
      },
      seed,
      claim,
    );
    try {
      await cluster.#nodes.ready((id) => options.onNodeReady?.(id));
    } catch (err) {
      await cluster.close();
      throw err;
    }
    cluster.#recovery.start();
    cluster.#coordinator.start();
    return cluster;
  }

  /** The seed of this run's simulated randomness. */
  get seed(): number {
    return this.#seed;
  }

  /** The ring in force: replaced when a node joins or leaves, once its data has moved. */
  get ring(): Ring {
    return this.#nodes.ring;
  }

  /** During a join or a leave, the ring being moved to; null otherwise. */
  get nextRing(): Ring | null {
    return this.#nodes.next;
  }

  /** The nodes of the ring in force, by id. */
  get members(): readonly number[] {
    return this.#nodes.ring.members;
  }

  /** Operations queued or in flight, over all nodes. */
  get pending(): number {
    return this.#nodes.pending;
  }

  /** See {@link NodeSet.backlog}: what a bulk write holds its intake for. */
  get backlog(): number {
    return this.#nodes.backlog;
  }

  /** See {@link NodeSet.whenBacklogAtMost}. */
  whenBacklogAtMost(mark: number, then: () => void): void {
    this.#nodes.whenBacklogAtMost(mark, then);
  }

  /** The newest version the coordinator has stamped or seen: no replica may hold a newer one. */
  get newestVersion(): number {
    return this.#coordinator.newestVersion;
  }

  /** The request defaults: `r` and `w` from the options, repair after answering. */
  get consistency(): Consistency {
    return this.#coordinator.consistency;
  }

  // Key operations: the coordinator's.

  /** See {@link Coordinator.submit}: the hot path's entry. */
  submit(
    sink: KeySink,
    tag: number,
    op: KeyOp,
    key: string,
    value?: Uint8Array | string,
    consistency?: Consistency,
    condition?: WriteCondition,
  ): void {
    this.#coordinator.submit(sink, tag, op, key, value, consistency, condition);
  }

  /** The coordinator's wall clock, Unix ms: the time versions and expiries are stamped with. */
  wall(): number {
    return this.#coordinator.wall();
  }

  /** The value's bytes (a copy), or undefined when absent. */
  get(key: string, consistency?: Consistency): Promise<Buffer | undefined> {
    return this.#coordinator.get(key, consistency);
  }

  /** The value's bytes (a copy) and version, or undefined when absent. */
  getVersioned(
    key: string,
    consistency?: Consistency,
  ): Promise<{ value: Buffer; version: number } | undefined> {
    return this.#coordinator.getVersioned(key, consistency);
  }

  /** The value's length in bytes, or -1 when absent: read from one replica, a hint. */
  sizeOf(key: string): Promise<number> {
    return this.#coordinator.sizeOf(key);
  }

  /** Stores a value (bytes, or a byte string of one char per byte); resolves to its version. */
  put(key: string, value: Uint8Array | string, consistency?: Consistency): Promise<number> {
    return this.#coordinator.put(key, value, consistency);
  }

  /** Stores a value that expires at `expiresAt` (Unix ms, on the cluster's clock); resolves to its version. */
  putExpiring(
    key: string,
    value: Uint8Array | string,
    expiresAt: number,
    consistency?: Consistency,
  ): Promise<number> {
    return this.#coordinator.putExpiring(key, value, expiresAt, consistency);
  }

  /** See {@link Coordinator.putIf}. */
  putIf(
    key: string,
    value: Uint8Array | string | null,
    condition: WriteCondition,
    consistency?: Consistency,
  ): Promise<number> {
    return this.#coordinator.putIf(key, value, condition, consistency);
  }

  /** Deletes a key (a tombstone on every replica); true if a replica that acknowledged held it. */
  delete(key: string, consistency?: Consistency): Promise<boolean> {
    return this.#coordinator.delete(key, consistency);
  }

  /** See {@link Coordinator.sweepExpired}. */
  sweepExpired(): Promise<number> {
    return this.#coordinator.sweepExpired();
  }

  // Reads of every node: the scatter's.

  /** See {@link Scatter.locate}. */
  locate(key: string): Promise<Located> {
    return this.#scatter.locate(key);
  }

  /** See {@link Scatter.list}. */
  list(prefix: string, after: string, limit: number): Promise<{ keys: string[]; more: boolean }> {
    return this.#scatter.list(prefix, after, limit);
  }

  /** See {@link Scatter.snapshotSlice}. */
  snapshotSlice(node: number, from: number, maxBytes: number, primaryOnly = false): Promise<SnapshotSlice> {
    return this.#scatter.snapshotSlice(node, from, maxBytes, primaryOnly);
  }

  /** See {@link Scatter.primaryRecordSlice}. */
  primaryRecordSlice(node: number, from: number, maxBytes: number): Promise<RecordSlice> {
    return this.#scatter.primaryRecordSlice(node, from, maxBytes);
  }

  /** Every node's state and, where it answers, its statistics. */
  nodes(): Promise<NodeInfo[]> {
    return this.#scatter.nodes();
  }

  // The nodes themselves.

  /** One node's state; `stopped` for an id that is not (or no longer) a node. */
  stateOf(node: number): NodeView {
    return this.#nodes.stateOf(node);
  }

  /** How long node `id`'s batches have taken, sent to answered, since it was added. */
  roundTripsOf(id: number): LatencyHistogram | undefined {
    return this.#nodes.roundTripsOf(id);
  }

  /** Queues one operation, written by `write`, on a given node (tests). */
  submitTo(node: number, sink: ReplySink, tag: number, write: (writer: BatchWriter) => void): void {
    this.#nodes.submitTo(node, sink, tag, write);
  }

  /** The acknowledged changes, in version order, that `GET /watch` streams (src/watch/change-feed.ts). */
  get feed(): ChangeFeed {
    return this.#coordinator.feed;
  }

  /** What the coordinator did besides answering. */
  coordinatorStats(): CoordinatorStats {
    return {
      transfers: this.#transfers.list(),
      antiEntropy: this.#recovery.antiEntropyStats,
      ...this.#coordinator.stats,
    };
  }

  /**
   * Kills one node's thread, as a crash would: its memory is gone, what waited on it fails,
   * and its replicas carry on. For fault tests and demos.
   */
  crash(node: number): Promise<void> {
    return this.#nodes.crash(node);
  }

  /** See {@link Recovery.restart}: a crashed node back, refilled while traffic goes on. */
  restart(node: number): Promise<Refilled> {
    const state = this.#nodes.stateOf(node);
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

  /** See {@link Recovery.antiEntropy}: one round, now. */
  antiEntropy(): Promise<number> {
    return this.#recovery.antiEntropy();
  }

  /** See {@link Membership.addNode}. */
  addNode(): Promise<MembershipChange> {
    return this.#membership.addNode();
  }

  /** See {@link Membership.removeNode}. */
  removeNode(id: number): Promise<MembershipChange> {
    return this.#membership.removeNode(id);
  }

  /** See {@link Membership.plan}. */
  plan(change: { add: number } | { remove: number }): Promise<Moved> {
    return this.#membership.plan(change);
  }

  // Faults.

  /** The faults in force: the network's, and node pauses not yet over. */
  faults(): (Fault | PauseFault)[] {
    return this.#faults.list();
  }

  /** See {@link Faults.add}. */
  addFault(spec: unknown): Fault | PauseFault {
    return this.#faults.add(spec);
  }

  /** Heals one fault (a pause runs its course); false if none has that id. */
  healFault(id: number): boolean {
    return this.#faults.heal(id);
  }

  /** Heals every network fault. */
  healAll(): void {
    this.#faults.healAll();
  }

  /** See {@link Faults.pause}. */
  pause(node: number, ms: number): Promise<void> {
    return this.#faults.pause(node, ms);
  }

  /** Stops every timer and every node thread. */
  async close(): Promise<void> {
    this.#coordinator.stop();
    this.#recovery.stop();
    await this.#nodes.close();
    await this.#releaseStorage?.();
  }
}

/**
 * Claims what `--storage` names for this cluster (a data directory, a Redis prefix), refusing
 * other ring settings than those it was written with; returns what lets the claim go, if
 * anything must.
 */
async function claimStorage(options: ClusterOptions, ring: Ring): Promise<StorageClaim | undefined> {
  const { storage } = options;
  if (storage === undefined) return undefined;
  if (options.runner !== undefined)
    throw new RangeError('storage needs nodes on threads, not an inline runner');
  const settings = { nodes: ring.nodes, partitions: ring.partitions, replicas: ring.replicas };
  if (storage.kind === 'memcached') {
    checkKeyPrefix(storage.prefix, '--memcached-prefix');
    const { MemcachedValues } = await import('../storage/memcached-values.js');
    await MemcachedValues.checkServers(storage.servers, storage.maxValueBytes);
  }
  if (storage.kind === 'log' || storage.kind === 'memcached') {
    const { stored, saveRing } = claimDataDir(storage.dataDir, settings);
    return { stored, saveRing: async (record) => saveRing(record), release: async () => {} };
  }
  checkKeyPrefix(storage.prefix);
  // Loaded only when used: ioredis takes about 50 ms to load.
  const { claimRedisPrefix } = await import('../storage/redis-claim.js');
  return claimRedisPrefix(storage.target, storage.prefix, settings);
}

/** What `--storage` holds for the cluster: its stored ring, how to store a changed one, how to let it go. */
interface StorageClaim {
  stored: StoredRing | null;
  saveRing(record: RingRecord): Promise<void>;
  release(): Promise<void>;
}
