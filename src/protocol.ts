import type { MessagePort } from 'node:worker_threads';

/**
 * The wire protocol between the front end and a node thread. Both sides import these types
 * (the worker with `import type`), so a change to the shape fails to compile on both.
 *
 * A batch is one ArrayBuffer, transferred: its id, then each operation's opcode and operands
 * as bytes (src/wire.ts has the layout). The node answers each batch with one reply buffer,
 * the batch's id then one result per operation, in order; or, when applying it failed, with
 * a {@link BatchFailure} naming the id. Replies are matched to batches by id, not by arrival
 * order, so a late or lost reply can never settle another batch's callers, and a node can
 * report an error without its thread dying.
 */

/** Operation codes and their operands. */
export const Op = {
  /** key → the value's bytes, or absent */
  Get: 1,
  /** key, value → 1 */
  Put: 2,
  /** key → 1 if it was there, 0 if not */
  Delete: 3,
  /** key → the value's length in bytes, or absent */
  Size: 4,
  /**
   * prefix, after, limit, from → {@link ListSlice}: the first `limit` keys with that prefix
   * greater than `after`, sorted, among the keys whose store hash lies in `[from, next)`.
   * A listing walks `from` = 0, next, next… until `next` is {@link HASH_SPACE}: one bounded
   * slice per message, so key operations queued behind it never wait for a whole pass.
   */
  ListSlice: 5,
  /**
   * from, maxBytes → {@link SnapshotSlice}: `"k":"v",…` (values as UTF-8 text) for keys whose
   * store hash lies in `[from, next)`, cut once the text passes about `maxBytes`.
   */
  SnapshotSlice: 6,
  /** (none) → {@link NodeStats} */
  Stats: 7,
  /**
   * ms → 1, after the node has stopped processing for `ms` (its thread blocked, as in a
   * long GC pause); what arrives meanwhile waits in its queue. For timeouts and faults.
   */
  Pause: 8,
} as const;

export type OpCode = (typeof Op)[keyof typeof Op];

/** What a node reports about itself. */
export interface NodeStats {
  keys: number;
  /** Bytes of keys (UTF-8) and values held. */
  bytes: number;
  /** Memory the shard's store holds outside the JS heap (slabs and index). */
  storeBytes: number;
  /** Operations applied since start. */
  ops: number;
  /** V8 heap of the node's thread. */
  heapUsed: number;
}

/** One slice of a key listing. */
export interface ListSlice {
  /** Where the next slice starts; {@link HASH_SPACE} when the node has been walked. */
  next: number;
  keys: string[];
}

/** One slice of a snapshot. */
export interface SnapshotSlice {
  /** Where the next slice starts; {@link HASH_SPACE} when the node has been walked. */
  next: number;
  /** `"k":"v",…` without braces; empty when the slice held no keys. */
  json: string;
}

/** An error as it crosses a port: structured clone keeps no classes, so code and message. */
export interface WireError {
  code: string;
  message: string;
}

/** A node's answer to a batch it could not apply. */
export interface BatchFailure {
  id: number;
  error: WireError;
}

/** The task piscina runs once per node thread to hand it its port. */
export interface AttachTask {
  port: MessagePort;
}
