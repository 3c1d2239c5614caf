import type { LogRecord, Journal, Recovered } from './journal.js';
import { Log } from './log.js';
import type { NodeStorage } from './options.js';

/**
 * Opens a node's journal and replays it through `apply`: its log; its records in Redis (the
 * values stay there); or its log of records, whose values are in memcached.
 */
export async function openJournal(
  storage: NodeStorage,
  partitions: number,
  apply: (record: LogRecord) => void,
): Promise<{ journal: Journal; recovered: Recovered }> {
  if (storage.kind === 'log') {
    const { log, recovered } = Log.open(storage.dir, storage.fsync, apply);
    return { journal: log, recovered };
  }
  if (storage.kind === 'memcached') {
    const { MemcachedValues } = await import('./memcached-values.js');
    return MemcachedValues.open(storage.dir, storage.fsync, storage.servers, storage.prefix, apply);
  }
  // Loaded only when used: ioredis takes about 50 ms to load, in every node thread.
  const { RedisValues } = await import('./redis-values.js');
  return RedisValues.open(storage.target, storage.prefix, partitions, apply);
}
