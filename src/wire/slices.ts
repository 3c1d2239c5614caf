import type { RecordSlice, SnapshotSlice } from './protocol.js';
import type { ReplyWriter } from './reply.js';

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
