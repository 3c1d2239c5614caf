import { Op, type OpCode, type PartitionSet, type RecordSlice, type SnapshotSlice } from './protocol.js';

/**
 * The binary encoding of batches and replies between the front end and a node thread. A
 * batch is one ArrayBuffer, transferred (not cloned) to the node; its reply is another, sent
 * back the same way. Keys and values travel as bytes from the request to the store and back:
 * no string conversions, no structured clone of values. Little-endian throughout.
 *
 *   batch:  u32 id, u32 count, then per operation a u8 opcode and its operands:
 *     Get, Delete, Size, Purge   u32 ring hash, u16 key length, f64 version, key
 *     Put, PutExpiring           u32 ring hash, u16 key length, f64 version, u32 value length, key, value
 *     ListPage            u16 + prefix, u16 + after, u32 limit, f64 asOf
 *     SnapshotSlice       u32 from, u32 maxBytes, u32 partitions P (0: include all), f64 asOf,
 *                         then ⌈P / 8⌉ bytes: the partitions to include, p at bit p % 8 of byte p / 8
 *     ClearExpired        u32 from, f64 cutoff
 *     ScanRecords, DropPartitions   like SnapshotSlice
 *     Stats, Digests, PartitionStats   (none)
 *     Pause               u32 ms
 *   reply:  u32 id, u32 count, then per operation an i32 h:
 *     h ≥ 0   h bytes of payload follow (a record; a slice or stats, encoded by its reader)
 *     h = −1  absent
 *     h ≤ −2  the integer −2 − h (1 for a Put; 1/0 for a Delete; a Size)
 */

const HEADER = 8;

/**
 * Above this many bytes a buffer is handed off whole rather than copied out, and a fresh
 * small one takes its place: a turn that carried large values neither pays for a second
 * copy nor leaves a buffer of their size behind.
 */
export const HAND_OFF_BYTES = 1 << 20;

/**
 * What to transfer with a batch or reply: a large buffer moves without a copy; a small one
 * is cheaper to copy than to detach and re-wrap (one-connection GET p50 114–135 µs copied,
 * 124–172 µs transferred, three 4 s wrk runs each).
 */
export function transferListFor(buffer: ArrayBuffer): ArrayBuffer[] {
  return buffer.byteLength > 64 * 1024 ? [buffer] : [];
}

/** A growable byte buffer written front to back and handed off as an ArrayBuffer. */
class Writer {
  readonly #initialBytes: number;
  #buf: Buffer;
  #used = HEADER;
  #count = 0;

  constructor(initialBytes: number) {
    this.#initialBytes = initialBytes;
    this.#buf = Buffer.allocUnsafeSlow(initialBytes);
  }

  /** Operations (or results) written since the last {@link take}. */
  get count(): number {
    return this.#count;
  }

  protected get buf(): Buffer {
    return this.#buf;
  }

  /** Makes room for `n` more bytes; returns where they start. */
  protected reserve(n: number): number {
    const at = this.#used;
    if (at + n > this.#buf.length) {
      const grown = Buffer.allocUnsafeSlow(Math.max(this.#buf.length * 2, at + n));
      this.#buf.copy(grown, 0, 0, at);
      this.#buf = grown;
    }
    this.#used = at + n;
    return at;
  }

  protected counted(): void {
    this.#count++;
  }

  /**
   * Gives back the written bytes, with their id, as an ArrayBuffer to transfer, and starts
   * over. The reader knows the end from the count, so a handed-off buffer may be longer.
   */
  take(id: number): ArrayBuffer {
    const buf = this.#buf;
    buf.writeUInt32LE(id, 0);
    buf.writeUInt32LE(this.#count, 4);
    let out: ArrayBuffer;
    if (this.#used > HAND_OFF_BYTES) {
      out = buf.buffer as ArrayBuffer; // allocUnsafeSlow: its own ArrayBuffer, offset 0
      this.#buf = Buffer.allocUnsafeSlow(this.#initialBytes);
    } else {
      out = (buf.buffer as ArrayBuffer).slice(buf.byteOffset, buf.byteOffset + this.#used);
    }
    this.#used = HEADER;
    this.#count = 0;
    return out;
  }
}

/** Scratch for a version's bytes: typed arrays use the platform's byte order, so check it is the wire's. */
const F64 = new Float64Array(1);
const F64_BYTES = new Uint8Array(F64.buffer);
if (new Uint8Array(Uint16Array.of(1).buffer)[0] !== 1) {
  throw new Error('ThunderDB runs on little-endian machines only (x86-64, ARM64)');
}

/** Writes a batch's operations (front end). */
export class BatchWriter extends Writer {
  constructor() {
    super(64 * 1024);
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
export function readBatch(batch: ArrayBuffer, handler: BatchHandler): number {
  const buf = Buffer.from(batch);
  const id = buf.readUInt32LE(0);
  const count = buf.readUInt32LE(4);
  let at = HEADER;
  for (let n = 0; n < count; n++) {
    const op = buf[at]! as OpCode;
    switch (op) {
      case Op.Get:
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

/** Writes a batch's results (node). */
export class ReplyWriter extends Writer {
  constructor() {
    super(64 * 1024);
  }

  // Each method reserves before it reads `this.buf`: reserving may replace the buffer.

  absent(): void {
    const at = this.reserve(4);
    this.buf.writeInt32LE(-1, at);
    this.counted();
  }

  integer(n: number): void {
    const at = this.reserve(4);
    this.buf.writeInt32LE(-2 - n, at);
    this.counted();
  }

  /** Reserves a payload of `length` bytes; returns where to write it. */
  payload(length: number): number {
    const at = this.reserve(4 + length);
    this.buf.writeInt32LE(length, at);
    this.counted();
    return at + 4;
  }

  /** The buffer a {@link payload} is written into (valid until the next reserve). */
  get target(): Buffer {
    return this.buf;
  }

  /**
   * A Get's record: its version, its expiry (Unix ms; 0: never) then `length` bytes of
   * value, written by the caller at the returned offset of {@link target}; a tombstone
   * (`tombstone` true, no value) sends its version negated.
   */
  record(version: number, expiresAt: number, length: number, tombstone: boolean): number {
    const at = this.payload(16 + length);
    this.buf.writeDoubleLE(tombstone ? -version : version, at);
    this.buf.writeDoubleLE(expiresAt, at + 8);
    return at + 16;
  }

  /** A payload of text, UTF-8. */
  text(text: string): void {
    const length = Buffer.byteLength(text);
    const at = this.payload(length);
    this.buf.write(text, at, length, 'utf8');
  }
}

/**
 * One result as the front end sees it: a payload's bytes (a view into the reply, e.g. a
 * value), an integer, or null for "absent".
 */
export type Result = Buffer | number | null;

/** Reads a reply's results in order. */
export class ReplyReader {
  readonly id: number;
  readonly count: number;
  readonly #buf: Buffer;
  #at = HEADER;

  constructor(reply: ArrayBuffer) {
    this.#buf = Buffer.from(reply);
    this.id = this.#buf.readUInt32LE(0);
    this.count = this.#buf.readUInt32LE(4);
  }

  next(): Result {
    const h = this.#buf.readInt32LE(this.#at);
    this.#at += 4;
    if (h === -1) return null;
    if (h < -1) return -2 - h;
    const view = this.#buf.subarray(this.#at, this.#at + h);
    this.#at += h;
    return view;
  }
}

/** The version of a Get's record, from its payload: negative for a tombstone. */
export function recordVersion(payload: Buffer): number {
  return payload.readDoubleLE(0);
}

/** When a Get's record expires, Unix ms; 0 when never. */
export function recordExpiresAt(payload: Buffer): number {
  return payload.readDoubleLE(8);
}

/** The value of a Get's record (empty for a tombstone): a view into the reply. */
export function recordValue(payload: Buffer): Buffer {
  return payload.subarray(16);
}

/**
 * A value that expires as PutExpiring carries it, from a Get's record: the expiry then the
 * value (see src/expiry.ts), a view into the reply.
 */
export function recordEnvelope(payload: Buffer): Buffer {
  return payload.subarray(8);
}

/**
 * A RecordSlice payload: f64 next, then per record u32 ring hash, u16 key length, f64
 * version (negative for a tombstone), f64 expiry (Unix ms; 0: never), u32 value length,
 * key, value.
 */
export function readRecordSlice(payload: Buffer): RecordSlice {
  return { next: payload.readDoubleLE(0), records: payload.subarray(8) };
}

/** Bytes of a RecordSlice record besides its key and value. */
export const RECORD_SLICE_HEADER = 26;

/**
 * Calls `visit` for each record of a {@link RecordSlice}: views into the payload. A value
 * that expires comes with its expiry (Unix ms; 0: never).
 */
export function forEachRecord(
  records: Buffer,
  visit: (key: Buffer, hash: number, version: number, value: Buffer | null, expiresAt: number) => void,
): void {
  for (let at = 0; at < records.length;) {
    const hash = records.readUInt32LE(at);
    const keyLength = records.readUInt16LE(at + 4);
    const version = records.readDoubleLE(at + 6);
    const expiresAt = records.readDoubleLE(at + 14);
    const valueLength = records.readUInt32LE(at + 22);
    const key = records.subarray(at + 26, at + 26 + keyLength);
    const valueAt = at + 26 + keyLength;
    visit(
      key,
      hash,
      version,
      version < 0 ? null : records.subarray(valueAt, valueAt + valueLength),
      expiresAt,
    );
    at = valueAt + valueLength;
  }
}

/**
 * A ListPage payload: u8 ready (1) or not (0), then each key as a u16 length and its UTF-8
 * bytes, which `copyKey(i, target, at)` writes (`lengths[i]` of them): a node copies them
 * from its store, with no string on the way.
 */
export function writeListPage(
  reply: ReplyWriter,
  ready: boolean,
  lengths: readonly number[],
  copyKey: (i: number, target: Buffer, at: number) => void,
): void {
  let at = reply.payload(lengths.reduce((sum, n) => sum + 2 + n, 1));
  const target = reply.target;
  target[at++] = ready ? 1 : 0;
  for (let i = 0; i < lengths.length; i++) {
    target.writeUInt16LE(lengths[i]!, at);
    copyKey(i, target, at + 2);
    at += 2 + lengths[i]!;
  }
}

/** A ListPage payload read in place: its keys stay bytes, `payload[bounds[2i], bounds[2i + 1])`. */
export interface ListPageView {
  ready: boolean;
  payload: Buffer;
  bounds: number[];
}

export function readListPage(payload: Buffer): ListPageView {
  const bounds: number[] = [];
  for (let at = 1; at < payload.length;) {
    const length = payload.readUInt16LE(at);
    bounds.push(at + 2, at + 2 + length);
    at += 2 + length;
  }
  return { ready: payload[0] === 1, payload, bounds };
}

/** A SnapshotSlice payload: f64 next, then the JSON fragment as UTF-8. */
export function writeSnapshotSlice(reply: ReplyWriter, { next, json }: SnapshotSlice): void {
  const length = Buffer.byteLength(json);
  const at = reply.payload(8 + length);
  reply.target.writeDoubleLE(next, at);
  reply.target.write(json, at + 8, length, 'utf8');
}

export function readSnapshotSlice(payload: Buffer): SnapshotSlice {
  return { next: payload.readDoubleLE(0), json: payload.toString('utf8', 8) };
}
