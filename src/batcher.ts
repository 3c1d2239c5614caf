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
  id: number;
  sinks: ReplySink[];
  tags: number[];
}

/**
 * One node's outbound queue: operations gathered until the next flush, and the batches sent
 * but not yet answered, oldest first, each with its id. Knows nothing of ports or threads,
 * so it is tested on its own; {@link NodeLink} drives it.
 */
export class Batcher {
  #nextId = 1;
  #ops: Batch = [this.#nextId];
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
    this.#inFlight.push({ id: this.#nextId, sinks: this.#sinks, tags: this.#tags });
    this.#ops = [++this.#nextId];
    this.#sinks = [];
    this.#tags = [];
    return batch;
  }

  /**
   * Hands a batch's replies (`[id, result…]`) to their sinks, in order. A reply whose batch is
   * no longer waiting (already failed or timed out) is ignored; returns whether it was used.
   */
  settle(replies: ReplyBatch): boolean {
    const batch = this.#remove(replies[0] as number);
    if (batch === undefined) return false;
    const { sinks, tags } = batch;
    for (let i = 0; i < sinks.length; i++) sinks[i]!.settle(tags[i]!, replies[i + 1]!);
    return true;
  }

  /** Fails one batch's callers (the node could not apply it); false if it is not waiting. */
  fail(id: number, error: ThunderError): boolean {
    const batch = this.#remove(id);
    if (batch === undefined) return false;
    const { sinks, tags } = batch;
    for (let i = 0; i < sinks.length; i++) sinks[i]!.fail(tags[i]!, error);
    return true;
  }

  /** Takes a batch off the in-flight list: nearly always the oldest, as ports keep order. */
  #remove(id: number): InFlight | undefined {
    const inFlight = this.#inFlight;
    const at = inFlight[0]?.id === id ? 0 : inFlight.findIndex((batch) => batch.id === id);
    if (at < 0) return undefined;
    const batch = at === 0 ? inFlight.shift()! : inFlight.splice(at, 1)[0]!;
    this.#waiting -= batch.sinks.length;
    return batch;
  }

  /** Fails everything queued or in flight, e.g. when the node's thread is gone. */
  failAll(error: ThunderError): void {
    const batches = this.#inFlight.splice(0);
    batches.push({ id: this.#nextId, sinks: this.#sinks, tags: this.#tags });
    this.#ops = [++this.#nextId];
    this.#sinks = [];
    this.#tags = [];
    this.#waiting = 0;
    for (const { sinks, tags } of batches) {
      for (let i = 0; i < sinks.length; i++) sinks[i]!.fail(tags[i]!, error);
    }
  }
}
