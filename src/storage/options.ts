import { join } from 'node:path';
import type { FsyncMode } from './log.js';

/** Where a Redis journal lives: one server, or a Redis Cluster given by some of its nodes. */
export type RedisTarget = { url: string } | { cluster: { host: string; port: number }[] };

/**
 * Where each node keeps a copy of its data beyond memory (`--storage`): a log per node
 * under `dataDir`, or Redis (one server, or a Redis Cluster) under a key prefix per node.
 */
export type StorageOptions =
  | {
      kind: 'log';
      /** The cluster's data directory: each node logs under `node-<id>/` in it. */
      dataDir: string;
      fsync: FsyncMode;
      /** How far a log may outgrow twice its live data before a merge (default 64 MiB). */
      mergeSlackBytes?: number;
    }
  | {
      kind: 'redis';
      target: RedisTarget;
      /** Prefix of every key this cluster writes; each node adds its own part. */
      prefix: string;
    }
  | {
      kind: 'memcached';
      /** `host:port,…`: the values, spread over the servers by their names. */
      servers: string;
      /** Prefix of every item this cluster writes; each node adds its own part. */
      prefix: string;
      /** The records' logs, one per node under `node-<id>/`, as with `log`. */
      dataDir: string;
      fsync: FsyncMode;
      /** The largest value a write may carry: the servers must store it (checked at start). */
      maxValueBytes: number;
    };

/** What one node thread is handed of the storage options. */
export type NodeStorage =
  | { kind: 'log'; dir: string; fsync: FsyncMode; mergeSlackBytes?: number }
  | { kind: 'redis'; target: RedisTarget; prefix: string }
  | { kind: 'memcached'; servers: string; prefix: string; dir: string; fsync: FsyncMode };

/** The storage of node `node`: its own log directory, or its own key prefix. */
export function nodeStorage(storage: StorageOptions, node: number): NodeStorage {
  if (storage.kind === 'redis')
    return { kind: 'redis', target: storage.target, prefix: `${storage.prefix}n${node}` };
  if (storage.kind === 'memcached') {
    return {
      kind: 'memcached',
      servers: storage.servers,
      prefix: `${storage.prefix}n${node}`,
      dir: join(storage.dataDir, `node-${node}`),
      fsync: storage.fsync,
    };
  }
  return {
    kind: 'log',
    dir: join(storage.dataDir, `node-${node}`),
    fsync: storage.fsync,
    ...(storage.mergeSlackBytes === undefined ? {} : { mergeSlackBytes: storage.mergeSlackBytes }),
  };
}

/**
 * Checks a key prefix (`option` names it): printable, without braces (each Redis key's hash
 * tag is `{<prefix>n<node>:p<partition>}`, which a brace in the prefix would cut short; a
 * memcached item name may not hold spaces), at most 100 characters.
 */
export function checkKeyPrefix(prefix: string, option = '--redis-prefix'): void {
  if (!/^[\x21-\x7a|~]{1,100}$/.test(prefix)) {
    throw new RangeError(
      `${option} takes 1 to 100 printable characters without spaces or braces, got ${JSON.stringify(prefix)}`,
    );
  }
}

/** `host:port,host:port…` as memcached servers, checked, as memjs takes them. */
export function parseMemcachedServers(text: string): string {
  const servers = text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
  for (const server of servers) {
    const port = Number(/^[^\s:,]+:(\d{1,5})$/.exec(server)?.[1]);
    if (!(port >= 1 && port <= 65535))
      throw new RangeError(`--memcached takes host:port,host:port…, got ${JSON.stringify(server)}`);
  }
  if (servers.length === 0) throw new RangeError('--memcached takes at least one host:port');
  return servers.join(',');
}

/** `host:port,host:port…` as Redis Cluster nodes, checked. */
export function parseClusterNodes(text: string): { host: string; port: number }[] {
  const nodes = text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part) => {
      const match = /^(.+):(\d{1,5})$/.exec(part);
      const port = Number(match?.[2]);
      if (match === null || port < 1 || port > 65535) {
        throw new RangeError(`--redis-cluster takes host:port,host:port…, got ${JSON.stringify(part)}`);
      }
      return { host: match[1]!.replace(/^\[(.*)\]$/, '$1'), port };
    });
  if (nodes.length === 0) throw new RangeError('--redis-cluster takes at least one host:port');
  return nodes;
}

/** The storage, as the start-up line names it. */
export function describeStorage(storage: StorageOptions | undefined): string {
  if (storage === undefined) return '';
  if (storage.kind === 'log') return `, storage log in ${storage.dataDir}, fsync ${storage.fsync}`;
  if (storage.kind === 'memcached') {
    return `, storage memcached at ${storage.servers}, prefix ${storage.prefix}, records in ${storage.dataDir}, fsync ${storage.fsync}`;
  }
  const where =
    'url' in storage.target
      ? storage.target.url
      : `cluster ${storage.target.cluster.map((n) => `${n.host}:${n.port}`).join(',')}`;
  return `, storage redis at ${where}, prefix ${storage.prefix}`;
}
