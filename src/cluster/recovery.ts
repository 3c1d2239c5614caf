import type { Clock } from '../time/clock.js';
import { NodeUnavailableError } from '../errors.js';
import type { Hint, Hints } from './hints.js';
import { copyPartitions, type CopyCount } from './partition-copy.js';
import type { NodeSet } from './nodes.js';
import { addPartition, emptyPartitionSet, hasPartition, type PartitionSet } from '../ring/partition-set.js';
import type { Transfer, Transfers } from './transfers.js';

/** How long a refill waits before copying again from a source that failed part-way. */
export const REFILL_RETRY_MS = 500;

/** How long a node up that failed some of its hints waits before they are replayed again: 1 s. */
export const HANDOFF_RETRY_MS = 1000;

/** What a refill did. */
export interface Refilled {
  node: number;
  /** Partitions the node holds a replica of. */
  partitions: number;
  /** Hints replayed before the copy. */
  hints: number;
  /**
   * Records the node gained, and their key and value bytes: the copies it applied, newer than
   * what it held (each source sends every key, so one it already had is not counted again).
   */
  keys: number;
  bytes: number;
  /** Copied writes that failed and were copied again. */
  failed: number;
  /** Whole milliseconds the restart took. */
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

/**
 * How replicas catch up: a crashed node's restart and refill, the replay of its hints, and
 * anti-entropy between replicas that drifted apart.
 */
export class Recovery {
  readonly #nodes: NodeSet;
  readonly #hints: Hints;
  readonly #transfers: Transfers;
  readonly #clock: Clock;
  readonly #intervalMs: number;
  readonly #stats: AntiEntropyStats = { runs: 0, partitionsRepaired: 0, recordsCopied: 0, running: false };
  #disarm: (() => void) | null = null;
  /** Set by {@link stop}: nothing is armed again. */
  #stopped = false;
  /** Hint replays waiting to be tried again, by node: each one's cancel. */
  readonly #handoffs = new Map<number, () => void>();

  /** `intervalMs`: how often anti-entropy runs once {@link start}ed; 0: never on its own. */
  constructor(nodes: NodeSet, hints: Hints, transfers: Transfers, clock: Clock, intervalMs: number) {
    this.#nodes = nodes;
    this.#hints = hints;
    this.#transfers = transfers;
    this.#clock = clock;
    this.#intervalMs = intervalMs;
  }

  get antiEntropyStats(): AntiEntropyStats {
    return { ...this.#stats };
  }

  /**
   * Brings a crashed node back: a new, empty thread, which takes writes at once and is
   * refilled while traffic goes on: first the hints kept for it are replayed, then every
   * partition it holds a replica of is copied to it from the other replicas up. Only then is
   * it asked for reads (`joining` until then), so no read is answered from a half-filled
   * node. Each restart has a token: a refill goes on only while its own restart is the
   * node's, so one outlived by a crash and a new restart stops rather than end the new
   * one's. Resolves with what the refill did.
   */
  async restart(node: number): Promise<Refilled> {
    const nodes = this.#nodes;
    const started = this.#clock.now();
    const token = Symbol(`restart of node ${node}`);
    try {
      await nodes.restart(node, token);
      const hints = await this.replayHints(node);
      const copied = await this.#refill(node, token);
      if (nodes.refillOf(node) !== token) {
        throw new NodeUnavailableError(`node ${node} crashed or left before its refill was done`);
      }
      return { node, hints, ...copied, ms: Math.round(this.#clock.now() - started) };
    } finally {
      // The transfer is this restart's unless a later restart of the node has begun its own.
      if (nodes.refillOf(node) === token || nodes.refillOf(node) === undefined) this.#transfers.end(node);
      nodes.endRefill(node, token);
    }
  }

  /**
   * Replays the hints kept for `node`, oldest first, each with its original version: a
   * replica holding a newer write keeps it, so replaying twice changes nothing. Resolves
   * with how many were sent; hints the node fails (it went down again) are kept.
   */
  async replayHints(node: number): Promise<number> {
    const hints = this.#hints;
    this.#handoffs.get(node)?.();
    this.#handoffs.delete(node);
    const taken = hints.take(node);
    const failed: Hint[] = [];
    await Promise.all(
      taken.map(
        (hint) =>
          new Promise<void>((resolve) =>
            this.#nodes.sendKey(
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
    for (const hint of failed) hints.add(node, hint.op, hint.key, hint.version, hint.value ?? undefined);
    if (failed.length > 0) this.#retryHandoff(node);
    return taken.length - failed.length;
  }

  /**
   * Hints a node failed while up (cut off, paused, timing out) would otherwise wait for its
   * next restart, which may never come: they are replayed again after
   * {@link HANDOFF_RETRY_MS}, as long as the node is up; a node that went down is replayed
   * when it is restarted.
   */
  #retryHandoff(node: number): void {
    if (this.#handoffs.has(node) || this.#stopped) return;
    const cancel = this.#clock.setTimer(HANDOFF_RETRY_MS, () => {
      if (this.#handoffs.get(node) !== cancel) return;
      this.#handoffs.delete(node);
      if (this.#nodes.isUp(node) && !this.#nodes.isRefilling(node)) void this.replayHints(node);
    });
    this.#handoffs.set(node, cancel);
  }

  /**
   * Copies to `node` every partition it holds a replica of, from each other replica up. A
   * write acknowledged by W replicas may survive on just one of them, so every source must
   * be copied in full: one that fails part-way (cut off, paused, or `node` failing the copied
   * writes) is copied again every {@link REFILL_RETRY_MS} while it is up; only one that went
   * down (its data gone with it) is given up. Until then `node` takes no reads.
   */
  async #refill(node: number, token: symbol): Promise<Omit<Refilled, 'node' | 'hints' | 'ms'>> {
    const nodes = this.#nodes;
    const ring = nodes.ring;
    const mine = emptyPartitionSet(ring.partitions);
    let partitions = 0;
    const sources = new Set<number>();
    for (let p = 0; p < ring.partitions; p++) {
      if (!ring.preferenceList(p).includes(node)) continue;
      addPartition(mine, p);
      partitions++;
      for (const other of nodes.readReplicas(p)) sources.add(other);
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
    const applied = { keys: 0, bytes: 0 };
    const copied: CopyCount = { keys: 0, bytes: 0, failed: 0, firstError: null, applied };
    this.#transfers.begin(transfer, copied);
    let pending = [...sources];
    while (pending.length > 0 && nodes.refillOf(node) === token) {
      const again: number[] = [];
      for (const source of pending) {
        if (nodes.refillOf(node) !== token) break;
        if (!nodes.isUp(source) || nodes.isRefilling(source)) {
          // Down, or refilling itself: its data went with its crash. Nothing to wait for.
          transfer.sourcesDone++;
          continue;
        }
        // Only the partitions both hold: another source covers the rest.
        const both = emptyPartitionSet(ring.partitions);
        for (let p = 0; p < ring.partitions; p++) {
          if (hasPartition(mine, p) && ring.preferenceList(p).includes(source)) addPartition(both, p);
        }
        const failedBefore = copied.failed;
        try {
          await copyPartitions(nodes.copyChannel, source, both, () => [node], copied);
          if (copied.failed === failedBefore) transfer.sourcesDone++;
          else again.push(source);
        } catch {
          again.push(source);
        }
      }
      pending = again;
      if (pending.length > 0)
        await new Promise<void>((resolve) => this.#clock.setTimer(REFILL_RETRY_MS, resolve));
    }
    return { partitions, keys: applied.keys, bytes: applied.bytes, failed: copied.failed };
  }

  /**
   * One round of anti-entropy: every node up reports its partitions' digests; for each
   * partition whose replicas up disagree, each of them copies its records of it to the
   * others (newest version wins on every replica), so a replica that missed writes
   * converges without stopping traffic. Only partitions that differ are exchanged.
   * Resolves with how many partitions differed.
   */
  async antiEntropy(): Promise<number> {
    const stats = this.#stats;
    if (stats.running) return 0;
    stats.running = true;
    const nodes = this.#nodes;
    try {
      const ring = nodes.ring;
      const digests = new Map<number, Uint32Array>();
      await Promise.all(
        nodes
          .upNodes()
          .filter((node) => !nodes.isRefilling(node))
          .map(async (node) => {
            try {
              const payload = (await nodes.callNode(node, (w) => w.digests())) as Buffer;
              digests.set(node, new Uint32Array(Uint8Array.from(payload).buffer));
            } catch {
              // Not answering: not compared this round.
            }
          }),
      );
      const differing = new Map<number, PartitionSet>(); // source node → its partitions to copy
      let count = 0;
      for (let p = 0; p < ring.partitions; p++) {
        const replicas = nodes.readReplicas(p).filter((node) => digests.has(node));
        if (replicas.length < 2) continue;
        const first = digests.get(replicas[0]!)![p];
        if (replicas.every((node) => digests.get(node)![p] === first)) continue;
        count++;
        for (const node of replicas) {
          let set = differing.get(node);
          if (set === undefined) differing.set(node, (set = emptyPartitionSet(ring.partitions)));
          addPartition(set, p);
        }
      }
      for (const [source, only] of differing) {
        const targets = (p: number) => nodes.readReplicas(p).filter((node) => node !== source);
        try {
          stats.recordsCopied += (await copyPartitions(nodes.copyChannel, source, only, targets)).keys;
        } catch {
          // The source went down part-way: the next round tries again.
        }
      }
      stats.runs++;
      stats.partitionsRepaired += count;
      return count;
    } finally {
      stats.running = false;
    }
  }

  /** Runs anti-entropy every interval on the cluster's clock (never with 0), until {@link stop}. */
  start(): void {
    if (this.#intervalMs === 0) return;
    this.#disarm = this.#clock.setTimer(this.#intervalMs, () => {
      void this.antiEntropy().finally(() => {
        if (this.#disarm !== null) this.start();
      });
    });
  }

  stop(): void {
    this.#stopped = true;
    this.#disarm?.();
    this.#disarm = null;
    for (const cancel of this.#handoffs.values()) cancel();
    this.#handoffs.clear();
  }
}
