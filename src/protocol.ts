import type { MessagePort } from 'node:worker_threads';

/**
 * The wire protocol between the front end and a node thread. Both sides import these types
 * (the worker with `import type`), so a change to the shape fails to compile on both.
 *
 * A batch is one flat array: an opcode followed by its operands, repeated. Flat arrays of
 * strings and numbers are the cheapest thing structured clone copies (an array of objects
 * costs about five times as much here). The node answers each batch with one reply array,
 * one entry per operation, in order; the port keeps batches in order, so the front end
 * matches replies to callers by position and needs no request ids.
 */

/** Operation codes and their operands. */
export const Op = {
  /** key → value byte string, or null when absent */
  Get: 1,
  /** key, value → 1 */
  Put: 2,
  /** key → 1 if it was there, 0 if not */
  Delete: 3,
  /** key → value length in bytes, or -1 when absent */
  Size: 4,
  /** prefix, after, limit → the first `limit` keys with that prefix greater than `after`, sorted */
  Scan: 5,
  /** (none) → the shard as the inside of a JSON object: `"k":"v",…` (values as UTF-8 text) */
  Snapshot: 6,
  /** (none) → {@link NodeStats} */
  Stats: 7,
} as const;

export type OpCode = (typeof Op)[keyof typeof Op];

/** How many operands follow each opcode in a batch. */
export const OPERANDS: Readonly<Record<OpCode, number>> = {
  [Op.Get]: 1,
  [Op.Put]: 2,
  [Op.Delete]: 1,
  [Op.Size]: 1,
  [Op.Scan]: 3,
  [Op.Snapshot]: 0,
  [Op.Stats]: 0,
};

/** One batch, front end → node. */
export type Batch = (string | number)[];

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

/** One operation's result. */
export type Reply = string | number | null | string[] | NodeStats;

/** One batch's results, node → front end, aligned with the batch's operations. */
export type ReplyBatch = Reply[];

/** The task piscina runs once per node thread to hand it its port. */
export interface AttachTask {
  port: MessagePort;
}
