/** What a log record does to the key it names. */
export const LogOp = {
  /** Stores the value with the version, unless the key holds one as new. */
  Put: 1,
  /** Stores a tombstone with the version, unless the key holds one as new. */
  Tombstone: 2,
  /** Removes the key's tombstone, or value that expires, of exactly that version (a purge). */
  Purge: 3,
  /** Removes the key's record, whatever it is (its partition moved away). */
  Drop: 4,
  /** First record of a merged file: every file before it is superseded. No key. */
  Snapshot: 5,
  /**
   * As Put, for a value that expires: the record's value is an envelope, the expiry (f64,
   * Unix ms) then the value's bytes (src/expiry.ts).
   */
  PutExpiring: 6,
  /**
   * As Put, for a value kept elsewhere (`--storage memcached`): the record's value is its
   * reference, the expiry (f64, Unix ms; 0: never) then the value's length (u32).
   */
  PutRef: 7,
} as const;
export type LogOpCode = (typeof LogOp)[keyof typeof LogOp];

/** A record as replay hands it over: views into the file's bytes, valid during the call. */
export interface LogRecord {
  op: LogOpCode;
  hash: number;
  version: number;
  bytes: Buffer;
  keyStart: number;
  keyLength: number;
  valueStart: number;
  valueLength: number;
}

/** A node's storage as `GET /cluster` shows it. */
export type StorageStats =
  | { backend: 'memory' }
  | {
      backend: 'log';
      fsync: 'always' | 'everysec' | 'no';
      /** Bytes in the node's log files. */
      logBytes: number;
      /** Records replayed at start, the keys they left holding a value, and how long it took. */
      recoveredRecords: number;
      recoveredKeys: number;
      replayMs: number;
      /** Where a torn last record was cut off at start, if one was. */
      cutTornRecordAt?: { file: string; offset: number };
    }
  | {
      backend: 'redis';
      /** The Redis URL, or the Redis Cluster nodes given. */
      target: string;
      /** The node's key prefix. */
      prefix: string;
      recoveredRecords: number;
      recoveredKeys: number;
      replayMs: number;
    }
  | {
      backend: 'memcached';
      /** The memcached servers given (`host:port,…`). */
      servers: string;
      /** The node's item prefix. */
      prefix: string;
      fsync: 'always' | 'everysec' | 'no';
      /** Bytes in the node's log of records. */
      logBytes: number;
      recoveredRecords: number;
      recoveredKeys: number;
      replayMs: number;
    };

/** What a node's journal found at start: records replayed, and how long it took. */
export interface Recovered {
  files: number;
  records: number;
  /** Bytes read. */
  bytes: number;
  ms: number;
  /** A torn last record cut off (a log): which file, at which offset. */
  cut?: { file: string; offset: number };
}

/**
 * Where a node keeps its data beyond memory: a log on disk (`log.ts`), or a Redis or Redis
 * Cluster (`redis-values.ts`, which also keeps the values: a `ValueBackend`, values.ts). The node
 * applies every operation to its store as always, and appends each change that store made (a
 * newer value, a tombstone, a purge, a dropped record) to its journal; at start it replays the
 * journal into memory.
 * Every backend runs the one conformance suite (test/conformance.test.ts).
 */
export interface Journal {
  /** Appends one change, to be made durable by the next {@link commit}. */
  append(
    op: LogOpCode,
    hash: number,
    version: number,
    key: Uint8Array,
    keyStart: number,
    keyLength: number,
    value?: Uint8Array | null,
    valueStart?: number,
    valueLength?: number,
  ): void;
  /**
   * Calls `done` once every change appended so far is as durable as the backend promises,
   * or with the error that kept it from being so. Calls come back in the order made.
   */
  commit(done: (error?: Error) => void): void;
  /** What `/cluster` shows of the backend. */
  stats(recovered: Recovered, recoveredKeys: number): StorageStats;
  /** Bytes the journal holds, when it only grows (a log): the shard then merges it. */
  readonly bytes?: number;
  /** Rewrites the journal as `dump`'s records: the live data (a log). */
  merge?(dump: (append: Journal['append']) => void): void;
  /** Makes what is pending durable, then lets go of files or connections. */
  close(): Promise<void>;
}
