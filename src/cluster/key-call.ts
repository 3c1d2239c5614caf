import type { ReplySink } from '../transport/batcher.js';
import { Written } from '../wire/protocol.js';
import { assert } from '../assert.js';
import { QuorumNotMetError, ValueLostError, type ThunderError } from '../errors.js';
import { quorumState, type QuorumState } from './quorum.js';
import { Op } from '../wire/protocol.js';
import { hasExpired } from '../expiry.js';
import {
  isDigest,
  isLost,
  recordEnvelope,
  recordExpiresAt,
  recordValue,
  recordVersion,
  type Result,
} from '../wire/reply.js';

/** The key operations a client asks of the cluster. */
export type KeyOp = typeof Op.Get | typeof Op.Put | typeof Op.PutExpiring | typeof Op.Delete | typeof Op.Size;

/**
 * Whoever waits for a key operation's answer from the cluster. `reply` and `version` by
 * operation:
 * - Get: the value (a view, valid during the call; copy it to keep it) or null when the key
 *   is absent, deleted or expired; the version read (of the tombstone or expired value
 *   too; 0 when no replica holds a record); and when the value expires (Unix ms; 0: never).
 * - Size: the value's length or null; version 0 (sizes are read from one replica, as hints).
 * - Put, PutExpiring: null; the version written.
 * - Delete: 1 if a replica that acknowledged held a value, else 0; the tombstone's version.
 */
export interface KeySink {
  settle(tag: number, reply: Result, version: number, expiresAt?: number): void;
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

/** What {@link KeyCalls} needs of the cluster: sending to one replica, and follow-ups. */
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
  /** A value expiring at `expiresAt` that `acks` replicas acknowledged: purged after it, once every replica holds it. */
  expiringWritten(key: string, version: number, expiresAt: number, acks: number): void;
  /** A write stamped `version` was acknowledged by its quorum, or failed it (the change feed's). */
  writeSettled(version: number, acknowledged: boolean): void;
  /** Counts a read repair sent. */
  repaired(): void;
  /** Counts a value fetched after digests showed a newer version than the record read. */
  fetched(): void;
  /** Counts a replica's answer that its storage backend lost the value (src/storage/values.ts). */
  valueLost(): void;
  /** Runs `fire` once the events of this turn have been handled (a read's wait for its record). */
  endOfTurn(fire: () => void): void;
  /** The coordinator's wall clock, Unix ms: whether a value read has expired. */
  wall(): number;
}

/**
 * A tag, as the batcher hands it back: the call's slot × 64, then one bit saying "the record a
 * read fetched", one saying "a repair's acknowledgement", then the replica's index in the
 * call's node list (below 16).
 */
const SLOT_SHIFT = 6;
const FETCH_BIT = 32;
const REPAIR_BIT = 16;
const REPLICA_MASK = 15;

/** Per-call flags. */
const DONE = 1; // the client has been answered, or refused
const SYNC_REPAIR = 2;
const WAS_LIVE = 4; // deletes: a replica held a value
const REPAIR_FAILED = 8;
const REPAIRING = 16; // #repair is sending: a synchronous failure must not release the slot
const NEWEST_TOMBSTONE = 32; // reads: the newest version seen is a tombstone's
const AWAITING_RECORD = 64; // reads: the newest version's record is awaited (end of turn, or a fetch)
const COMPLETE_DEFERRED = 128; // reads: every replica is in, and the repairs wait for that record

/** Acknowledgements of fire-and-forget repairs: nobody waits for them. */
const IGNORE: ReplySink = { settle() {}, fail() {} };

/**
 * The client key operations in flight. Each is sent to every replica in its preference list
 * that is up, answered once its quorum (R for reads, W for writes) has answered, and
 * followed through after that: stale replicas are repaired, and a tombstone every replica
 * holds is marked for purging. The client hears exactly once: the answer, or
 * QUORUM_NOT_MET as soon as too many replicas have failed for the quorum to be reached.
 *
 * A read asks one replica for the record and the others for its digest (version and expiry,
 * no value; see {@link digestFrom}), which they answer with the whole record when the value
 * is small. Once R replicas have answered, the newest version among
 * them is the answer, as before; when only a digest has it, the read waits for the rest of
 * the turn (the record's reply usually arrives in it), then fetches the record from a
 * replica whose digest has that version. Repairs wait for that record too.
 *
 * Calls live in slots of column arrays (typed arrays for numbers), reused once a call is
 * finished, and this one object is the reply sink of every replica's operation, told apart
 * by tag: a request allocates nothing here. (One object per call was measured: 30 B more
 * RSS per record loaded and a 1 M-pair load 40% slower, its objects promoted while in flight.)
 */
export class KeyCalls implements ReplySink {
  readonly #sender: ReplicaSender;
  // References, by slot.
  #sinks: (KeySink | null)[] = [];
  #tags: number[] = [];
  #keys: string[] = [];
  #nodes: (readonly number[])[] = [];
  /**
   * Get: the newest record that arrived whole (a Get payload), which a digest may since have
   * outdated (see #hasNewest); Size: the length read.
   */
  #results: Result[] = [];
  /**
   * Get with a blocking repair: what the quorum read, answered once the repairs are
   * acknowledged (the record, or null for absent, and its version): answers that arrive
   * meanwhile change what is repaired later, not this answer.
   */
  #answerRecords: (Buffer | null)[] = [];
  #answerVersions = new Float64Array(0);
  #errors: (ThunderError | null)[] = [];
  // Numbers, by slot.
  #ops = new Uint8Array(0);
  #needed = new Uint8Array(0);
  #answered = new Uint8Array(0);
  #failed = new Uint8Array(0);
  #flags = new Uint8Array(0);
  #awaited = new Uint8Array(0); // blocking repairs not yet acknowledged
  /** The version a write carries; a read's newest version seen. */
  #versions = new Float64Array(0);
  /** PutExpiring: when the value expires (Unix ms). */
  #expiries = new Float64Array(0);
  /** Reads: replicas that answered, whose answer was the newest, and those repaired. */
  #responded = new Uint16Array(0);
  #holders = new Uint16Array(0);
  #repaired = new Uint16Array(0);
  /** Reads: replicas asked for a digest, records fetched from (or asked), and fetches in flight. */
  #digests = new Uint16Array(0);
  #fetchedFrom = new Uint16Array(0);
  #fetching = new Uint8Array(0);
  /** Reads: replicas whose storage backend lost the value of the version they hold (repaired as stale). */
  #lost = new Uint16Array(0);
  /** Writes: replicas that refused for memory (`--max-memory`), of those that failed. */
  #refusedForMemory = new Uint8Array(0);
  readonly #free: number[] = [];
  /** Reads whose newest record is awaited at the end of this turn; {@link #decide} takes them. */
  #undecided: number[] = [];
  #deciding = false;

  constructor(sender: ReplicaSender) {
    this.#sender = sender;
  }

  /** Calls in flight. */
  get size(): number {
    return this.#ops.length - this.#free.length;
  }

  /**
   * Begins a call; returns its base tag. Send the operation to `nodes[i]` with tag
   * `base + i`, each, with this object as the sink.
   * @param nodes the replicas to ask, in preference order (at most 16).
   * @param needed answers needed: R or W, at most `nodes.length`.
   * @param expiresAt a PutExpiring's expiry (Unix ms), for its purge once every replica has it.
   */
  begin(
    sink: KeySink,
    tag: number,
    op: KeyOp,
    key: string,
    nodes: readonly number[],
    needed: number,
    syncRepair: boolean,
    version: number,
    expiresAt = 0,
  ): number {
    if (this.#free.length === 0) this.#grow();
    const slot = this.#free.pop()!;
    // A slot freed twice would be handed to two calls at once: the second finds it taken.
    assert(this.#sinks[slot] == null, 'a call slot is free when taken');
    this.#sinks[slot] = sink;
    this.#tags[slot] = tag;
    this.#keys[slot] = key;
    this.#nodes[slot] = nodes;
    this.#results[slot] = null;
    this.#errors[slot] = null;
    this.#ops[slot] = op;
    this.#needed[slot] = needed;
    this.#answered[slot] = this.#failed[slot] = this.#awaited[slot] = 0;
    this.#flags[slot] = syncRepair ? SYNC_REPAIR : 0;
    this.#versions[slot] = version;
    this.#expiries[slot] = expiresAt;
    this.#responded[slot] = this.#holders[slot] = this.#repaired[slot] = 0;
    this.#digests[slot] = this.#fetchedFrom[slot] = this.#fetching[slot] = this.#lost[slot] = 0;
    this.#refusedForMemory[slot] = 0;
    return slot << SLOT_SHIFT;
  }

  /** Doubles the slots (the typed columns are copied; the reference columns grow as arrays do). */
  #grow(): void {
    const old = this.#ops.length;
    const slots = Math.max(64, old * 2);
    const widen = <T extends Uint8Array | Uint16Array | Float64Array>(
      column: T,
      make: new (n: number) => T,
    ): T => {
      const wider = new make(slots);
      wider.set(column);
      return wider;
    };
    this.#ops = widen(this.#ops, Uint8Array);
    this.#needed = widen(this.#needed, Uint8Array);
    this.#answered = widen(this.#answered, Uint8Array);
    this.#failed = widen(this.#failed, Uint8Array);
    this.#flags = widen(this.#flags, Uint8Array);
    this.#awaited = widen(this.#awaited, Uint8Array);
    this.#versions = widen(this.#versions, Float64Array);
    this.#expiries = widen(this.#expiries, Float64Array);
    this.#answerVersions = widen(this.#answerVersions, Float64Array);
    this.#responded = widen(this.#responded, Uint16Array);
    this.#holders = widen(this.#holders, Uint16Array);
    this.#repaired = widen(this.#repaired, Uint16Array);
    this.#digests = widen(this.#digests, Uint16Array);
    this.#fetchedFrom = widen(this.#fetchedFrom, Uint16Array);
    this.#fetching = widen(this.#fetching, Uint8Array);
    this.#lost = widen(this.#lost, Uint16Array);
    this.#refusedForMemory = widen(this.#refusedForMemory, Uint8Array);
    for (let slot = slots - 1; slot >= old; slot--) this.#free.push(slot);
  }

  /**
   * Marks the replica of `tag` (a read's base tag + its index) as asked for the digest
   * (Op.GetDigest), not the record.
   */
  digestFrom(tag: number): void {
    this.#digests[tag >> SLOT_SHIFT]! |= 1 << (tag & REPLICA_MASK);
  }

  settle(tag: number, reply: Result): void {
    const slot = tag >> SLOT_SHIFT;
    if (tag & REPAIR_BIT) return this.#repairSettled(slot, true);
    if (tag & FETCH_BIT) return this.#fetched(slot, tag & REPLICA_MASK, reply as Buffer | null);
    this.#answered[slot]!++;
    const op = this.#ops[slot];
    if (op === Op.Get) this.#read(slot, tag & REPLICA_MASK, reply as Buffer | null);
    else if (op === Op.Delete && reply === Written.WasLive) this.#flags[slot]! |= WAS_LIVE;
    else if (op === Op.Size) this.#results[slot] = reply;
    if (!(this.#flags[slot]! & DONE) && this.#quorumState(slot) === 'met') this.#quorum(slot);
    if (this.#allIn(slot)) this.#complete(slot);
    this.#releaseIfFinished(slot);
  }

  fail(tag: number, error: ThunderError): void {
    const slot = tag >> SLOT_SHIFT;
    this.#errors[slot] ??= error;
    if (tag & REPAIR_BIT) return this.#repairSettled(slot, false);
    if (tag & FETCH_BIT) return this.#fetched(slot, tag & REPLICA_MASK, undefined);
    this.#failed[slot]!++;
    if (error.code === 'OUT_OF_MEMORY') this.#refusedForMemory[slot]!++;
    const flags = this.#flags[slot]!;
    if (!(flags & DONE) && this.#quorumState(slot) === 'lost') this.#refuse(slot);
    if (this.#allIn(slot)) this.#complete(slot);
    this.#releaseIfFinished(slot);
  }

  #quorumState(slot: number): QuorumState {
    return quorumState(
      this.#nodes[slot]!.length,
      this.#needed[slot]!,
      this.#answered[slot]!,
      this.#failed[slot]!,
    );
  }

  /** Every replica has answered or failed. */
  #allIn(slot: number): boolean {
    return this.#answered[slot]! + this.#failed[slot]! === this.#nodes[slot]!.length;
  }

  /**
   * Frees the slot once nothing can reach it any more: every replica has answered or failed
   * (each tag is settled exactly once) and no blocking repair is awaited. Its references are
   * dropped, so a free slot holds no reply.
   */
  #releaseIfFinished(slot: number): void {
    // Released already (a repair's loop releases, then the settle that started it asks
    // again): freeing a slot twice would give two calls the same one.
    if (this.#sinks[slot] === null) return;
    const flags = this.#flags[slot]!;
    if (flags & (REPAIRING | AWAITING_RECORD) || !this.#allIn(slot)) return;
    if (this.#awaited[slot]! > 0 || this.#fetching[slot]! > 0) return;
    this.#sinks[slot] = null;
    this.#results[slot] = null;
    this.#answerRecords[slot] = null;
    this.#errors[slot] = null;
    this.#keys[slot] = '';
    this.#free.push(slot);
  }

  /**
   * Takes in one replica's answer to a read: its record, its digest, absent, or that its
   * value is lost (a holder of the version with nothing to fetch from it, repaired after).
   */
  #read(slot: number, i: number, record: Buffer | null): void {
    const bit = 1 << i;
    this.#responded[slot]! |= bit;
    if (record !== null && isLost(record)) return this.#takeLost(slot, bit, record);
    const whole = record === null || (this.#digests[slot]! & bit) === 0 || !isDigest(record);
    this.#take(slot, bit, record, whole);
  }

  /** A replica holds the record's version, but its backend lost the value. */
  #takeLost(slot: number, bit: number, record: Buffer): void {
    this.#lost[slot]! |= bit;
    this.#fetchedFrom[slot]! |= bit;
    this.#sender.valueLost();
    this.#take(slot, bit, record, false);
    // Its expiry, kept (every holder of a version has the same): a value lost on every
    // holder that has expired anyway reads as absent.
    if (recordVersion(record) === this.#versions[slot]) this.#expiries[slot] = -1 - recordExpiresAt(record);
  }

  /** Keeps the newest version seen, who holds it, and its record once one arrives whole. */
  #take(slot: number, bit: number, record: Buffer | null, whole: boolean): void {
    const version = record === null ? 0 : Math.abs(recordVersion(record));
    if (version > this.#versions[slot]!) {
      this.#versions[slot] = version;
      this.#holders[slot] = bit;
      if (recordVersion(record!) < 0) this.#flags[slot]! |= NEWEST_TOMBSTONE;
      else this.#flags[slot]! &= ~NEWEST_TOMBSTONE;
    } else if (version === this.#versions[slot]) {
      this.#holders[slot]! |= bit;
      // Of a tombstone and a value of one version (an expired value cleared on one replica and
      // not yet on another), the tombstone is the record, as a store keeps it.
      if (version !== 0 && recordVersion(record!) < 0) this.#flags[slot]! |= NEWEST_TOMBSTONE;
    }
    if (whole && version !== 0 && version === this.#versions[slot]) this.#results[slot] = record;
  }

  /**
   * A read has what its answer and its repairs need: no replica holds a record, the newest
   * is a tombstone (its version is all), or the newest version's record arrived whole.
   */
  #hasNewest(slot: number): boolean {
    const version = this.#versions[slot]!;
    if (version === 0 || this.#flags[slot]! & NEWEST_TOMBSTONE) return true;
    const record = this.#results[slot] as Buffer | null;
    return record !== null && Math.abs(recordVersion(record)) === version;
  }

  /** Waits for the newest version's record: until the end of this turn, then by a fetch. */
  #awaitNewest(slot: number): void {
    if (this.#flags[slot]! & AWAITING_RECORD) return;
    this.#flags[slot]! |= AWAITING_RECORD;
    this.#undecided.push(slot);
    if (this.#deciding) return;
    this.#deciding = true;
    this.#sender.endOfTurn(this.#decide);
  }

  readonly #decide = (): void => {
    this.#deciding = false;
    const slots = this.#undecided;
    this.#undecided = [];
    for (const slot of slots) this.#pursueNewest(slot);
  };

  /**
   * The newest record is awaited: go on once it is here; otherwise fetch it from a holder
   * not yet asked, or, when none is left, give up (the client hears QUORUM_NOT_MET).
   */
  #pursueNewest(slot: number): void {
    if (this.#hasNewest(slot)) {
      this.#flags[slot]! &= ~AWAITING_RECORD;
      if (!(this.#flags[slot]! & DONE)) this.#quorum(slot);
      if (this.#flags[slot]! & COMPLETE_DEFERRED) {
        this.#flags[slot]! &= ~COMPLETE_DEFERRED;
        this.#complete(slot);
      }
      return this.#releaseIfFinished(slot);
    }
    const untried = this.#holders[slot]! & ~this.#fetchedFrom[slot]!;
    if (untried === 0) {
      // Only while nothing else is on its way: a fetch in flight may still bring it.
      if (this.#fetching[slot]! > 0) return;
      // So may a replica yet to answer: its answer asks again (#quorum, #complete).
      if (!this.#allIn(slot)) {
        this.#flags[slot]! &= ~AWAITING_RECORD;
        return;
      }
      this.#flags[slot]! &= ~(AWAITING_RECORD | COMPLETE_DEFERRED);
      if (!(this.#flags[slot]! & DONE)) {
        this.#flags[slot]! |= DONE;
        // Every holder of the newest version answered that its value is gone: never the older
        // value, and absent only when it has expired anyway.
        const lost = this.#holders[slot] === (this.#holders[slot]! & this.#lost[slot]!);
        const expiresAt = this.#expiries[slot]!;
        if (lost && expiresAt !== 0 && hasExpired(expiresAt, this.#sender.wall())) {
          this.#answerRead(slot, null, this.#versions[slot]!);
          return this.#releaseIfFinished(slot);
        }
        this.#sinks[slot]!.fail(
          this.#tags[slot]!,
          lost
            ? new ValueLostError(
                `${this.#keys[slot]!} was written at version ${this.#versions[slot]!}; its value is gone from the storage backend on every replica that holds it`,
              )
            : this.#quorumError(slot, 'the newest version could not be read'),
        );
      }
      return this.#releaseIfFinished(slot);
    }
    const i = 31 - Math.clz32(untried & -untried);
    this.#fetchedFrom[slot]! |= 1 << i;
    this.#fetching[slot]!++;
    this.#sender.fetched();
    // A node gone down fails the fetch during the send, which pursues the next holder.
    this.#sender.sendKey(
      this.#nodes[slot]![i]!,
      this,
      (slot << SLOT_SHIFT) | FETCH_BIT | i,
      Op.Get,
      this.#keys[slot]!,
      0,
    );
  }

  /** A fetched record arrived (undefined: the fetch failed). */
  #fetched(slot: number, i: number, record: Buffer | null | undefined): void {
    this.#fetching[slot]!--;
    if (record != null && isLost(record)) this.#takeLost(slot, 1 << i, record);
    else if (record !== undefined) this.#take(slot, 1 << i, record, true);
    if (this.#flags[slot]! & AWAITING_RECORD) this.#pursueNewest(slot);
    else this.#releaseIfFinished(slot);
  }

  /** The quorum has answered: answer, or for a blocking repair, first repair. */
  #quorum(slot: number): void {
    if (this.#ops[slot] === Op.Get && !this.#hasNewest(slot)) return this.#awaitNewest(slot);
    if (this.#ops[slot] === Op.Get && this.#flags[slot]! & SYNC_REPAIR) {
      const stale = (this.#responded[slot]! & ~this.#holders[slot]!) | this.#lost[slot]!;
      if (stale !== 0) {
        this.#flags[slot]! |= DONE; // failures from here on are the repairs', not the quorum's
        this.#answerRecords[slot] = this.#newestRecord(slot);
        this.#answerVersions[slot] = this.#versions[slot]!;
        // Counted before sending: a repair to a node gone down fails during the send.
        for (let bits = stale; bits !== 0; bits &= bits - 1) this.#awaited[slot]!++;
        this.#repair(slot, stale, this);
        return;
      }
    }
    this.#answer(slot);
  }

  /** A blocking repair has been applied (or failed): once all have, answer. */
  #repairSettled(slot: number, ok: boolean): void {
    if (!ok) this.#flags[slot]! |= REPAIR_FAILED;
    assert(this.#awaited[slot]! > 0, 'a blocking repair is acknowledged once');
    if (--this.#awaited[slot]! > 0) return;
    // A repair that failed leaves a stale replica the next read may see: the monotonic-read
    // promise of a blocking repair cannot be kept, so the read fails instead.
    if (this.#flags[slot]! & REPAIR_FAILED)
      this.#sinks[slot]!.fail(this.#tags[slot]!, this.#quorumError(slot, 'a blocking read repair failed'));
    else this.#answerRead(slot, this.#answerRecords[slot]!, this.#answerVersions[slot]!);
    this.#releaseIfFinished(slot);
  }

  /** A read's answer: `record`'s value and `version`, or absent (null, or expired) with that version. */
  #answerRead(slot: number, record: Buffer | null, version: number): void {
    const sink = this.#sinks[slot]!;
    const tag = this.#tags[slot]!;
    // Absent, deleted or expired: no value, but the version read (0 when none), which a
    // conditional write must outdate.
    if (record === null) return sink.settle(tag, null, version);
    const expiresAt = recordExpiresAt(record);
    // Expired reads as absent; the record stays until the replicas clear it.
    if (expiresAt !== 0 && hasExpired(expiresAt, this.#sender.wall())) sink.settle(tag, null, version);
    else sink.settle(tag, recordValue(record), version, expiresAt);
  }

  /** The newest record read, or null when it is absent or a tombstone (see #hasNewest). */
  #newestRecord(slot: number): Buffer | null {
    if (this.#versions[slot] === 0 || this.#flags[slot]! & NEWEST_TOMBSTONE) return null;
    return this.#results[slot] as Buffer;
  }

  #answer(slot: number): void {
    this.#flags[slot]! |= DONE;
    const sink = this.#sinks[slot]!;
    const tag = this.#tags[slot]!;
    switch (this.#ops[slot] as KeyOp) {
      case Op.Get:
        this.#answerRead(slot, this.#newestRecord(slot), this.#versions[slot]!);
        break;
      case Op.Size:
        sink.settle(tag, this.#results[slot]!, 0);
        break;
      // Watchers hear of a write before its client does: a client that watches from the
      // version it was answered with misses nothing.
      case Op.Put:
      case Op.PutExpiring:
        this.#sender.writeSettled(this.#versions[slot]!, true);
        sink.settle(tag, null, this.#versions[slot]!);
        break;
      case Op.Delete:
        this.#sender.writeSettled(this.#versions[slot]!, true);
        sink.settle(tag, this.#flags[slot]! & WAS_LIVE ? 1 : 0, this.#versions[slot]!);
    }
  }

  /**
   * Too few replicas can answer: the client hears QUORUM_NOT_MET (with one replica, or when
   * every replica that failed refused for memory, their own error).
   */
  #refuse(slot: number): void {
    this.#flags[slot]! |= DONE;
    const op = this.#ops[slot];
    if (op !== Op.Get && op !== Op.Size) this.#sender.writeSettled(this.#versions[slot]!, false);
    const sink = this.#sinks[slot]!;
    const forMemory = this.#refusedForMemory[slot] === this.#failed[slot];
    if (this.#nodes[slot]!.length === 1 || forMemory) sink.fail(this.#tags[slot]!, this.#errors[slot]!);
    else sink.fail(this.#tags[slot]!, this.#quorumError(slot));
  }

  /** QUORUM_NOT_MET, saying how many answered; `also`: what else went wrong. */
  #quorumError(slot: number, also?: string): QuorumNotMetError {
    const needed = this.#needed[slot]!;
    const answered = this.#answered[slot]!;
    const cause = this.#errors[slot];
    const error = new QuorumNotMetError(
      `${answered} of ${this.#nodes[slot]!.length} replicas answered; ${this.#ops[slot] === Op.Get ? 'R' : 'W'} = ${needed}` +
        (also === undefined ? '' : `, and ${also}`) +
        (cause ? ` (${cause.code}: ${cause.message})` : ''),
    );
    error.details.answered = answered;
    error.details.needed = needed;
    return error;
  }

  /** Every replica has answered or failed: repair what is stale; report a delete's acknowledgements. */
  #complete(slot: number): void {
    const op = this.#ops[slot];
    if (op === Op.Get) {
      const stale =
        ((this.#responded[slot]! & ~this.#holders[slot]!) | this.#lost[slot]!) & ~this.#repaired[slot]!;
      if (stale === 0) return;
      if (this.#hasNewest(slot)) return this.#repair(slot, stale, IGNORE);
      this.#flags[slot]! |= COMPLETE_DEFERRED;
      this.#awaitNewest(slot);
    } else if (op === Op.Delete) {
      this.#sender.tombstoneWritten(this.#keys[slot]!, this.#versions[slot]!, this.#answered[slot]!);
    } else if (op === Op.PutExpiring) {
      const expiresAt = this.#expiries[slot]!;
      this.#sender.expiringWritten(
        this.#keys[slot]!,
        this.#versions[slot]!,
        expiresAt,
        this.#answered[slot]!,
      );
    }
  }

  /** Sends the newest record to the replicas in `stale`. */
  #repair(slot: number, stale: number, sink: ReplySink): void {
    // Stale means older than the newest, so the newest is a record, not "absent"; unless it
    // is a tombstone, its record is here (see #hasNewest).
    const best = this.#results[slot] as Buffer;
    const tombstone = (this.#flags[slot]! & NEWEST_TOMBSTONE) !== 0;
    // A value that expires is repaired with its expiry: the replica then agrees on both.
    const expires = !tombstone && recordExpiresAt(best) !== 0;
    const nodes = this.#nodes[slot]!;
    this.#flags[slot]! |= REPAIRING;
    for (let i = 0; i < nodes.length; i++) {
      if ((stale & (1 << i)) === 0) continue;
      this.#repaired[slot]! |= 1 << i;
      this.#sender.repaired();
      this.#sender.sendKey(
        nodes[i]!,
        sink,
        (slot << SLOT_SHIFT) | REPAIR_BIT | i,
        tombstone ? Op.Delete : expires ? Op.PutExpiring : Op.Put,
        this.#keys[slot]!,
        this.#versions[slot]!,
        tombstone ? undefined : expires ? recordEnvelope(best) : recordValue(best),
      );
    }
    this.#flags[slot]! &= ~REPAIRING;
    this.#releaseIfFinished(slot);
  }
}
