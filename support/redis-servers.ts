import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, skipWithout } from './local-servers.js';

/**
 * Real Redis servers, started by the tests and the storage benchmark on free loopback ports:
 * `flush` empties them, `kill` ends them (kill -9) and `restart` starts them again on the
 * same ports, `stop` ends them and removes their files.
 */
export interface RedisServers {
  ports: number[];
  flush(): void;
  kill(): Promise<void>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Whether tests needing a real Redis are skipped: only when `redis-server` is not on the
 * PATH, and never when THUNDERDB_REQUIRE_REDIS is set (.ci/run sets it, having installed it).
 */
export function redisSkip(): string | false {
  return skipWithout('redis-server', 'THUNDERDB_REQUIRE_REDIS', 'apt-get install redis-server');
}

/** Runs redis-cli against the server on `port`; its output. */
export function redisCli(port: number, ...args: string[]): string {
  const result = spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' });
  return result.stdout;
}

/** Starts `count` redis-servers (no persistence; `cluster`: cluster-enabled) and waits for each to answer. */
async function startServers(count: number, cluster: boolean): Promise<RedisServers> {
  const dir = await mkdtemp(join(tmpdir(), 'thunderdb-redis-'));
  const ports: number[] = [];
  for (let i = 0; i < count; i++) ports.push(await freePort());
  let children: ChildProcess[] = [];
  const spawnAll = async () => {
    children = ports.map((port) => {
      const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
      args.push('--dir', dir);
      if (cluster) args.push('--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`);
      return spawn('redis-server', args, { stdio: 'ignore' });
    });
    for (const port of ports) {
      for (let tries = 0; redisCli(port, 'ping').trim() !== 'PONG'; tries++) {
        if (tries > 100) throw new Error(`redis-server on port ${port} did not start`);
        await sleep(20);
      }
    }
  };
  const kill = async () => {
    for (const child of children) child.kill('SIGKILL');
    await Promise.all(
      children.map((child) =>
        child.exitCode === null && child.signalCode === null ? once(child, 'exit') : null,
      ),
    );
  };
  const stop = async () => {
    await kill();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await spawnAll();
  } catch (err) {
    await stop();
    throw err;
  }
  const flush = () => ports.forEach((port) => redisCli(port, 'flushall'));
  return { ports, flush, kill, restart: spawnAll, stop };
}

/** One standalone Redis. */
export function startRedis(): Promise<RedisServers> {
  return startServers(1, false);
}

/** A Redis Cluster of three masters, no replicas, every slot served. */
export async function startRedisCluster(): Promise<RedisServers> {
  const servers = await startServers(3, true);
  try {
    const created = spawnSync(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...servers.ports.map((p) => `127.0.0.1:${p}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ],
      { encoding: 'utf8' },
    );
    if (created.status !== 0)
      throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`);
    for (
      let tries = 0;
      !servers.ports.every((p) => redisCli(p, 'cluster', 'info').includes('cluster_state:ok'));
      tries++
    ) {
      if (tries > 250) throw new Error('the Redis Cluster did not come up');
      await sleep(20);
    }
  } catch (err) {
    await servers.stop();
    throw err;
  }
  return servers;
}

/** Counts the fields of every hash whose name matches ARGV[1], on the server it runs on. */
const COUNT_FIELDS = `local n = 0
for _, key in ipairs(redis.call('KEYS', ARGV[1])) do n = n + redis.call('HLEN', key) end
return n`;

/** How many records each server holds in the partitions' record hashes (`{<prefix>…}:m`) of a prefix. */
export function recordsPerServer(servers: RedisServers, prefix: string): number[] {
  return servers.ports.map((port) => Number(redisCli(port, 'eval', COUNT_FIELDS, '0', `{${prefix}*}:m`)));
}
