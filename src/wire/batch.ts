import { FrameWriter, HEADER, type SharedBufferPool } from './frame.js';
import { Op, type OpCode } from './protocol.js';
import type { PartitionSet } from '../ring/partition-set.js';

/** A batch of operations, front end to node: its layout is in src/wire/frame.ts. */

/** Scratch for a version's bytes: typed arrays use the platform's byte order, so check it is the wire's. */
const F64 = new Float64Array(1);
const F64_BYTES = new Uint8Array(F64.buffer);
if (new Uint8Array(Uint16Array.of(1).buffer)[0] !== 1) {
  throw new Error('ThunderDB runs on little-endian machines only (x86-64, ARM64)');
}

/** Writes a batch's operations (front end). */
export class BatchWriter extends FrameWriter {
  /** `pool`: shared buffers to write batches into (see {@link FrameWriter.take}). */
  constructor(pool?: SharedBufferPool) {
    super(64 * 1024, pool);
  }

  /**
   * A key operation with its version (0 for reads); `value` (bytes, or a byte string of one
   * char per byte) only for Put and PutExpiring.
   */
  key(
    op: OpCode,
    key: Uint8Array,
    keyLength: number,
    hash: number,
    version: number,
    value?: Uint8Array | string,
  ): void {
    const valueLength = value === undefined ? 0 : value.length;
    // Checked before reserving: a throw after it would leave uncounted bytes in the batch.
    if (keyLength > 0xffff) throw new RangeError(`a key is at most 65535 bytes, got ${keyLength}`);
    const extra = op === Op.Put || op === Op.PutExpiring ? 4 + valueLength : 0;
    const at = this.reserve(15 + keyLength + extra);
    const buf = this.buf;
    // Byte by byte: Buffer's write methods check their arguments on every call, and this
    // runs once per operation on the front end's one thread.
    buf[at] = op;
    buf[at + 1] = hash;
    buf[at + 2] = hash >>> 8;
    buf[at + 3] = hash >>> 16;
    buf[at + 4] = hash >>> 24;
    buf[at + 5] = keyLength;
    buf[at + 6] = keyLength >>> 8;
    F64[0] = version;
    for (let i = 0; i < 8; i++) buf[at + 7 + i] = F64_BYTES[i]!;
    let to = at + 15;
    if (extra !== 0) {
      buf[to] = valueLength;
      buf[to + 1] = valueLength >>> 8;
      buf[to + 2] = valueLength >>> 16;
      buf[to + 3] = valueLength >>> 24;
      to += 4;
    }
    for (let i = 0; i < keyLength; i++) buf[to + i] = key[i]!;
    to += keyLength;
    if (typeof value === 'string') buf.write(value, to, valueLength, 'latin1');
    else if (value !== undefined) buf.set(value, to);
    this.counted();
  }

  list(prefix: string, after: string, limit: number, asOf: number): void {
    const prefixLength = Buffer.byteLength(prefix);
    const afterLength = Buffer.byteLength(after);
    // Checked before reserving: a throw after it would leave uncounted bytes in the batch.
    if (prefixLength > 0xffff || afterLength > 0xffff) {
      throw new RangeError(`a listing's prefix and cursor are at most 65535 bytes each`);
    }
    const at = this.reserve(1 + 2 + prefixLength + 2 + afterLength + 12);
    const buf = this.buf;
    buf[at] = Op.ListPage;
    buf.writeUInt16LE(prefixLength, at + 1);
    buf.write(prefix, at + 3, prefixLength, 'utf8');
    let to = at + 3 + prefixLength;
    buf.writeUInt16LE(afterLength, to);
    buf.write(after, to + 2, afterLength, 'utf8');
    to += 2 + afterLength;
    buf.writeUInt32LE(limit, to);
    buf.writeDoubleLE(asOf, to + 4);
    this.counted();
  }

  /** A snapshot slice, leaving out values expired at `asOf`; with `only`, of the partitions it includes. */
  snapshot(
    from: number,
    maxBytes: number,
    only: PartitionSet | null,
    asOf: number,
    op: typeof Op.SnapshotSlice | typeof Op.ScanRecords | typeof Op.DropPartitions = Op.SnapshotSlice,
  ): void {
    const n = only === null ? 0 : only.bits.length;
    const at = this.reserve(21 + n);
    this.buf[at] = op;
    this.buf.writeUInt32LE(from, at + 1);
    this.buf.writeUInt32LE(maxBytes, at + 5);
    this.buf.writeUInt32LE(only?.partitions ?? 0, at + 9);
    this.buf.writeDoubleLE(asOf, at + 13);
    if (only !== null) this.buf.set(only.bits, at + 21);
    this.counted();
  }

  /** A record scan: a snapshot slice's operands, records (expired or not) for an answer. */
  scanRecords(from: number, maxBytes: number, only: PartitionSet): void {
    this.snapshot(from, maxBytes, only, 0, Op.ScanRecords);
  }

  /** Removes a slice of the records of the partitions in `only`. */
  dropPartitions(from: number, only: PartitionSet): void {
    this.snapshot(from, 0, only, 0, Op.DropPartitions);
  }

  /** Clears a slice of the values that expired at or before `cutoff` (Unix ms) into tombstones. */
  clearExpired(from: number, cutoff: number): void {
    const at = this.reserve(13);
    this.buf[at] = Op.ClearExpired;
    this.buf.writeUInt32LE(from, at + 1);
    this.buf.writeDoubleLE(cutoff, at + 5);
    this.counted();
  }

  stats(): void {
    this.#bare(Op.Stats);
  }

  digests(): void {
    this.#bare(Op.Digests);
  }

  partitionStats(): void {
    this.#bare(Op.PartitionStats);
  }

  /** An operation without operands. */
  #bare(op: OpCode): void {
    const at = this.reserve(1);
    this.buf[at] = op;
    this.counted();
  }

  pause(ms: number): void {
    const at = this.reserve(5);
    this.buf[at] = Op.Pause;
    this.buf.writeUInt32LE(ms, at + 1);
    this.counted();
  }
}

/** What a node does with each operation of a batch, as {@link readBatch} finds them. */
export interface BatchHandler {
  /** A key operation: the key is `batch[start, start + length)`; a Put's value is `batch[valueStart, +valueLength)`. */
  key(
    op: OpCode,
    batch: Buffer,
    start: number,
    length: number,
    hash: number,
    version: number,
    valueStart: number,
    valueLength: number,
  ): void;
  list(prefix: string, after: string, limit: number, asOf: number): void;
  /** `only`: the partitions to include, or null for all. */
  snapshot(from: number, maxBytes: number, only: PartitionSet | null, asOf: number): void;
  scanRecords(from: number, maxBytes: number, only: PartitionSet): void;
  dropPartitions(from: number, only: PartitionSet): void;
  clearExpired(from: number, cutoff: number): void;
  stats(): void;
  digests(): void;
  partitionStats(): void;
  pause(ms: number): void;
}

/** Walks a batch in order, calling `handler` once per operation; returns the batch's id. */
export function readBatch(batch: ArrayBuffer | SharedArrayBuffer, handler: BatchHandler): number {
  const buf = Buffer.from(batch);
  const id = buf.readUInt32LE(0);
  const count = buf.readUInt32LE(4);
  let at = HEADER;
  for (let n = 0; n < count; n++) {
    const op = buf[at]! as OpCode;
    switch (op) {
      case Op.Get:
      case Op.GetDigest:
      case Op.Delete:
      case Op.Size:
      case Op.Purge:
      case Op.Put:
      case Op.PutExpiring: {
        const hash = buf.readUInt32LE(at + 1);
        const length = buf.readUInt16LE(at + 5);
        const version = buf.readDoubleLE(at + 7);
        at += 15;
        let valueLength = 0;
        if (op === Op.Put || op === Op.PutExpiring) {
          valueLength = buf.readUInt32LE(at);
          at += 4;
        }
        handler.key(op, buf, at, length, hash, version, at + length, valueLength);
        at += length + valueLength;
        break;
      }
      case Op.ListPage: {
        const prefixLength = buf.readUInt16LE(at + 1);
        const prefix = buf.toString('utf8', at + 3, at + 3 + prefixLength);
        at += 3 + prefixLength;
        const afterLength = buf.readUInt16LE(at);
        const after = buf.toString('utf8', at + 2, at + 2 + afterLength);
        at += 2 + afterLength;
        handler.list(prefix, after, buf.readUInt32LE(at), buf.readDoubleLE(at + 4));
        at += 12;
        break;
      }
      case Op.SnapshotSlice:
      case Op.ScanRecords:
      case Op.DropPartitions: {
        const partitions = buf.readUInt32LE(at + 9);
        const n = Math.ceil(partitions / 8);
        const only = partitions === 0 ? null : { partitions, bits: buf.subarray(at + 21, at + 21 + n) };
        const from = buf.readUInt32LE(at + 1);
        const maxBytes = buf.readUInt32LE(at + 5);
        if (op === Op.SnapshotSlice) handler.snapshot(from, maxBytes, only, buf.readDoubleLE(at + 13));
        else if (op === Op.ScanRecords) handler.scanRecords(from, maxBytes, only!);
        else handler.dropPartitions(from, only!);
        at += 21 + n;
        break;
      }
      case Op.ClearExpired:
        handler.clearExpired(buf.readUInt32LE(at + 1), buf.readDoubleLE(at + 5));
        at += 13;
        break;
      case Op.Stats:
        handler.stats();
        at += 1;
        break;
      case Op.Digests:
        handler.digests();
        at += 1;
        break;
      case Op.PartitionStats:
        handler.partitionStats();
        at += 1;
        break;
      case Op.Pause:
        handler.pause(buf.readUInt32LE(at + 1));
        at += 5;
        break;
      default:
        // A malformed batch is a bug in the front end; failing loudly beats misaligning
        // every operation after it.
        throw new TypeError(`unknown opcode ${String(op)} at byte ${at}`);
    }
  }
  return id;
}
