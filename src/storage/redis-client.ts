import { Cluster, Redis } from 'ioredis';
import type { RedisTarget } from './options.js';

/**
 * Connects to a Redis server or a Redis Cluster. A command fails after one reconnection
 * attempt rather than waiting for ever: the coordinator's timeout and the node's error
 * answer what a lost Redis means.
 */
export async function connectRedis(target: RedisTarget): Promise<Redis | Cluster> {
  const client =
    'url' in target
      ? new Redis(target.url, { lazyConnect: true, maxRetriesPerRequest: 1 })
      : // A cluster client queues commands while it has no masters, for ever by default: with
        // the queue off they fail at once, and it goes on reconnecting as a server's does.
        new Cluster(target.cluster, {
          lazyConnect: true,
          enableOfflineQueue: false,
          redisOptions: { maxRetriesPerRequest: 1 },
        });
  // Errors reach the commands that meet them; unheard, the event would throw.
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    client.disconnect();
    throw new Error(`cannot reach Redis at ${describeTarget(target)}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return client;
}

/** The target as the user gave it: the URL, or the cluster's host:port list. */
export function describeTarget(target: RedisTarget): string {
  return 'url' in target ? target.url : target.cluster.map(({ host, port }) => `${host}:${port}`).join(',');
}

/** Lets go of a connection: QUIT waits for one, and with Redis gone there is none to wait for. */
export async function disconnectRedis(client: Redis | Cluster): Promise<void> {
  if (client.status === 'ready') await client.quit();
  else client.disconnect();
}
