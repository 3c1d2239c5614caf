import { assert } from '../assert.js';
import { NotFoundError, type ThunderError } from '../errors.js';
import { KeyBytes } from '../ring/key-bytes.js';
import type { Ring } from '../ring/ring.js';
import type { Clock } from '../time/clock.js';
import type { LatencyHistogram } from '../time/latency-histogram.js';
import type { ReplySink } from '../transport/batcher.js';
import { NodeLink, type LinkOptions, type NodeState } from '../transport/node-link.js';
import type { OpCode } from '../wire/protocol.js';
import type { BatchWriter } from '../wire/batch.js';
import type { Result } from '../wire/reply.js';
import { readRecordSlice } from '../wire/slices.js';
import type { CopyChannel } from './partition-copy.js';

/** A node's state as the cluster reports it: its link's, or where it stands in a change. */
export type NodeView = NodeState | 'joining' | 'leaving';

/**
 * The one owner of the replica view and of the channels to the nodes (the split etcd raft
 * makes: this state below, the algorithms that drive it above, a documented contract
 * between). It holds:
 *
 * - the node links, each node's state, and the ids handed out;
 * - the ring in force and, during a join or a leave, the ring being moved to;
 * - which nodes are being refilled (restarted, taking writes, not yet reads);
 * - per partition, the replicas a read asks and those a write goes to, rebuilt by it alone
 *   whenever any of the above changes;
 * - the channels: a key to one node, a call to one node, partition copies, and the flush of
 *   every node's queue once per event-loop turn.
 *
 * The coordinator, recovery, membership, the cluster-wide reads and the fault controls all
 * call down into it; nothing here calls back up.
 */
export class NodeSet {
  #ring: Ring;
  #next: Ring | null = null;
  readonly #links: NodeLink[];
  readonly #linkOptions: LinkOptions;
  readonly #clock: Clock;
  /** Nodes being refilled, each with the token of the restart that refills it. */
  readonly #refilling = new Map<number, symbol>();
  /** Per partition, in preference order: the replicas a read asks, and those a write goes to. */
  #readReplicas: number[][] = [];
  #writeReplicas: number[][] = [];
  /** Encodes the keys of single-node operations (repairs, purges, hints, probes). */
  readonly #key = new KeyBytes();
  #flushScheduled = false;
  readonly #flush = (): void => {
    this.#flushScheduled = false;
    for (const link of this.#links) link.flush();
  };
  readonly #onStateChange = (): void => this.#rebuild();

  /**
   * `nextId`: the id the next joining node takes (default the ring's node count). A ring
   * stored after joins and leaves may lack some ids below it: those nodes have left, and get
   * a link that starts no thread (stopped), so ids keep naming the same nodes and storage.
   */
  constructor(ring: Ring, linkOptions: LinkOptions, nextId = ring.nodes) {
    this.#ring = ring;
    this.#linkOptions = linkOptions;
    this.#clock = linkOptions.clock;
    this.#links = Array.from({ length: nextId }, (_, id) =>
      ring.members.includes(id)
        ? new NodeLink(id, linkOptions, this.#onStateChange)
        : NodeLink.departed(id, linkOptions),
    );
    this.#rebuild();
  }

  /** Resolves once every node of the first ring takes batches; `each` as each one does. */
  ready(each: (id: number) => void = () => {}): Promise<unknown> {
    return Promise.all(this.#links.map((link) => link.ready().then(() => each(link.id))));
  }

  // The replica view.

  /** The ring in force: replaced when a join or a leave flips it. */
  get ring(): Ring {
    return this.#ring;
  }

  /** During a join or a leave, the ring being moved to; null otherwise. */
  get next(): Ring | null {
    return this.#next;
  }

  /** The replicas a read of `partition` asks, in preference order: up, and not being refilled. */
  readReplicas(partition: number): readonly number[] {
    return this.#readReplicas[partition]!;
  }

  /** The replicas a write of `partition` goes to: up, refilling or not, of both rings during a move. */
  writeReplicas(partition: number): readonly number[] {
    return this.#writeReplicas[partition]!;
  }

  /** Whether `node`'s link is up (it takes batches). */
  isUp(node: number): boolean {
    return this.#links[node]?.state === 'up';
  }

  /** The nodes whose link is up, by id. */
  upNodes(): number[] {
    return this.#links.filter((link) => link.state === 'up').map((link) => link.id);
  }

  /** True while `node` is being refilled. */
  isRefilling(node: number): boolean {
    return this.#refilling.has(node);
  }

  /** The token of the restart refilling `node`, if one is. */
  refillOf(node: number): symbol | undefined {
    return this.#refilling.get(node);
  }

  /** One node's state; `stopped` for an id that is not (or no longer) a node. */
  stateOf(node: number): NodeView {
    const link = this.#links[node];
    if (link === undefined) return 'stopped';
    const { state } = link;
    if (state === 'up' && this.#refilling.has(node)) return 'joining';
    if (state !== 'up' || this.#next === null) return state;
    if (!this.#ring.members.includes(node)) return 'joining';
    if (!this.#next.members.includes(node)) return 'leaving';
    return 'up';
  }

  /** The nodes of either ring, by id: those `/cluster` shows. */
  shown(): number[] {
    return [...new Set([...this.#ring.members, ...(this.#next?.members ?? [])])].sort((a, b) => a - b);
  }

  /** Starts a move to `next`: writes go to both rings' replicas, reads stay on the ring in force. */
  beginMove(next: Ring): void {
    assert(this.#next === null, 'one membership change at a time');
    this.#next = next;
    this.#rebuild();
  }

  /** Puts the ring being moved to in force. */
  flip(): void {
    assert(this.#next !== null, 'a flip ends a move');
    this.#ring = this.#next;
    this.#next = null;
    this.#rebuild();
  }

  /** Ends a move that did not flip: the ring in force stays. */
  endMove(): void {
    this.#next = null;
    this.#rebuild();
  }

  // Node lives.

  /** The id a new node gets: never one used before. */
  nextNodeId(): number {
    return this.#links.length;
  }

  /** Starts a new node's thread under a fresh id; resolves once it takes batches. */
  async startNode(id: number): Promise<void> {
    assert(id === this.#links.length, 'node ids are handed out in order');
    const link = new NodeLink(id, this.#linkOptions, this.#onStateChange);
    this.#links[id] = link;
    await link.ready();
  }

  /**
   * Kills a node as a crash would: its memory is gone, what waited on it fails, and a refill
   * it was in is over. Resolves with the node down.
   */
  crash(node: number): Promise<void> {
    const link = this.#links[node];
    if (link === undefined) return Promise.reject(new NotFoundError(`no node ${node} in the cluster`));
    this.#refilling.delete(node);
    return link.crash();
  }

  /**
   * Starts a new, empty thread for a node that is down, marked as refilling with `token` (it
   * takes writes at once, reads only once {@link endRefill}); resolves once it is up.
   */
  async restart(node: number, token: symbol): Promise<void> {
    this.#refilling.set(node, token);
    this.#rebuild();
    await this.#links[node]!.restart();
  }

  /** The refill of `token` is over (or given up): the node is asked for reads again. */
  endRefill(node: number, token: symbol): void {
    if (this.#refilling.get(node) !== token) return;
    this.#refilling.delete(node);
    this.#rebuild();
  }

  /** Stops a node for good (a leave); a refill it was in is over. */
  stopNode(node: number): Promise<void> {
    this.#refilling.delete(node);
    return this.#links[node]!.stop();
  }

  /** Stops every node. */
  async close(): Promise<void> {
    await Promise.all(this.#links.map((link) => link.stop()));
  }

  // Channels.

  /** Operations queued or in flight, over all nodes. */
  get pending(): number {
    let n = 0;
    for (const link of this.#links) n += link.pending;
    return n;
  }

  /** The most operations queued or in flight to any one node that is up: the slowest replica's lag. */
  get backlog(): number {
    let most = 0;
    for (const link of this.#links) if (link.state === 'up' && link.pending > most) most = link.pending;
    return most;
  }

  /** Calls `then` once no node that is up has more than `mark` operations queued or in flight. */
  whenBacklogAtMost(mark: number, then: () => void): void {
    const behind = this.#links.find((link) => link.state === 'up' && link.pending > mark);
    if (behind === undefined) then();
    else behind.whenPendingAtMost(mark, () => this.whenBacklogAtMost(mark, then));
  }

  /** Node `id`'s operations queued or in flight now, and the most it has had at once. */
  backlogOf(id: number): { backlog: number; backlogPeak: number } {
    const link = this.#links[id];
    return { backlog: link?.pending ?? 0, backlogPeak: link?.backlogPeak ?? 0 };
  }

  /** How long node `id`'s batches have taken, sent to answered, since it was added. */
  roundTripsOf(id: number): LatencyHistogram | undefined {
    return this.#links[id]?.roundTrips;
  }

  /**
   * Where to write the next operation for `node`, or null (having failed `sink`) when it is
   * down; after writing exactly one operation, {@link queued} it. The hot path's channel:
   * nothing is allocated.
   */
  writerFor(node: number, sink: ReplySink, tag: number): BatchWriter | null {
    return this.#links[node]!.writerFor(sink, tag);
  }

  /** Registers who waits for the operation just written for `node`, and schedules the flush. */
  queued(node: number, sink: ReplySink, tag: number): void {
    this.#links[node]!.add(sink, tag);
    this.#schedule();
  }

  /** Queues one operation, written by `write`, on a node. */
  submitTo(node: number, sink: ReplySink, tag: number, write: (writer: BatchWriter) => void): void {
    const writer = this.writerFor(node, sink, tag);
    if (writer === null) return;
    write(writer);
    this.queued(node, sink, tag);
  }

  /** Queues a key operation on one node (a repair, a purge, a hint, a probe). */
  sendKey(
    node: number,
    sink: ReplySink,
    tag: number,
    op: OpCode,
    key: string,
    version: number,
    value?: Uint8Array,
  ): void {
    const bytes = this.#key;
    this.submitTo(node, sink, tag, (writer) => {
      const length = bytes.encode(key);
      writer.key(op, bytes.buffer, length, bytes.hash(), version, value);
    });
  }

  /** One operation on one node, as a promise of its result (a copy, when it is bytes). */
  callNode(node: number, write: (writer: BatchWriter) => void): Promise<Result> {
    return new Promise((resolve, reject) => this.submitTo(node, new OneResult(resolve, reject), 0, write));
  }

  /** One key operation on one node (a probe, as `locate` makes), as a promise of its result. */
  callKey(node: number, op: OpCode, key: string): Promise<Result> {
    return new Promise((resolve, reject) =>
      this.sendKey(node, new OneResult(resolve, reject), 0, op, key, 0),
    );
  }

  /** How partition copies reach nodes: scans as node calls, writes queued like any other. */
  readonly copyChannel: CopyChannel = {
    scan: async (node, from, maxBytes, only) =>
      readRecordSlice((await this.callNode(node, (w) => w.scanRecords(from, maxBytes, only))) as Buffer),
    write: (node, sink, tag, op, key, hash, version, value) =>
      this.submitTo(node, sink, tag, (writer) =>
        writer.key(op, key, key.length, hash, version, value ?? undefined),
      ),
  };

  /** Flushes every node's queue once this event-loop turn's operations are in. */
  #schedule(): void {
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      this.#clock.defer(this.#flush);
    }
  }

  /** Rebuilds the per-partition read and write replica tables from the view. */
  #rebuild(): void {
    const ring = this.#ring;
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
}

/** Resolves a promise with a node's one result; a byte result is copied (the reply is reused). */
class OneResult implements ReplySink {
  constructor(
    readonly resolve: (result: Result) => void,
    readonly reject: (error: ThunderError) => void,
  ) {}
  settle(_tag: number, result: Result): void {
    this.resolve(result instanceof Buffer ? Buffer.from(result) : result);
  }
  fail(_tag: number, error: ThunderError): void {
    this.reject(error);
  }
}
