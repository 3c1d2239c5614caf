/**
 * Every default a user can change, in one place: each is the value of a command-line flag
 * or an option of `Cluster.start` / `ThunderClient` when none is given. Constants that are
 * not choices (protocol sizes, retry pacing, hash constants) stay beside the code they shape.
 * Pure values: the client imports this file and loads nothing of the server by it.
 */
// ── The front end (`--max-*`, `--stall-timeout-ms`) ─────────────────────────────────────────

/** Limits enforced at the front end; every one is a command-line flag. */
export interface Limits {
  /** Largest key, in UTF-8 bytes. Default 1024; at most 65535. */
  maxKeyBytes: number;
  /** Largest value, in bytes. Default 1 MiB. */
  maxValueBytes: number;
  /** Largest body that is read whole (`_mget`, `/put`). Streamed batches are bounded per pair. Default 16 MiB. */
  maxBodyBytes: number;
  /** Most keys one `_mget` may name (after removing duplicates). Default 10,000. */
  maxKeysPerRequest: number;
  /**
   * Most heavy requests (`_mget`, `/snapshot`, key listings) served at once; more are refused
   * with 503 SERVER_BUSY. Each holds a bounded window of data, so this bounds their memory
   * in total. Default 16.
   */
  maxHeavyRequests: number;
  /**
   * How long a streamed answer (`/export`, `/snapshot`, `_mget`) waits on a client that takes
   * none of its bytes, in ms. Then the connection is closed (its status line is out, so no
   * error can be sent) and its heavy-request place freed: a client that stops reading cannot
   * hold a place for longer. Default 10,000.
   */
  stallTimeoutMs: number;
}

/** The limits enforced at the front end; {@link Limits} says what each one bounds. */
export const DEFAULT_LIMITS: Readonly<Limits> = {
  maxKeyBytes: 1024,
  maxValueBytes: 1024 * 1024,
  maxBodyBytes: 16 * 1024 * 1024,
  maxKeysPerRequest: 10_000,
  maxHeavyRequests: 16,
  stallTimeoutMs: 10_000,
};

/** Default for the server's `maxBufferedBodyBytes`: 256 MiB. */
export const DEFAULT_MAX_BUFFERED_BODY_BYTES = 256 * 1024 * 1024;

/** The address `thunderdb cluster` listens on by default, and the one the client and CLI call. */
export const DEFAULT_URL = 'http://127.0.0.1:8080';

// ── The cluster (`--timeout-ms`, `--tombstone-grace-ms`, `--anti-entropy-ms`, …) ───────────

/** Default `ClusterOptions.timeoutMs`: 5 s, Cassandra's read timeout. */
export const DEFAULT_TIMEOUT_MS = 5000;
/** Default `ClusterOptions.tombstoneGraceMs`: 10 s. */
export const DEFAULT_TOMBSTONE_GRACE_MS = 10_000;
/** Default `ClusterOptions.expirySweepMs`: 1 s. */
export const DEFAULT_EXPIRY_SWEEP_MS = 1000;

/**
 * Acknowledged changes kept for watchers that resume (`--watch-history`), and for how long
 * (`--watch-history-ms`): 10,000 changes of 1 KiB values or less are some 12 MiB at most.
 */
export const DEFAULT_WATCH_HISTORY = 10_000;
export const DEFAULT_WATCH_HISTORY_MS = 300_000;
/** Default anti-entropy interval: 30 s. */
export const DEFAULT_ANTI_ENTROPY_MS = 30_000;
/** Default hints budget: 64 MiB of keys and values. */
export const DEFAULT_HINT_BYTES = 64 << 20;

// ── Storage (`--storage log`) ──────────────────────────────────────────────────────────────

/** How far a log may outgrow twice its live data before it is merged: 64 MiB. */
export const DEFAULT_MERGE_SLACK_BYTES = 64 << 20;

// ── The checker (`thunderdb check`) ─────────────────────────────────────────────────────────

/** Steps one key's search may take before its verdict is unknown: seconds of work. */
export const DEFAULT_MAX_STEPS = 20_000_000;

/** The default `--checks-dir`: where checks keep their files, relative to the working directory. */
export const DEFAULT_CHECKS_DIR = 'thunderdb-checks';
