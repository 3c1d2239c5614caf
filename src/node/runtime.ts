import { errorToWire } from '../errors.js';
import { DIGEST_ABOVE_BYTES, Op, type BatchFailure, type OpCode } from '../wire/protocol.js';
import type { PartitionSet } from '../ring/partition-set.js';
import { readBatch, type BatchHandler } from '../wire/batch.js';
import { ReplyWriter } from '../wire/reply.js';
import { RECORD_SLICE_HEADER, writeListPage, writeSnapshotSlice } from '../wire/slices.js';
import type { NodeStore } from './store.js';
import type { ValueBackend } from '../storage/values.js';
import { ValueFills } from './value-reads.js';
import { HASH_SPACE } from '../ring/murmur3.js';

/**
 * A node's runtime: applies a batch's operations to its {@link NodeStore} in order and writes
 * the one reply that answers them (src/wire/frame.ts has the layouts). Values go from the
 * store's records into the reply with one copy, and nothing is decoded that a reply does
 * not need.
 */
export class NodeRuntime implements BatchHandler {
  readonly #store: NodeStore;
  readonly #reply = new ReplyWriter();
  readonly #pause: (ms: number) => void;
  readonly #sharedReplies: boolean;
  /** With values in the backend: the backend, and what was read from it for the batches waiting. */
  readonly #values: ValueBackend | null;
  readonly fills = new ValueFills();
  #ops = 0;

  /**
   * `pause`: how a Pause operation stops the node (default: block the thread; a node run
   * inline on the simulated loop holds its queue instead). `sharedReplies`: each reply in a
   * SharedArrayBuffer of its own (see workers/node.ts); default an ArrayBuffer.
   */
  constructor(store: NodeStore, options: { pause?: (ms: number) => void; sharedReplies?: boolean } = {}) {
    this.#store = store;
    this.#pause = options.pause ?? blockThread;
    this.#sharedReplies = options.sharedReplies ?? false;
    this.#values = store.values;
  }

  /** The store this runtime applies batches to. */
  get store(): NodeStore {
    return this.#store;
  }

  /** Applies every operation of a batch in order; returns the reply to send back. */
  apply(batch: ArrayBuffer | SharedArrayBuffer): ArrayBuffer | SharedArrayBuffer {
    try {
      return this.#reply.take(readBatch(batch, this), this.#sharedReplies);
    } catch (err) {
      this.#reply.take(0); // drop the partial reply
      throw err;
    }
  }

  /** A key operation of a batch (see {@link BatchHandler}). */
  key(
    op: OpCode,
    batch: Buffer,
    start: number,
    length: number,
    hash: number,
    version: number,
    valueStart: number,
    valueLength: number,
  ): void {
    this.#ops++;
    const store = this.#store;
    const reply = this.#reply;
    switch (op) {
      case Op.Get:
      case Op.GetDigest: {
        const map = store.records;
        const location = map.locate(batch, start, length, hash);
        if (location === 0) return reply.absent();
        if (op === Op.GetDigest && map.valueLengthAt(location) > DIGEST_ABOVE_BYTES) {
          return reply.digest(map.versionAt(location), map.expiresAtOf(location));
        }
        if (this.#values !== null && !map.isTombstoneAt(location)) return this.#externalRecord(location);
        // record() may grow reply.target: take it after.
        const at = reply.record(
          map.versionAt(location),
          map.expiresAtOf(location),
          map.valueLengthAt(location),
          map.isTombstoneAt(location),
        );
        map.copyValueAt(location, reply.target, at);
        return;
      }
      case Op.Put:
      case Op.PutExpiring: {
        const outcome = store.putValue(
          batch,
          start,
          length,
          hash,
          version,
          valueStart,
          valueLength,
          op === Op.PutExpiring,
        );
        if (this.#values !== null) {
          // Stored (or written back over a lost value): what the fills knew of the key is
          // outdated, and its value pending.
          const name = batch.toString('latin1', start, start + length);
          if (this.#values.pending(name, version) !== undefined) this.fills.written(name);
        }
        return reply.integer(outcome);
      }
      case Op.Delete:
        return reply.integer(store.tombstone(batch, start, length, hash, version));
      case Op.Size: {
        const map = store.records;
        const location = map.locate(batch, start, length, hash);
        if (location === 0 || map.isTombstoneAt(location)) return reply.absent();
        return reply.integer(map.valueLengthAt(location));
      }
      case Op.Purge:
        return reply.integer(store.purge(batch, start, length, hash, version) ? 1 : 0);
    }
  }

  /**
   * A Get's record whose value lives in the backend: from a pending write, or as read before
   * the batch applied (src/node/value-reads.ts); a value the backend lost answers as lost.
   */
  #externalRecord(location: number): void {
    const map = this.#store.records;
    const version = map.versionAt(location);
    const value = this.#valueAt(location);
    if (value === null) {
      this.#store.noteLost(map.keyNameAt(location), version);
      return this.#reply.lost(version, map.expiresAtOf(location));
    }
    const at = this.#reply.record(version, map.expiresAtOf(location), value.length, false);
    value.copy(this.#reply.target, at);
  }

  /** The value of the record at `location` (a value, not a tombstone) from the backend's side; null when lost. */
  #valueAt(location: number): Buffer | null {
    const map = this.#store.records;
    const name = map.keyNameAt(location);
    const version = map.versionAt(location);
    return this.#values!.pending(name, version) ?? this.fills.valueOf(name, version);
  }

  list(prefix: string, after: string, limit: number, asOf: number): void {
    this.#ops++;
    const map = this.#store.records;
    const found = this.#store.pageOf(prefix, after, limit, asOf);
    const locations = found ?? [];
    const lengths = locations.map((location) => map.keyLengthAt(location));
    writeListPage(this.#reply, found !== null, lengths, (i, target, at) =>
      map.copyKeyAt(locations[i]!, target, at),
    );
  }

  snapshot(from: number, maxBytes: number, only: PartitionSet | null, asOf: number): void {
    this.#ops++;
    if (this.#values === null) {
      writeSnapshotSlice(this.#reply, this.#store.snapshotSlice(from, maxBytes, only, asOf));
      return;
    }
    const valueOf = (location: number) => this.#valueAt(location);
    const before = this.fills.takeCut();
    writeSnapshotSlice(this.#reply, this.#store.snapshotSlice(from, maxBytes, only, asOf, valueOf, before));
  }

  /**
   * A slice of records, written straight into the reply (see `forEachRecord` in
   * src/wire/slices.ts). A value the backend lost is left out: the copy this feeds skips it,
   * as a read would find no value to copy.
   */
  scanRecords(from: number, maxBytes: number, only: PartitionSet): void {
    this.#ops++;
    const map = this.#store.records;
    const before = this.#values === null ? HASH_SPACE : this.fills.takeCut();
    const { next, found, bytes: heldBytes } = this.#store.recordSlice(from, maxBytes, only, before);
    let bytes = heldBytes;
    let external: (Buffer | null)[] | null = null;
    if (this.#values !== null) {
      external = [];
      for (let i = 0; i < found.length; i += 2) {
        const location = found[i]!;
        const value = map.isTombstoneAt(location) ? Buffer.alloc(0) : this.#valueAt(location);
        external.push(value);
        if (value === null)
          bytes -= RECORD_SLICE_HEADER + map.keyLengthAt(location) + map.valueLengthAt(location);
      }
    }
    const reply = this.#reply;
    let at = reply.payload(8 + bytes);
    reply.target.writeDoubleLE(next, at);
    at += 8;
    for (let i = 0; i < found.length; i += 2) {
      const location = found[i]!;
      const value = external === null ? undefined : external[i / 2]!;
      if (value === null) continue;
      const target = reply.target;
      const keyLength = map.keyLengthAt(location);
      const version = map.versionAt(location);
      const valueLength = map.valueLengthAt(location);
      target.writeUInt32LE(found[i + 1]!, at);
      target.writeUInt16LE(keyLength, at + 4);
      target.writeDoubleLE(map.isTombstoneAt(location) ? -version : version, at + 6);
      target.writeDoubleLE(map.expiresAtOf(location), at + 14);
      target.writeUInt32LE(valueLength, at + 22);
      map.copyKeyAt(location, target, at + RECORD_SLICE_HEADER);
      if (value === undefined) map.copyValueAt(location, target, at + RECORD_SLICE_HEADER + keyLength);
      else value.copy(target, at + RECORD_SLICE_HEADER + keyLength);
      at += RECORD_SLICE_HEADER + keyLength + valueLength;
    }
  }

  partitionStats(): void {
    this.#ops++;
    const map = this.#store.records;
    const records = map.partitionRecords;
    const bytes = map.partitionBytes;
    let at = this.#reply.payload(records.length * 12);
    const target = this.#reply.target;
    for (let p = 0; p < records.length; p++, at += 12) {
      target.writeUInt32LE(records[p]!, at);
      target.writeDoubleLE(bytes[p]!, at + 4);
    }
  }

  /** Removes a slice of the records of the partitions in `only`; answers where the next starts. */
  dropPartitions(from: number, only: PartitionSet): void {
    this.#ops++;
    const next = this.#store.dropPartitions(from, only);
    const at = this.#reply.payload(8);
    this.#reply.target.writeDoubleLE(next, at);
  }

  digests(): void {
    this.#ops++;
    const digests = this.#store.records.digests;
    const at = this.#reply.payload(digests.byteLength);
    Buffer.from(digests.buffer, digests.byteOffset, digests.byteLength).copy(this.#reply.target, at);
  }

  /** Clears a slice of expired values into tombstones (see {@link NodeStore.clearExpired}); answers next (f64) and cleared (u32). */
  clearExpired(from: number, cutoff: number): void {
    this.#ops++;
    const { next, cleared } = this.#store.clearExpired(from, cutoff);
    const at = this.#reply.payload(12);
    this.#reply.target.writeDoubleLE(next, at);
    this.#reply.target.writeUInt32LE(cleared, at + 8);
  }

  stats(): void {
    this.#ops++;
    this.#reply.text(JSON.stringify(this.#store.statistics(this.#ops)));
  }

  /** Stops the node for `ms`, as a long GC pause would: nothing else runs meanwhile. */
  pause(ms: number): void {
    this.#ops++;
    this.#pause(ms);
    this.#reply.integer(1);
  }
}

/** Blocks the calling thread for `ms`. */
function blockThread(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * A node's answer to one batch: the reply, or, when applying it threw, a failure naming the
 * batch, so its callers hear the error and the node lives on.
 */
export function answer(
  runtime: NodeRuntime,
  batch: ArrayBuffer | SharedArrayBuffer,
): ArrayBuffer | SharedArrayBuffer | BatchFailure {
  try {
    return runtime.apply(batch);
  } catch (err) {
    return { id: new DataView(batch).getUint32(0, true), error: errorToWire(err) };
  }
}
