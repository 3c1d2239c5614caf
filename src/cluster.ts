import type { ReplySink } from './batcher.js';
import { type ThunderError } from './errors.js';
import { compareKeys, KeyBytes } from './key-bytes.js';
import { systemClock, type Clock } from './clock.js';
import { NodeLink, type LinkTiming, type NodeState } from './node-link.js';
import { HASH_SPACE } from './murmur3.js';
import { Op, type NodeStats, type SnapshotSlice } from './protocol.js';
import { Ring } from './ring.js';
import { readListSlice, readSnapshotSlice, type BatchWriter, type Result } from './wire.js';

/** The operations on one key. */
export type KeyOp = typeof Op.Get | typeof Op.Put | typeof Op.Delete | typeof Op.Size;

/** How a {@link Cluster} is started. */
export interface ClusterOptions {
  /** Node threads to start. Default 3. */
  nodes?: number;
  /** Equal hash-ring partitions shared out among the nodes. Default 1024. */
  partitions?: number;
  /** Called as each node's thread comes up, for start-up progress. */
  onNodeReady?: (id: number) => void;
  /**
   * A node that has not answered a batch within this many ms fails its operations with
   * NODE_TIMEOUT (a write among them may still happen). Default {@link DEFAULT_TIMEOUT_MS}.
   */
  timeoutMs?: number;
  /** Time and timers. Default the system clock. */
  clock?: Clock;
}

/** Default {@link ClusterOptions.timeoutMs}: 5 s, Cassandra's read timeout. */
export const DEFAULT_TIMEOUT_MS = 5000;

/** One node as `GET /cluster` shows it. */
export interface NodeInfo extends Partial<NodeStats> {
  id: number;
  state: NodeState;
  partitions: number;
  /** Set when an up node did not answer for its statistics (e.g. NODE_TIMEOUT). */
  error?: string;
}

/** The `limit` smallest of two sorted lists of distinct keys, merged (UTF-8 byte order). */
function mergeSorted(a: string[], b: string[], limit: number): string[] {
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (out.length < limit && (i < a.length || j < b.length)) {
    if (j >= b.length || (i < a.length && compareKeys(a[i]!, b[j]!) < 0)) out.push(a[i++]!);
    else out.push(b[j++]!);
  }
  return out;
}

/** Resolves a promise with one reply: the adapter behind the convenience methods. */
class PromiseSink implements ReplySink {
  constructor(
    readonly resolve: (reply: Result) => void,
    readonly reject: (error: ThunderError) => void,
  ) {}
  settle(_tag: number, reply: Result): void {
    this.resolve(reply);
  }
  fail(_tag: number, error: ThunderError): void {
    this.reject(error);
  }
}

/**
 * The nodes and the ring that routes keys to them. Operations are queued per node and sent
 * once per event-loop turn: however many requests arrive in one turn, each node gets one
 * message, and each node answers with one.
 *
 * `submit()` is the allocation-light entry the HTTP front end uses; `get()`, `put()` and
 * friends wrap it in promises for everything else (loading, tests, benches).
 */
export class Cluster {
  readonly ring: Ring;
  readonly #links: NodeLink[];
  readonly #key = new KeyBytes();
  #flushScheduled = false;
  readonly #flush = (): void => {
    this.#flushScheduled = false;
    for (const link of this.#links) link.flush();
  };

  private constructor(ring: Ring, timing: LinkTiming) {
    this.ring = ring;
    this.#links = Array.from({ length: ring.nodes }, (_, id) => new NodeLink(id, timing));
  }

  /** Starts the node threads and resolves once every one holds its port. */
  static async start(options: ClusterOptions = {}): Promise<Cluster> {
    const { timeoutMs = DEFAULT_TIMEOUT_MS, clock = systemClock } = options;
    if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1) {
      throw new RangeError(`timeoutMs must be a positive integer, got ${timeoutMs}`);
    }
    const cluster = new Cluster(
      new Ring({ nodes: options.nodes ?? 3, partitions: options.partitions ?? 1024 }),
      { clock, timeoutMs },
    );
    try {
      await Promise.all(
        cluster.#links.map((link) => link.ready().then(() => options.onNodeReady?.(link.id))),
      );
    } catch (err) {
      await cluster.close();
      throw err;
    }
    return cluster;
  }

  get size(): number {
    return this.#links.length;
  }

  /** Operations queued or in flight, over all nodes. */
  get pending(): number {
    let n = 0;
    for (const link of this.#links) n += link.pending;
    return n;
  }

  /**
   * Queues a key operation on the key's owner: the allocation-light entry of the hot path.
   * Input must already be validated. `value` (bytes, or a byte string of one char per byte)
   * is copied into the batch at once, so the caller's buffer may be reused on return.
   */
  submit(sink: ReplySink, tag: number, op: KeyOp, key: string, value?: Uint8Array | string): void {
    const length = this.#key.encode(key);
    const hash = this.#key.hash();
    const link = this.#links[this.ring.nodeForHash(hash)]!;
    const writer = link.writerFor(sink, tag);
    if (writer === null) return;
    writer.key(op, this.#key.buffer, length, hash, value);
    link.add(sink, tag);
    this.#schedule();
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

  #call(op: KeyOp, key: string, value?: Uint8Array | string): Promise<Result> {
    return new Promise((resolve, reject) => this.submit(new PromiseSink(resolve, reject), 0, op, key, value));
  }

  #callNode(node: number, write: (writer: BatchWriter) => void): Promise<Result> {
    return new Promise((resolve, reject) => this.submitTo(node, new PromiseSink(resolve, reject), 0, write));
  }

  /** The value's bytes (a copy), or undefined when absent. */
  async get(key: string): Promise<Buffer | undefined> {
    const reply = (await this.#call(Op.Get, key)) as Buffer | null;
    return reply === null ? undefined : Buffer.from(reply);
  }

  /** The value's length in bytes, or -1 when absent. */
  async sizeOf(key: string): Promise<number> {
    return ((await this.#call(Op.Size, key)) as number | null) ?? -1;
  }

  /** Stores a value: bytes, or a byte string of one char per byte. */
  async put(key: string, value: Uint8Array | string): Promise<void> {
    await this.#call(Op.Put, key, value);
  }

  /** True if the key was there. */
  async delete(key: string): Promise<boolean> {
    return (await this.#call(Op.Delete, key)) === 1;
  }

  /**
   * Up to `limit` keys with `prefix`, greater than `after`, in UTF-8 byte order (code point
   * order), gathered from every node.
   * Each node is walked in bounded slices, one message each, so key operations interleave
   * with a listing instead of waiting for it; memory stays within a few pages of keys.
   */
  async list(prefix: string, after: string, limit: number): Promise<{ keys: string[]; more: boolean }> {
    let best: string[] = [];
    await Promise.all(
      this.#links.map(async ({ id }) => {
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

  /** One slice of a node's shard as `"k":"v",…` text; walk `from` from 0 to {@link HASH_SPACE}. */
  async snapshotSlice(node: number, from: number, maxBytes: number): Promise<SnapshotSlice> {
    return readSnapshotSlice((await this.#callNode(node, (w) => w.snapshot(from, maxBytes))) as Buffer);
  }

  /** Every node's state and, where it answers, its statistics. */
  async nodes(): Promise<NodeInfo[]> {
    const counts = this.ring.partitionCounts();
    return Promise.all(
      this.#links.map(async (link): Promise<NodeInfo> => {
        const info: NodeInfo = { id: link.id, state: link.state, partitions: counts[link.id]! };
        if (link.state !== 'up') return info;
        try {
          const stats = (await this.#callNode(link.id, (w) => w.stats())) as Buffer;
          return { ...info, ...(JSON.parse(stats.toString('utf8')) as NodeStats) };
        } catch (err) {
          return { ...info, state: link.state, error: (err as ThunderError).code };
        }
      }),
    );
  }

  /**
   * Stops one node processing for `ms`, as a long GC pause would; its queue waits. Resolves
   * when the node answers again (or rejects with NODE_TIMEOUT if that takes longer than
   * the timeout). For fault tests.
   */
  async pause(node: number, ms: number): Promise<void> {
    await this.#callNode(node, (w) => w.pause(ms));
  }

  /** Kills one node's thread, as a crash would: for fault tests and demos. */
  crash(node: number): Promise<void> {
    return this.#links[node]!.crash();
  }

  /** Stops every node thread. */
  async close(): Promise<void> {
    await Promise.all(this.#links.map((link) => link.stop()));
  }
}
