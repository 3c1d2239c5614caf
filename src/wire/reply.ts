import { FrameWriter, HEADER } from './frame.js';

/** Writes a batch's results (node). */
export class ReplyWriter extends FrameWriter {
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

  /** A GetDigest's answer for a large value: its version and expiry, the value left out (see {@link isDigest}). */
  digest(version: number, expiresAt: number): void {
    const at = this.payload(16);
    this.buf.writeDoubleLE(version, at);
    this.buf.writeDoubleLE(-1 - expiresAt, at + 8);
  }

  /**
   * A Get's answer for a record whose value the storage backend lost: its version and expiry
   * as a digest, and one more byte (see {@link isLost}). The coordinator reads it from
   * another replica and repairs this one.
   */
  lost(version: number, expiresAt: number): void {
    const at = this.payload(17);
    this.buf.writeDoubleLE(version, at);
    this.buf.writeDoubleLE(-1 - expiresAt, at + 8);
    this.buf[at + 16] = 1;
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

  constructor(reply: ArrayBuffer | SharedArrayBuffer) {
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

/** True when a GetDigest's answer is a digest (the value left out), not the whole record. */
export function isDigest(payload: Buffer): boolean {
  return payload.readDoubleLE(8) < 0;
}

/** True when a Get's answer says the value is lost (see {@link ReplyWriter.lost}); it is also a digest. */
export function isLost(payload: Buffer): boolean {
  return payload.length === 17 && isDigest(payload);
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
