import type { ReplySink } from './batcher.js';
import { Written } from './byte-map.js';
import { QuorumNotMetError, type ThunderError } from './errors.js';
import { Op } from './protocol.js';
import { recordValue, recordVersion, type Result } from './wire.js';

/** The key operations a client asks of the cluster. */
export type KeyOp = typeof Op.Get | typeof Op.Put | typeof Op.Delete | typeof Op.Size;

/**
 * Whoever waits for a key operation's answer from the cluster. `reply` and `version` by
 * operation:
 * - Get: the value (a view, valid during the call; copy it to keep it) or null when the key
 *   is absent or deleted; the value's version, 0 when absent.
 * - Size: the value's length or null; version 0 (sizes are read from one replica, as hints).
 * - Put: null; the version written.
 * - Delete: 1 if a replica that acknowledged held a value, else 0; the tombstone's version.
 */
export interface KeySink {
  settle(tag: number, reply: Result, version: number): void;
  fail(tag: number, error: ThunderError): void;
}

/** How many replicas must answer, and how a read repairs. */
export interface Consistency {
  /** Replicas whose answers a read gathers before answering: 1 to the replica count. */
  r: number;
  /** Replicas that must apply a write before it is acknowledged: 1 to the replica count. */
  w: number;
  /**
   * `'async'`: stale replicas a read found are repaired after the answer (Dynamo, Riak).
   * `'sync'`: before it, among the replicas that made the answer (Cassandra's blocking
   * read repair); with R + W > N a key's reads are then monotonic.
   */
  repair: 'async' | 'sync';
}

/** What a {@link KeyCall} needs of the cluster: sending to one replica, and follow-ups. */
export interface ReplicaSender {
  /** Queues one key operation on a node; its reply reaches `sink` with `tag`. */
  sendKey(
    node: number,
    sink: ReplySink,
    tag: number,
    op: KeyOp,
    key: string,
    version: number,
    value?: Uint8Array,
  ): void;
  /** A tombstone `acks` replicas acknowledged: once every replica holds it, it can be purged after the grace period. */
  tombstoneWritten(key: string, version: number, acks: number): void;
  /** Counts a read repair sent. */
  repaired(): void;
}

/** Replies to repairs carry this bit in their tag, beside the replica's index. */
const REPAIR_TAG = 1 << 16;

/** Acknowledgements of fire-and-forget repairs: nobody waits for them. */
const IGNORE: ReplySink = { settle() {}, fail() {} };

/**
 * One client key operation, sent to every replica in its preference list that is up,
 * answered once its quorum (R for reads, W for writes) has answered, and followed through
 * after that: stale replicas are repaired, and a tombstone every replica holds is marked for
 * purging. The client hears exactly once: the answer, or QUORUM_NOT_MET as soon as too
 * many replicas have failed for the quorum to be reached.
 *
 * Replica `i` (its index in the preference list) answers with tag `i`. Which replicas hold
 * what is kept in bit masks, so a call allocates nothing past itself.
 */
export class KeyCall implements ReplySink {
  readonly #sender: ReplicaSender;
  readonly #sink: KeySink;
  readonly #tag: number;
  readonly #op: KeyOp;
  readonly #key: string;
  readonly #nodes: number[];
  readonly #needed: number;
  readonly #syncRepair: boolean;
  /** The version a write carries. */
  readonly #version: number;
  #answered = 0;
  #failed = 0;
  #done = false;
  #firstError: ThunderError | null = null;
  /** Reads: the newest record seen (a Get payload) and its version (positive). */
  #best: Buffer | null = null;
  #bestVersion = 0;
  /** Reads: replicas that answered, and those whose answer was the newest record. */
  #responded = 0;
  #holders = 0;
  /** Reads: replicas repaired so far; blocking repairs the answer still waits for, and whether one failed. */
  #repairedMask = 0;
  #repairsAwaited = 0;
  #repairFailed = false;
  /** Size: the length read, or null. */
  #size: Result = null;
  /** Deletes: a replica held a value. */
  #wasLive = false;

  /**
   * @param nodes the replicas to ask, in preference order (at most 16).
   * @param needed answers needed: R or W (clamped to `nodes.length` by the caller).
   */
  constructor(
    sender: ReplicaSender,
    sink: KeySink,
    tag: number,
    op: KeyOp,
    key: string,
    nodes: number[],
    needed: number,
    syncRepair: boolean,
    version: number,
  ) {
    this.#sender = sender;
    this.#sink = sink;
    this.#tag = tag;
    this.#op = op;
    this.#key = key;
    this.#nodes = nodes;
    this.#needed = needed;
    this.#syncRepair = syncRepair;
    this.#version = version;
  }

  settle(tag: number, reply: Result): void {
    if (tag & REPAIR_TAG) return this.#repairSettled(true);
    this.#answered++;
    if (this.#op === Op.Get) this.#read(tag, reply as Buffer | null);
    else if (this.#op === Op.Delete && reply === Written.WasLive) this.#wasLive = true;
    else if (this.#op === Op.Size) this.#size = reply;
    if (!this.#done && this.#answered >= this.#needed) this.#quorum();
    if (this.#answered + this.#failed === this.#nodes.length) this.#complete();
  }

  fail(tag: number, error: ThunderError): void {
    this.#firstError ??= error;
    if (tag & REPAIR_TAG) return this.#repairSettled(false);
    this.#failed++;
    if (!this.#done && this.#nodes.length - this.#failed < this.#needed) this.#refuse();
    if (this.#answered + this.#failed === this.#nodes.length) this.#complete();
  }

  /** Takes in one replica's record, keeping the newest. */
  #read(i: number, record: Buffer | null): void {
    const bit = 1 << i;
    this.#responded |= bit;
    const version = record === null ? 0 : Math.abs(recordVersion(record));
    if (record !== null && (this.#best === null || version > this.#bestVersion)) {
      this.#best = record;
      this.#bestVersion = version;
      this.#holders = bit;
    } else if (version === this.#bestVersion) this.#holders |= bit;
  }

  /** The quorum has answered: answer, or for a blocking repair, first repair. */
  #quorum(): void {
    if (this.#op === Op.Get && this.#syncRepair) {
      const stale = this.#responded & ~this.#holders;
      if (stale !== 0) {
        this.#done = true; // failures from here on are the repairs', not the quorum's
        // Counted before sending: a repair to a node gone down fails during the send.
        for (let bits = stale; bits !== 0; bits &= bits - 1) this.#repairsAwaited++;
        this.#repair(stale, this);
        return;
      }
    }
    this.#answer();
  }

  /** A blocking repair has been applied (or failed): once all have, answer. */
  #repairSettled(ok: boolean): void {
    if (!ok) this.#repairFailed = true;
    if (--this.#repairsAwaited > 0) return;
    // A repair that failed leaves a stale replica the next read may see: the monotonic-read
    // promise of a blocking repair cannot be kept, so the read fails instead.
    if (this.#repairFailed) this.#sink.fail(this.#tag, this.#quorumError());
    else this.#answer();
  }

  #answer(): void {
    this.#done = true;
    const sink = this.#sink;
    switch (this.#op) {
      case Op.Get: {
        const best = this.#best;
        if (best === null || recordVersion(best) < 0) sink.settle(this.#tag, null, 0);
        else sink.settle(this.#tag, recordValue(best), this.#bestVersion);
        break;
      }
      case Op.Size:
        sink.settle(this.#tag, this.#size, 0);
        break;
      case Op.Put:
        sink.settle(this.#tag, null, this.#version);
        break;
      case Op.Delete:
        sink.settle(this.#tag, this.#wasLive ? 1 : 0, this.#version);
    }
  }

  /** Too few replicas can answer: the client hears QUORUM_NOT_MET (with one replica, its own error). */
  #refuse(): void {
    this.#done = true;
    if (this.#nodes.length === 1) this.#sink.fail(this.#tag, this.#firstError!);
    else this.#sink.fail(this.#tag, this.#quorumError());
  }

  #quorumError(): QuorumNotMetError {
    const needed = this.#op === Op.Get ? 'R' : 'W';
    const error = new QuorumNotMetError(
      `${this.#answered} of ${this.#nodes.length} replicas answered; ${needed} = ${this.#needed}` +
        (this.#repairFailed ? ', and a blocking read repair failed' : '') +
        (this.#firstError ? ` (${this.#firstError.code}: ${this.#firstError.message})` : ''),
    );
    error.details.answered = this.#answered;
    error.details.needed = this.#needed;
    return error;
  }

  /** Every replica has answered or failed: repair what is stale; mark a tombstone held everywhere. */
  #complete(): void {
    if (this.#op === Op.Get) {
      const stale = this.#responded & ~this.#holders & ~this.#repairedMask;
      if (stale !== 0) this.#repair(stale, IGNORE);
    } else if (this.#op === Op.Delete) {
      this.#sender.tombstoneWritten(this.#key, this.#version, this.#answered);
    }
  }

  /** Sends the newest record to the replicas in `stale`. */
  #repair(stale: number, sink: ReplySink): void {
    // Stale means older than the best, so the best is a record, not "absent".
    const best = this.#best!;
    const tombstone = recordVersion(best) < 0;
    for (let i = 0; i < this.#nodes.length; i++) {
      if ((stale & (1 << i)) === 0) continue;
      this.#repairedMask |= 1 << i;
      this.#sender.repaired();
      this.#sender.sendKey(
        this.#nodes[i]!,
        sink,
        REPAIR_TAG | i,
        tombstone ? Op.Delete : Op.Put,
        this.#key,
        this.#bestVersion,
        tombstone ? undefined : recordValue(best),
      );
    }
  }
}
