/**
 * The binary encoding of batches and replies between the front end and a node thread. A
 * batch is one buffer, shared with a node thread (src/transport/shared-buffers.ts) or else
 * transferred or copied; its reply is another, shared (workers/node.ts). Keys and values
 * travel as bytes from the request to the store and back: no string conversions, no
 * structured clone of values. Little-endian throughout.
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

/** Bytes of a frame's header: its id (u32), then its count of operations or results (u32). */
export const HEADER = 8;

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

/** Where a writer's shared buffers come from and go back to (src/transport/shared-buffers.ts). */
export interface SharedBufferPool {
  take(length: number): SharedArrayBuffer;
  give(buffer: SharedArrayBuffer): void;
}

/**
 * A growable byte buffer written front to back and handed off as an ArrayBuffer: a batch or a
 * reply. Given a pool of shared buffers, it writes into those, and can hand one off whole
 * (see {@link take}).
 */
export class FrameWriter {
  readonly #initialBytes: number;
  readonly #pool: SharedBufferPool | undefined;
  #buf: Buffer;
  #used = HEADER;
  #count = 0;

  constructor(initialBytes: number, pool?: SharedBufferPool) {
    this.#initialBytes = initialBytes;
    this.#pool = pool;
    this.#buf = this.#allocate(initialBytes);
  }

  /** A buffer of at least `n` bytes: shared from the pool, or one of its own (not a slice of Node's pool). */
  #allocate(n: number): Buffer {
    return this.#pool === undefined ? Buffer.allocUnsafeSlow(n) : Buffer.from(this.#pool.take(n));
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
      const grown = this.#allocate(Math.max(this.#buf.length * 2, at + n));
      this.#buf.copy(grown, 0, 0, at);
      this.#pool?.give(this.#buf.buffer as SharedArrayBuffer);
      this.#buf = grown;
    }
    this.#used = at + n;
    return at;
  }

  protected counted(): void {
    this.#count++;
  }

  /**
   * Gives back the written bytes, with their id, as an ArrayBuffer to transfer (or shared, below), and starts
   * over. The reader knows the end from the count, so a handed-off buffer may be longer.
   * When `shared`, a writer with a pool hands off the shared buffer it wrote into (to go
   * back to the pool once read) and starts over in another; one without copies the bytes
   * into a new SharedArrayBuffer of their length, never reused.
   */
  take(id: number): ArrayBuffer;
  take(id: number, shared: boolean): ArrayBuffer | SharedArrayBuffer;
  take(id: number, shared = false): ArrayBuffer | SharedArrayBuffer {
    const buf = this.#buf;
    buf.writeUInt32LE(id, 0);
    buf.writeUInt32LE(this.#count, 4);
    const used = this.#used;
    let out: ArrayBuffer | SharedArrayBuffer;
    if (shared && this.#pool !== undefined) {
      out = buf.buffer as SharedArrayBuffer; // the pool's: its own buffer, offset 0
      this.#buf = this.#allocate(this.#initialBytes);
    } else if (this.#pool !== undefined) {
      // Not to be shared: a copy of its own, and a large buffer goes back to the pool.
      out = new ArrayBuffer(used);
      buf.copy(new Uint8Array(out), 0, 0, used);
      if (buf.length > HAND_OFF_BYTES) {
        this.#pool.give(buf.buffer as SharedArrayBuffer);
        this.#buf = this.#allocate(this.#initialBytes);
      }
    } else if (shared) {
      out = new SharedArrayBuffer(used);
      buf.copy(new Uint8Array(out), 0, 0, used);
      if (used > HAND_OFF_BYTES) this.#buf = Buffer.allocUnsafeSlow(this.#initialBytes);
    } else if (used > HAND_OFF_BYTES) {
      out = buf.buffer as ArrayBuffer; // allocUnsafeSlow: its own ArrayBuffer, offset 0
      this.#buf = Buffer.allocUnsafeSlow(this.#initialBytes);
    } else {
      out = (buf.buffer as ArrayBuffer).slice(buf.byteOffset, buf.byteOffset + used);
    }
    this.#used = HEADER;
    this.#count = 0;
    return out;
  }
}
