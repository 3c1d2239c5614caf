import type { SharedBufferPool } from '../wire/frame.js';

/** The smallest buffer handed out: 4 KiB (a batch of a few dozen small operations fits). */
const MIN_SHIFT = 12;
/** Free buffers kept per size: more than the batches one node has in flight at once... */
const KEEP = 8;
/** ...but of large ones, no more than this many bytes per size. */
const KEEP_BYTES = 8 << 20;

/**
 * Shared memory that batches to a node thread are written in, reused once the node has
 * answered. A batch copied into a fresh ArrayBuffer per flush, and a writer's buffer grown
 * anew after each large batch was handed off, made the front end allocate every byte it
 * sent: V8 counts ArrayBuffers as external memory and collects when it grows, and under
 * 64 KiB PUTs with 3 replicas the front end ran about 38 mark-compacts a second. A
 * SharedArrayBuffer is posted without a copy and, unlike a transferred buffer, comes back to
 * be written again.
 *
 * Sizes are powers of two from 4 KiB; a batch's buffer is longer than the batch (the reader
 * stops after its count of operations).
 */
export class SharedBuffers implements SharedBufferPool {
  /** Free buffers by size, 2^k bytes at index k. */
  readonly #free: SharedArrayBuffer[][] = [];

  /** A buffer of at least `length` bytes: a free one, or a new one. */
  readonly take = (length: number): SharedArrayBuffer => {
    const shift = Math.max(MIN_SHIFT, 32 - Math.clz32(length - 1));
    return this.#free[shift]?.pop() ?? new SharedArrayBuffer(2 ** shift);
  };

  /** Takes back a buffer nobody reads any more. */
  give(buffer: SharedArrayBuffer): void {
    const free = (this.#free[Math.log2(buffer.byteLength)] ??= []);
    if (
      free.length < KEEP &&
      (free.length + 1) * buffer.byteLength <= Math.max(KEEP_BYTES, buffer.byteLength)
    )
      free.push(buffer);
  }

  /** Free buffers held, for tests. */
  get held(): number {
    return this.#free.reduce((n, free) => n + free.length, 0);
  }
}
