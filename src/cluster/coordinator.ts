import {
  errorFromWire,
  errorToWire,
  NodeUnavailableError,
  PreconditionFailedError,
  QuorumNotMetError,
  type ThunderError,
} from '../errors.js';
import { envelope, envelopeExpiresAt, ENVELOPE_BYTES } from '../expiry.js';
import { KeyBytes } from '../ring/key-bytes.js';
import type { Clock } from '../time/clock.js';
import { HybridClock } from '../time/hlc.js';
import type { ReplySink } from '../transport/batcher.js';
import { Op, type OpCode } from '../wire/protocol.js';
import type { Result } from '../wire/reply.js';
import { ExpirySweeper } from './expiry-sweeper.js';
import type { Hints } from './hints.js';
import { KeyCalls, type Consistency, type KeyOp, type KeySink, type ReplicaSender } from './key-call.js';
import type { NodeSet } from './nodes.js';
import { Purger } from './purger.js';
import { ChangeFeed, type FeedOptions } from '../watch/change-feed.js';

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

/** A reply with its version, as a {@link KeySink} hears it. */
interface Versioned {
  reply: Result;
  version: number;
  /** A value read: when it expires, Unix ms; 0: never. */
  expiresAt: number;
}

/** Resolves a promise with one reply: the adapter behind the promise methods. */
class PromiseSink implements KeySink {
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

/** Acknowledgements nobody waits for (purges). */
const IGNORE: ReplySink = { settle() {}, fail() {} };

/** How a {@link Coordinator} runs. */
export interface CoordinatorOptions {
  /** The request defaults: `r`, `w` and how a read repairs. */
  consistency: Consistency;
  /** How long a tombstone (or an expired value's bytes) is kept once every replica holds it, ms. */
  tombstoneGraceMs: number;
  /** How often nodes clear values that expired, ms; 0: never. */
  expirySweepMs: number;
  /** Whether nodes may hold values that expire from the start (a journal replayed may hold some). */
  mayExpire: boolean;
  /** How many acknowledged changes, and how old, are kept for watchers that resume. */
  watchHistory: FeedOptions;
  /**
   * Whether the data may hold changes made before this process began (storage replayed):
   * then a watch cannot resume from before now. Without storage, every change is this
   * process's, and a watch may start from version 0 (all that is kept).
   */
  changesBefore: boolean;
}

/**
 * The coordinator: each client key operation sent to its replicas, versioned by the hybrid
 * clock, answered once its quorum has (see {@link KeyCalls}), and followed through: hints
 * for replicas down, read repairs, tombstones and expired values purged once every replica
 * holds them. Conditional writes run one at a time per key. It asks {@link NodeSet} which
 * replicas to use and sends through it; it never changes the replica view.
 *
 * `submit()` is the allocation-light entry the HTTP front end uses; `get()`, `put()` and
 * friends wrap it in promises for everything else (loading, tests, benches).
 */
export class Coordinator implements ReplicaSender {
  readonly #nodes: NodeSet;
  readonly #hints: Hints;
  readonly #clock: Clock;
  readonly #hlc: HybridClock;
  /** The request defaults. */
  readonly consistency: Consistency;
  readonly #key = new KeyBytes();
  /** The key operations in flight, with their quorums. */
  readonly #calls = new KeyCalls(this);
  readonly #purger: Purger;
  readonly #expiryPurger: Purger;
  readonly #sweeper: ExpirySweeper;
  /**
   * Whether a node may hold a value that expires: once a TTL write has been sent, or from
   * the start when nodes replay a journal (which may hold some).
   */
  #mayExpire: boolean;
  /** Conditional writes waiting per key, so that each one's check and write happen alone. */
  readonly #keyLocks = new Map<string, Promise<void>>();
  #readRepairs = 0;
  #readFetches = 0;
  #valuesLostFound = 0;
  /** The acknowledged changes, in version order, for watchers (src/watch/change-feed.ts). */
  readonly feed: ChangeFeed;

  constructor(nodes: NodeSet, hints: Hints, clock: Clock, options: CoordinatorOptions) {
    this.#nodes = nodes;
    this.#hints = hints;
    this.#clock = clock;
    this.consistency = options.consistency;
    this.#mayExpire = options.mayExpire;
    this.#hlc = new HybridClock(() => clock.wall());
    // The feed begins at a fresh version when first watched: a since from before (an earlier
    // run of the process, or writes nobody watched) is refused, not resumed with a gap.
    this.feed = new ChangeFeed(clock, () => this.#hlc.next(), options.watchHistory, !options.changesBefore);
    const purge = (key: string, version: number) => this.#sendToReplicas(Op.Purge, key, version);
    this.#purger = new Purger(clock, options.tombstoneGraceMs, purge);
    this.#expiryPurger = new Purger(clock, options.tombstoneGraceMs, purge);
    this.#sweeper = new ExpirySweeper(clock, options.expirySweepMs, options.tombstoneGraceMs, {
      mayExpire: () => this.#mayExpire,
      upNodes: () => nodes.upNodes(),
      clearExpired: async (node, from, cutoff) => {
        const reply = (await nodes.callNode(node, (w) => w.clearExpired(from, cutoff))) as Buffer;
        return { next: reply.readDoubleLE(0), cleared: reply.readUInt32LE(8) };
      },
    });
  }

  /** Starts the expiry sweeps. */
  start(): void {
    this.#sweeper.start();
  }

  /** Stops every timer: purges and sweeps. */
  stop(): void {
    this.feed.close();
    this.#purger.stop();
    this.#sweeper.stop();
    this.#expiryPurger.stop();
  }

  /**
   * Sends a key operation to the key's replicas that are up and answers `sink` once the
   * quorum has: the allocation-light entry of the hot path (a slot of {@link KeyCalls} a
   * request, no allocation). Input must already be validated. `value` (bytes, or a byte
   * string of one char per byte) is copied into the batches at once, so the caller's buffer
   * may be reused on return; with a `condition` it is copied.
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
    const nodes = this.#nodes;
    const ring = nodes.ring;
    const length = this.#key.encode(key);
    const hash = this.#key.hash();
    const partition = ring.partitionOf(hash);
    const write = op === Op.Put || op === Op.PutExpiring || op === Op.Delete;
    const up = write ? nodes.writeReplicas(partition) : nodes.readReplicas(partition);
    const needed = op === Op.Size ? 1 : Math.min(write ? consistency.w : consistency.r, ring.replicas);
    if (up.length < needed) return this.#refuse(sink, tag, partition, up.length, needed, write);
    const asked = op === Op.Size ? up.slice(0, 1) : up;
    const version = write ? this.#hlc.next() : 0;
    // A replica down misses the write: keep it as a hint, replayed when the node is back.
    if (write && up.length < ring.replicas) this.#hint(partition, op, key, version, value);
    const calls = this.#calls;
    const expiresAt = op === Op.PutExpiring ? envelopeExpiresAt(value!) : 0;
    if (expiresAt !== 0) this.#mayExpire = true;
    if (write) {
      const expiring = op === Op.PutExpiring;
      this.feed.stamped(
        version,
        op === Op.Delete ? 'delete' : 'put',
        this.#key.buffer,
        length,
        value,
        expiring ? ENVELOPE_BYTES : 0,
        expiresAt,
      );
    }
    const base = calls.begin(
      sink,
      tag,
      op,
      key,
      asked,
      needed,
      consistency.repair === 'sync',
      version,
      expiresAt,
    );
    // A read takes the record from the first replica that can be asked, digests from the rest.
    let recordAsked = op !== Op.Get;
    for (let i = 0; i < asked.length; i++) {
      const node = asked[i]!;
      const writer = nodes.writerFor(node, calls, base + i);
      if (writer === null) continue;
      if (recordAsked && op === Op.Get) {
        calls.digestFrom(base + i);
        writer.key(Op.GetDigest, this.#key.buffer, length, hash, version);
      } else writer.key(op, this.#key.buffer, length, hash, version, value);
      recordAsked = true;
      nodes.queued(node, calls, base + i);
    }
  }

  /** Too few replicas are up for the quorum: refused before any replica sees it. */
  #refuse(sink: KeySink, tag: number, partition: number, up: number, needed: number, write: boolean): void {
    const ring = this.#nodes.ring;
    // With one replica there is no quorum to speak of: the node's own error.
    if (ring.replicas === 1) {
      const owner = ring.replicaOf(partition, 0);
      return sink.fail(tag, new NodeUnavailableError(`node ${owner} is ${this.#nodes.stateOf(owner)}`));
    }
    const error = new QuorumNotMetError(
      `${up} of ${ring.replicas} replicas are up; ${write ? 'W' : 'R'} = ${needed}`,
    );
    // Said outright, so a client knows this write certainly did not happen.
    if (write) error.details.applied = false;
    sink.fail(tag, error);
  }

  /** Queues a key operation on one node (a read repair's, a purge's). See {@link ReplicaSender}. */
  sendKey(
    node: number,
    sink: ReplySink,
    tag: number,
    op: OpCode,
    key: string,
    version: number,
    value?: Uint8Array,
  ): void {
    this.#nodes.sendKey(node, sink, tag, op, key, version, value);
  }

  writeSettled(version: number, acknowledged: boolean): void {
    this.feed.settled(version, acknowledged);
  }

  tombstoneWritten(key: string, version: number, acks: number): void {
    if (acks === this.#nodes.ring.replicas) this.#purger.add(key, version);
  }

  expiringWritten(key: string, version: number, expiresAt: number, acks: number): void {
    if (acks === this.#nodes.ring.replicas) this.#expiryPurger.add(key, version, expiresAt);
  }

  repaired(): void {
    this.#readRepairs++;
  }

  fetched(): void {
    this.#readFetches++;
  }

  valueLost(): void {
    this.#valuesLostFound++;
  }

  endOfTurn(fire: () => void): void {
    this.#clock.defer(fire);
  }

  /** The coordinator's wall clock, Unix ms: the time versions and expiries are stamped with. */
  wall(): number {
    return this.#clock.wall();
  }

  /** The newest version this coordinator has stamped or seen (0: none). */
  get newestVersion(): number {
    return this.#hlc.newest;
  }

  /** What the coordinator did besides answering: repairs, purges, expiry sweeps. */
  get stats(): {
    readRepairs: number;
    readFetches: number;
    valuesLostFound: number;
    tombstonesAwaitingPurge: number;
    tombstonesPurged: number;
    expiredAwaitingPurge: number;
    expiredPurged: number;
    expiredCleared: number;
  } {
    return {
      readRepairs: this.#readRepairs,
      readFetches: this.#readFetches,
      valuesLostFound: this.#valuesLostFound,
      tombstonesAwaitingPurge: this.#purger.waiting,
      tombstonesPurged: this.#purger.purged,
      expiredAwaitingPurge: this.#expiryPurger.waiting,
      expiredPurged: this.#expiryPurger.purged,
      expiredCleared: this.#sweeper.cleared,
    };
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

  /** Sends an operation to every replica of a key that is up, answered by nobody. */
  #sendToReplicas(op: typeof Op.Purge, key: string, version: number): void {
    const ring = this.#nodes.ring;
    for (const node of this.#nodes.writeReplicas(ring.partitionOf(ring.hash(key)))) {
      this.#nodes.sendKey(node, IGNORE, 0, op, key, version);
    }
  }

  /** Keeps a write as a hint for each replica of its partition that is down. */
  #hint(
    partition: number,
    op: typeof Op.Put | typeof Op.PutExpiring | typeof Op.Delete,
    key: string,
    version: number,
    value?: Uint8Array | string,
  ): void {
    const ring = this.#nodes.ring;
    for (let i = 0; i < ring.replicas; i++) {
      const node = ring.replicaOf(partition, i);
      if (!this.#nodes.isUp(node)) this.#hints.add(node, op, key, version, value);
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
      const r = Math.max(consistency.r, this.#nodes.ring.replicas - consistency.w + 1);
      const current = await this.#call(Op.Get, key, undefined, { ...consistency, r }).catch(
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
      const written = await this.#call(op, key, value, consistency);
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

  #call(
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

  /** The value's bytes (a copy), or undefined when absent. */
  async get(key: string, consistency?: Consistency): Promise<Buffer | undefined> {
    const { reply } = await this.#call(Op.Get, key, undefined, consistency);
    return reply === null ? undefined : (reply as Buffer);
  }

  /** The value's bytes (a copy) and version, or undefined when absent. */
  async getVersioned(
    key: string,
    consistency?: Consistency,
  ): Promise<{ value: Buffer; version: number } | undefined> {
    const { reply, version } = await this.#call(Op.Get, key, undefined, consistency);
    return reply === null ? undefined : { value: reply as Buffer, version };
  }

  /** The value's length in bytes, or -1 when absent: read from one replica, a hint. */
  async sizeOf(key: string): Promise<number> {
    return ((await this.#call(Op.Size, key)).reply as number | null) ?? -1;
  }

  /** Stores a value (bytes, or a byte string of one char per byte); resolves to its version. */
  async put(key: string, value: Uint8Array | string, consistency?: Consistency): Promise<number> {
    return (await this.#call(Op.Put, key, value, consistency)).version;
  }

  /** Stores a value that expires at `expiresAt` (Unix ms, on the cluster's clock); resolves to its version. */
  async putExpiring(
    key: string,
    value: Uint8Array | string,
    expiresAt: number,
    consistency?: Consistency,
  ): Promise<number> {
    return (await this.#call(Op.PutExpiring, key, envelope(expiresAt, value), consistency)).version;
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
    return (await this.#call(op, key, value ?? undefined, consistency, condition)).version;
  }

  /** Deletes a key (a tombstone on every replica); true if a replica that acknowledged held it. */
  async delete(key: string, consistency?: Consistency): Promise<boolean> {
    return (await this.#call(Op.Delete, key, undefined, consistency)).reply === 1;
  }
}
