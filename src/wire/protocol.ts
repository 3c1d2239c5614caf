import type { MessagePort } from 'node:worker_threads';
import type { StorageStats } from '../storage/journal.js';
import type { NodeStorage } from '../storage/options.js';

export type { StorageStats } from '../storage/journal.js';

/**
 * The wire protocol between the front end and a node thread. Both sides import these types
 * (the worker with `import type`), so a change to the shape fails to compile on both.
 *
 * A batch is one ArrayBuffer, transferred: its id, then each operation's opcode and operands
 * as bytes (src/wire/frame.ts has the layout). The node answers each batch with one reply buffer,
 * the batch's id then one result per operation, in order; or, when applying it failed, with
 * a {@link BatchFailure} naming the id. Replies are matched to batches by id, not by arrival
 * order, so a late or lost reply can never settle another batch's callers, and a node can
 * report an error without its thread dying.
 */

/**
 * Operation codes and their operands. Every key operation carries a version (0 for reads):
 * writes are versioned by the coordinator (src/time/hlc.ts) and a node keeps, per key, the
 * record with the newest version it has seen, so replicas agree whatever order writes
 * reach them in.
 */
export const Op = {
  /**
   * key → the record: its version (f64), its expiry (f64, Unix ms; 0: never), then the
   * value's bytes; for a tombstone the version negated and no bytes (src/wire/reply.ts,
   * `recordVersion`); or absent
   */
  Get: 1,
  /** key, version, value → a {@link WriteOutcome}: written unless the stored version is as new */
  Put: 2,
  /** key, version → a {@link WriteOutcome}: a tombstone written unless the stored version is as new */
  Delete: 3,
  /** key → the value's length in bytes, or absent (a tombstone too) */
  Size: 4,
  /**
   * prefix, after, limit, asOf → {@link ListPage}: the first `limit` keys with that prefix
   * after `after`, in UTF-8 byte order, whose values have not expired at `asOf` (Unix ms);
   * or, while the node is still building its order of keys (src/node/key-order.ts), not
   * ready: it did one bounded step of that, and the listing asks again. So key operations
   * queued behind a listing wait for one step, never for a whole pass.
   */
  ListPage: 5,
  /**
   * from, maxBytes, partitions, asOf → {@link SnapshotSlice}: `"k":"v",…` (values as UTF-8
   * text) for keys whose store hash lies in `[from, next)` (and, given a
   * {@link PartitionSet}, whose partition is in it), cut once the text passes about
   * `maxBytes`. Tombstones and values expired at `asOf` (Unix ms) are left out.
   */
  SnapshotSlice: 6,
  /** (none) → {@link NodeStats} */
  Stats: 7,
  /**
   * ms → 1, after the node has stopped processing for `ms` (its thread blocked, as in a
   * long GC pause); what arrives meanwhile waits in its queue. For timeouts and faults.
   */
  Pause: 8,
  /**
   * key, version → 1 if the key's record was a tombstone, or a value that expires, of
   * exactly that version and is now gone, else 0: drops a record every replica holds,
   * never a newer write.
   */
  Purge: 9,
  /** (none) → the node's digest of each partition: u32 each, in partition order (see RecordMap). */
  Digests: 10,
  /**
   * from, maxBytes, partitions → {@link RecordSlice}: the records (values and tombstones,
   * with their versions) whose store hash lies in `[from, next)` and whose partition is in
   * the set, cut once about `maxBytes` are gathered. Copies partitions between nodes.
   */
  ScanRecords: 11,
  /**
   * (none) → per partition, in order, u32 records (tombstones too) and f64 bytes of their
   * keys and values: what moving a partition would copy.
   */
  PartitionStats: 12,
  /**
   * from, maxBytes (unused), partitions → f64 next: removes the records of the partitions in
   * the set whose store hash lies in `[from, next)`. A node sheds partitions it no longer
   * replicates, a slice per message.
   */
  DropPartitions: 13,
  /**
   * key, version, value → a {@link WriteOutcome}, as Put, for a value that expires: the
   * value operand is an envelope, the expiry (f64, Unix ms) then the value's bytes
   * (src/expiry.ts). Replicas store the expiry with the version, so they agree on it.
   */
  PutExpiring: 14,
  /**
   * from, cutoff → f64 next, u32 cleared: turns the values whose expiry is at or before
   * `cutoff` (Unix ms), among the keys whose store hash lies in `[from, next)`, into
   * tombstones of the same version: the bytes go, and the version stays to keep an older
   * write of the key out. Every replica holds the same expiry with a version, so each
   * clears the same records on its own.
   */
  ClearExpired: 15,
  /**
   * key → as Get, but a value longer than {@link DIGEST_ABOVE_BYTES} is left out: a digest,
   * the version then the expiry written as −1 − expiry (src/wire/reply.ts, `isDigest`), no
   * bytes. A read asks one replica for the record and the others for this (as Cassandra
   * does), so a large value crosses from one thread, not from every replica asked; a small
   * one costs about what its digest does and rides along, saving the fetch a digest newer
   * than the record read would need.
   */
  GetDigest: 16,
} as const;

/** Values longer than this are answered to {@link Op.GetDigest} by a digest. */
export const DIGEST_ABOVE_BYTES = 4096;

export type OpCode = (typeof Op)[keyof typeof Op];

/** What writing a versioned record did: a write's result on the wire (Put, PutExpiring, Delete). */
export const Written = {
  /** Nothing: the stored version is as new or newer. */
  Stale: 0,
  /** Written; the key held no value before (absent, or a tombstone). */
  WasAbsent: 1,
  /** Written over a value. */
  WasLive: 2,
} as const;
export type WriteOutcome = (typeof Written)[keyof typeof Written];

/**
 * An operation's result (an integer no other result takes) saying the node refused it: the
 * write would add to a store already at its share of `--max-memory`. The front end fails
 * that operation's caller with OUT_OF_MEMORY (src/transport/batcher.ts).
 */
export const REFUSED_FOR_MEMORY = 0x7ffffff0;

/** What a node reports about itself. */
export interface NodeStats {
  /** Keys holding a value (expired values too, until purged). */
  keys: number;
  /** Of those, values that expire. */
  expiring: number;
  /** Deleted keys whose tombstones are kept until every replica has them. */
  tombstones: number;
  /** Bytes of keys (UTF-8) and values held. */
  bytes: number;
  /** Memory the shard's store holds outside the JS heap (slabs and index). */
  storeBytes: number;
  /** Operations applied since start. */
  ops: number;
  /** V8 heap of the node's thread. */
  heapUsed: number;
  /** Where the node keeps its data, and what it recovered at start. */
  storage: StorageStats;
}

/** A node's answer to a listing message. */
export interface ListPage {
  /** False while the node is still building its order of keys: ask again. */
  ready: boolean;
  /** The page's keys, when ready. */
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

/** The task piscina runs once per node thread to hand it its port, and what it is. */
export interface AttachTask {
  port: MessagePort;
  /** The node's id, for its messages. */
  node: number;
  /** The ring's partition count: the node keeps a digest per partition. */
  partitions: number;
  /** The node's index multiplier (src/node/scramble.ts). */
  scramble: number;
  /** With `--storage log` or `redis`: the node's log directory, or its Redis and key prefix. */
  storage?: NodeStorage;
  /** The node's share of `--max-memory` for its store, in bytes (absent: unbounded). */
  maxStoreBytes?: number;
}

/** One slice of a record scan. */
export interface RecordSlice {
  /** Where the next slice starts; {@link HASH_SPACE} when the node has been walked. */
  next: number;
  /** The records: a payload to walk with `forEachRecord` (src/wire/slices.ts). */
  records: Buffer;
}
