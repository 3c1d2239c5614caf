import type { ThunderError } from './errors.js';
import { OPERANDS, type Batch, type OpCode, type Operand, type Reply, type ReplyBatch } from './protocol.js';

/**
 * Whoever waits for replies. One object can wait for many (an `_mget` waits for one reply
 * per key); the tag says which. A table of sinks and tags instead of a closure per request
 * keeps the hot path's allocations to the batch arrays.
 */
export interface ReplySink {
  settle(tag: number, reply: Reply): void;
  fail(tag: number, error: ThunderError): void;
}

interface InFlight {
  sinks: ReplySink[];
  tags: number[];
}

/**
 * One node's outbound queue: operations gathered until the next flush, and the batches sent
 * but not yet answered, oldest first. Knows nothing of ports or threads, so it is tested
 * on its own; {@link NodeLink} drives it.
 */
export class Batcher {
  #ops: Batch = [];
  #sinks: ReplySink[] = [];
  #tags: number[] = [];
  readonly #inFlight: InFlight[] = [];
  #waiting = 0;

  /** Operations queued or sent and not yet answered. */
  get pending(): number {
    return this.#waiting;
  }

  /** True when operations are queued for the next flush. */
  get dirty(): boolean {
    return this.#sinks.length > 0;
  }

  /** Queues one operation; its operands follow the opcode (see {@link OPERANDS}). */
  push(sink: ReplySink, tag: number, op: OpCode, a?: Operand, b?: Operand, c?: Operand, d?: Operand): void {
    const ops = this.#ops;
    ops.push(op);
    const n = OPERANDS[op];
    if (n > 0) ops.push(a!);
    if (n > 1) ops.push(b!);
    if (n > 2) ops.push(c!);
    if (n > 3) ops.push(d!);
    this.#sinks.push(sink);
    this.#tags.push(tag);
    this.#waiting++;
  }

  /** Takes the queued operations as one batch and remembers who waits for its replies. */
  take(): Batch {
    const batch = this.#ops;
    this.#inFlight.push({ sinks: this.#sinks, tags: this.#tags });
    this.#ops = [];
    this.#sinks = [];
    this.#tags = [];
    return batch;
  }

  /** Hands the oldest in-flight batch's replies to their sinks, in order. */
  settle(replies: ReplyBatch): void {
    const batch = this.#inFlight.shift();
    if (batch === undefined) throw new Error('a reply arrived with no batch in flight');
    const { sinks, tags } = batch;
    this.#waiting -= sinks.length;
    for (let i = 0; i < sinks.length; i++) sinks[i]!.settle(tags[i]!, replies[i]!);
  }

  /** Fails everything queued or in flight, e.g. when the node's thread is gone. */
  failAll(error: ThunderError): void {
    const batches = this.#inFlight.splice(0);
    batches.push({ sinks: this.#sinks, tags: this.#tags });
    this.#ops = [];
    this.#sinks = [];
    this.#tags = [];
    this.#waiting = 0;
    for (const { sinks, tags } of batches) {
      for (let i = 0; i < sinks.length; i++) sinks[i]!.fail(tags[i]!, error);
    }
  }
}
