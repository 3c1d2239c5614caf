/**
 * The shapes of the HTTP API's answers, as the client returns them. Those the server has a
 * type for are that type, imported as a type only: nothing of the server loads with the
 * client (a program that talks to a cluster loads none of it), and the client's types
 * cannot fall behind the server's answers.
 */
import type { CoordinatorStats } from '../cluster/cluster.js';
import type { Moved } from '../cluster/membership.js';
import type { Fault as NetworkFault, FaultSpec as NetworkFaultSpec } from '../sim/network.js';
import type { PauseFault } from '../sim/pause-fault.js';
import type { AntiEntropyStats, Refilled } from '../cluster/recovery.js';

export type { Moved, MembershipChange } from '../cluster/membership.js';
export type { AntiEntropyStats, Refilled } from '../cluster/recovery.js';
export type { Transfer } from '../cluster/transfers.js';

/** A value read with `get`, its version and, for a key that expires, its remaining life. */
export interface Entry {
  /** The value's bytes, exactly as written. */
  value: Uint8Array;
  /** The strong entity tag (`"123"`): what `ifMatch` takes. */
  etag: string;
  /** The version inside the tag. */
  version: number;
  /** Seconds left before the key expires (`X-TTL`, to the millisecond); absent when it does not. */
  ttl?: number;
}

/** What `head` learns of a key without reading its value. */
export interface EntryInfo {
  /** The value's size in bytes. */
  size: number;
  /** The strong entity tag (`"123"`): what `ifMatch` takes. */
  etag: string;
  /** The version inside the tag. */
  version: number;
  /** Seconds left before the key expires; absent when it does not. */
  ttl?: number;
}

/** What a `put` wrote. */
export interface Written {
  /** The new value's strong entity tag (`"123"`). */
  etag: string;
  /** The version inside the tag. */
  version: number;
}

/** One page of a key listing. */
export interface KeyPage {
  /** Keys in UTF-8 byte order. */
  keys: string[];
  /** The `after` of the next page; null on the last. */
  next: string | null;
}

/** What a batch write (`putMany`) stored. */
export interface BatchResult {
  /** Pairs stored. */
  written: number;
  /** With `invalid: 'skip'`: pairs refused, and the first few with why. */
  rejected?: number;
  rejections?: { line: number; code: string; message: string }[];
}

/**
 * One change of `watch` (a put, a delete, a value that expired), or, when asked for, a
 * progress event: every change wanted up to `version` has been yielded.
 */
export interface WatchEvent {
  type: 'put' | 'delete' | 'expire' | 'progress';
  /** Absent on a progress event. */
  key?: string;
  version: number;
  /** A put's value size in bytes. */
  size?: number;
  /** A put's value when it is at most 1 KiB (a larger one: read it with `get`). */
  value?: Uint8Array;
  /** When a put's value expires, Unix ms. */
  expiresAt?: number;
}

/** `watch`'s options. */
export interface WatchOptions {
  /** Watch one key instead of a prefix. */
  key?: string;
  /** Start right after this version (default: now). */
  since?: number;
  /** Yield progress events too. */
  progress?: boolean;
  /** How often the cluster sends a progress event when nothing else happens, ms (100 to 60000; default 5000). */
  progressMs?: number;
  /** Ends the watch (the iteration then ends without an error). */
  signal?: AbortSignal;
  /** The longest pause between reconnections after a dropped connection, ms (default 5000). */
  maxRetryMs?: number;
}

/** One key of an export: what `export` yields and `import` takes. */
export interface ExportRecord {
  key: string;
  value: Uint8Array;
  /** When the key expires, in Unix milliseconds; absent when it does not. */
  expiresAt?: number;
}

/** What an `import` stored. */
export interface ImportResult {
  written: number;
  /** Records skipped because their `expiresAt` had passed; absent when none were. */
  expired?: number;
}

/** A node's state: `joining` while refilled or joining, `leaving` while handing data over. */
export type NodeState = 'starting' | 'up' | 'joining' | 'leaving' | 'down' | 'stopped';

/** One node as `GET /cluster` shows it. The data fields are absent while the node is down. */
export interface NodeStatus {
  id: number;
  state: NodeState;
  /** Partitions it owns, and those being copied to or from it. */
  partitions: number;
  partitionsUnderRepair: number;
  /** Writes kept for it while it was down, and those dropped past the hint budget. */
  hints: number;
  hintsDropped: number;
  /** Operations sent to it and not yet answered, and the most at once: a replica falling behind. */
  backlog: number;
  backlogPeak: number;
  /** Keys holding a value (expired values too, until cleared). */
  keys?: number;
  /** Of those, values that expire. */
  expiring?: number;
  tombstones?: number;
  /** Bytes of keys and values held. */
  bytes?: number;
  storeBytes?: number;
  /** Operations applied since its thread started. */
  ops?: number;
  heapUsed?: number;
  storage?: { backend: string } & Record<string, unknown>;
  /** Set when the node is up but did not answer for its statistics. */
  error?: string;
}

/** `GET /cluster`. */
export interface ClusterStatus {
  nodes: NodeStatus[];
  ring: { hash: string; seed: number; partitions: number; replicas: number; r: number; w: number };
  coordinator: CoordinatorStats & { tombstoneGraceMs: number };
  /** The seed of the simulation's random choices. */
  seed: number;
  faults: Fault[];
  /** The size limits in force (`maxKeyBytes`, `maxValueBytes`, …). */
  limits: Record<string, number>;
}

/** `GET /cluster/locate/{key}`: where a key lives. */
export interface Location {
  key: string;
  hash: number;
  partition: number;
  /** The first replica. */
  node: number;
  /** The replicas, in preference order, their states, and the version each holds. */
  replicas: number[];
  states: NodeState[];
  /** Negative: a tombstone; 0: nothing; null: no answer in time. */
  versions: (number | null)[];
}

/** A dry run of adding a node (`{ add: 1 }`) or removing one (`{ remove: id }`). */
export type PlanRequest = { add: 1 } | { remove: number };

/** What a change would move; nothing moves. */
export type Plan = PlanRequest & { moved: Moved };

/** The answer to a crash. */
export interface Crashed {
  id: number;
  /** Its state before. */
  was: NodeState;
  state: NodeState;
}

/** The answer to a restart. */
export interface Restarted {
  id: number;
  state: NodeState;
  refilled: Refilled;
}

/** `POST /cluster/anti-entropy`: partitions found different and copied, and the totals. */
export interface AntiEntropyRun {
  partitionsRepaired: number;
  antiEntropy: AntiEntropyStats;
}

/** A fault to put in force (README "Cluster and operations"). `nodes` absent: every node. */
export type FaultSpec = NetworkFaultSpec | Omit<PauseFault, 'id'>;

/** A fault in force, with its id. */
export type Fault = NetworkFault | PauseFault;

/** `GET /health` when every node answers. */
export interface Health {
  status: 'ok';
  /** `error`: the code of a node that did not answer. */
  nodes: { id: number; state: NodeState; error?: string }[];
}
