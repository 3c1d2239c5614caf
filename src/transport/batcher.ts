import { OutOfMemoryError, type ThunderError } from '../errors.js';
import { BatchWriter } from '../wire/batch.js';
import { REFUSED_FOR_MEMORY } from '../wire/protocol.js';
import { ReplyReader, type Result } from '../wire/reply.js';
import { SharedBuffers } from './shared-buffers.js';

/**
 * Whoever waits for replies. One object can wait for many (an `_mget` waits for one reply
 * per key); the tag says which. A table of sinks and tags instead of a closure per request
 * keeps the hot path's allocations to the batch arrays.
 */
export interface ReplySink {
  /** A Buffer result is a view into the reply: copy it to keep it past the call's batch. */
  settle(tag: number, reply: Result): void;
  fail(tag: number, error: ThunderError): void;
}

interface InFlight {
  id: number;
  /** When it was sent (the link's clock), for {@link Batcher.expire}. */
  sentAt: number;
  sinks: ReplySink[];
  tags: number[];
  /** The batch's shared buffer, given back once the node has answered; null if it was not shared. */
  shared: SharedArrayBuffer | null;
}

/**
 * One node's outbound queue: operations gathered until the next flush, and the batches sent
 * but not yet answered, oldest first, each with its id. Knows nothing of ports or threads,
 * so it is tested on its own; {@link NodeLink} drives it.
 */
/** What a node's refusal of a write for memory says (see {@link REFUSED_FOR_MEMORY}). */
const REFUSAL =
  'the node holds as much as its share of --max-memory allows; it refuses writes that add to it';

export class Batcher {
  #nextId: number;
  readonly #buffers = new SharedBuffers();
  /** Where callers write the operations for the next flush, before {@link add}ing their sink. */
  readonly writer = new BatchWriter(this.#buffers);
  #sinks: ReplySink[] = [];
  #tags: number[] = [];
  readonly #inFlight: InFlight[] = [];
  #waiting = 0;

  /** `firstId` (default 1) is for tests of the wrap-around. */
  constructor(firstId = 1) {
    this.#nextId = firstId;
  }

  /** Operations queued or sent and not yet answered. */
  get pending(): number {
    return this.#waiting;
  }

  /** True when operations are queued for the next flush. */
  get dirty(): boolean {
    return this.#sinks.length > 0;
  }

  /** Registers who waits for the operation just written to {@link writer}. */
  add(sink: ReplySink, tag: number): void {
    this.#sinks.push(sink);
    this.#tags.push(tag);
    this.#waiting++;
  }

  /**
   * Takes the queued operations as one batch, sent at `now`, and remembers who waits for it.
   * `shared`: in a shared buffer, reused once the node answers it; only for a batch
   * delivered exactly once (a duplicate read after the reuse would see another batch).
   */
  take(now?: number): ArrayBuffer;
  take(now: number, shared: boolean): ArrayBuffer | SharedArrayBuffer;
  take(now = 0, shared = false): ArrayBuffer | SharedArrayBuffer {
    const id = this.#takeId();
    const batch = this.writer.take(id, shared);
    this.#inFlight.push({
      id,
      sentAt: now,
      sinks: this.#sinks,
      tags: this.#tags,
      shared: batch instanceof SharedArrayBuffer ? batch : null,
    });
    this.#sinks = [];
    this.#tags = [];
    return batch;
  }

  /**
   * Hands a batch's results to their sinks, in order. A reply whose batch is no longer
   * waiting (already failed or timed out) is ignored; returns when the batch was sent
   * (the `now` given to {@link take}), or -1 if the reply was not used.
   */
  settle(reply: ArrayBuffer | SharedArrayBuffer): number {
    const results = new ReplyReader(reply);
    const batch = this.#remove(results.id);
    if (batch === undefined) return -1;
    const { sinks, tags } = batch;
    for (let i = 0; i < sinks.length; i++) {
      const result = results.next();
      if (result === REFUSED_FOR_MEMORY) sinks[i]!.fail(tags[i]!, new OutOfMemoryError(REFUSAL));
      else sinks[i]!.settle(tags[i]!, result);
    }
    if (batch.shared !== null) this.#buffers.give(batch.shared);
    return batch.sentAt;
  }

  /**
   * Fails one batch's callers, as the node answered (it could not apply it); false if it is
   * not waiting.
   */
  fail(id: number, error: ThunderError): boolean {
    const batch = this.#failOne(id, error);
    if (batch === undefined) return false;
    if (batch.shared !== null) this.#buffers.give(batch.shared);
    return true;
  }

  /** Fails one batch's callers; its shared buffer is not given back (the node may yet read it). */
  #failOne(id: number, error: ThunderError): InFlight | undefined {
    const batch = this.#remove(id);
    if (batch === undefined) return undefined;
    const { sinks, tags } = batch;
    for (let i = 0; i < sinks.length; i++) sinks[i]!.fail(tags[i]!, error);
    return batch;
  }

  /**
   * The next batch id: 1 to 2^32 − 1, then 1 again (the wire carries a u32). Ids in flight
   * at once are a few at most, so a wrapped id never meets one still waiting.
   */
  #takeId(): number {
    const id = this.#nextId;
    this.#nextId = (id % 0xffffffff) + 1;
    return id;
  }

  /**
   * Fails every batch sent at or before `sentBy` (they waited too long): their replies, if
   * they ever come, are then ignored. Returns when the oldest batch still waiting was sent,
   * or null when none is.
   */
  expire(sentBy: number, error: ThunderError): number | null {
    const inFlight = this.#inFlight;
    // Batches are sent in order, so the overdue ones are at the front.
    while (inFlight.length > 0 && inFlight[0]!.sentAt <= sentBy) this.#failOne(inFlight[0]!.id, error);
    return inFlight[0]?.sentAt ?? null;
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
    const id = this.#takeId();
    batches.push({ id, sentAt: 0, sinks: this.#sinks, tags: this.#tags, shared: null });
    this.writer.take(id); // drops what was written for them
    this.#sinks = [];
    this.#tags = [];
    this.#waiting = 0;
    for (const { sinks, tags } of batches) {
      for (let i = 0; i < sinks.length; i++) sinks[i]!.fail(tags[i]!, error);
    }
  }
}
