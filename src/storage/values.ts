import type { Journal } from './journal.js';

/**
 * A value a batch needs from the backend: the key's bytes, its ring hash, and the version the
 * node's record holds (the value read back must be of exactly that version).
 */
export interface ValueNeed {
  /** The key's bytes as a byte string (one char per byte): how pending writes are found. */
  name: string;
  hash: number;
  version: number;
}

/**
 * Where a node's values live when they do not live in its memory (`--storage redis`): the
 * node keeps each key's record (version, kind, expiry, the value's length) and appends every
 * change, values included, as to any {@link Journal}; a read whose record holds no bytes asks
 * the backend. Writes appended but not yet acknowledged by the backend are served from here
 * ({@link pending}): a node never asks the backend for a value it has not yet been given.
 */
export interface ValueBackend extends Journal {
  /** The bytes of the newest write of `name` not yet acknowledged, if it is of `version`. */
  pending(name: string, version: number): Buffer | undefined;
  /**
   * Reads the values `needs` name. Calls `done` with, per need, its bytes, or null when the
   * backend holds no value of that version (it was lost behind the node's back); or with the
   * error that kept the backend from answering.
   */
  read(needs: readonly ValueNeed[], done: (error: Error | null, values: (Buffer | null)[]) => void): void;
}

/** True when a journal is a {@link ValueBackend}: the node's values live there. */
export function holdsValues(journal: Journal): journal is ValueBackend {
  return 'read' in journal;
}
