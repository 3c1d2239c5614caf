/** What a change did to its key. */
export type ChangeType = 'put' | 'delete' | 'expire';

/**
 * One acknowledged change, as a watcher sees it. `value` is kept for values of at most
 * {@link INLINE_VALUE_BYTES} (a watcher reads larger ones with a GET); `size` always.
 */
export interface Change {
  version: number;
  type: ChangeType;
  key: string;
  /** The value's bytes (puts only); 0 for a delete or an expiry. */
  size: number;
  value: Buffer | null;
  /** When a put's value expires, Unix ms; 0: never. */
  expiresAt: number;
}

/** Values up to this many bytes travel in the events; larger ones as their size alone. */
export const INLINE_VALUE_BYTES = 1024;
