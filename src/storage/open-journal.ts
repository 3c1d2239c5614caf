import type { LogRecord, Journal, Recovered } from './journal.js';
import { Log } from './log.js';
import type { NodeStorage } from './options.js';

/** Opens a node's journal and replays it through `apply`: its log, or its records in Redis (values stay there). */
export async function openJournal(
  storage: NodeStorage,
  partitions: number,
  apply: (record: LogRecord) => void,
): Promise<{ journal: Journal; recovered: Recovered }> {
  if (storage.kind === 'log') {
    const { log, recovered } = Log.open(storage.dir, storage.fsync, apply);
    return { journal: log, recovered };
  }
  // Loaded only when used: ioredis takes about 50 ms to load, in every node thread.
  const { RedisValues } = await import('./redis-values.js');
  return RedisValues.open(storage.target, storage.prefix, partitions, apply);
}
