import { mkdtemp, rm } from 'node:fs/promises';
import { setTimeout } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadFileOverHttp } from '../../src/load/http-load.js';
import { uuidFile } from './data.js';
import { sustained } from './load-generator.js';
import type { Placement } from './placement.js';
import { startCluster, type ServerProcess, type Topology } from './processes.js';
import { spread, type Spread } from './stats.js';
import { startRedis, startRedisCluster } from '../../support/redis-servers.js';
import { startMemcached } from '../../support/memcached-servers.js';
import { webdisOver } from './peers.js';

/**
 * A storage configuration measured: its name, and how to set it up for a round: the
 * `cluster` options that give it, how to empty it between runs, and how to take it down.
 */
interface Backend {
  name: string;
  setUp(): Promise<{ args: string[]; empty(): Promise<void>; tearDown(): Promise<void> }>;
}

/** A backend over a data directory made for the round. */
const inDataDir = (name: string, args: (dataDir: string) => string[]): Backend => ({
  name,
  async setUp() {
    const dataDir = await mkdtemp(join(tmpdir(), 'thunderdb-bench-log-'));
    const empty = () => rm(dataDir, { recursive: true, force: true });
    return { args: args(dataDir), empty, tearDown: empty };
  },
});

/** A backend over real Redis servers started for the round (no persistence of their own). */
const inRedis = (name: string, cluster: boolean): Backend => ({
  name,
  async setUp() {
    const servers = cluster ? await startRedisCluster() : await startRedis();
    const target = cluster
      ? ['--redis-cluster', servers.ports.map((port) => `127.0.0.1:${port}`).join(',')]
      : ['--redis-url', `redis://127.0.0.1:${servers.ports[0]}`];
    return {
      args: ['--storage', 'redis', ...target],
      empty: async () => servers.flush(),
      tearDown: () => servers.stop(),
    };
  },
});

/** A backend over a real memcached started for the round, the records' logs in a data directory. */
const inMemcached: Backend = {
  name: 'memcached',
  async setUp() {
    const server = await startMemcached({ megabytes: 2048 });
    const dataDir = await mkdtemp(join(tmpdir(), 'thunderdb-bench-memcached-'));
    const empty = async () => {
      await server.flush();
      await rm(dataDir, { recursive: true, force: true });
    };
    return {
      args: ['--storage', 'memcached', '--memcached', server.address, '--data-dir', dataDir],
      empty,
      tearDown: async () => {
        await server.stop();
        await rm(dataDir, { recursive: true, force: true });
      },
    };
  },
};

const BACKENDS: Backend[] = [
  inDataDir('memory', () => []),
  ...(['no', 'everysec', 'always'] as const).map((fsync) =>
    inDataDir(`log, fsync ${fsync}`, (dataDir) => [
      '--storage',
      'log',
      '--fsync',
      fsync,
      '--data-dir',
      dataDir,
    ]),
  ),
  inRedis('redis', false),
  inRedis('Redis Cluster, 3 masters', true),
  inMemcached,
];

/** How long to wait for every replica of a load (a slow backend's third copy) to be written. */
const CATCH_UP_MS = 300_000;

/**
 * Waits until the cluster's nodes hold `records` records in all, and returns how many
 * seconds that took; throws with what they hold if they never do. A node busy with its
 * queue answers `/cluster` late, so each look waits for it.
 */
async function untilReplicated(url: string, records: number): Promise<number> {
  const started = performance.now();
  let held = 'nothing yet';
  while (performance.now() - started < CATCH_UP_MS) {
    try {
      const info = (await (
        await fetch(`${url}/cluster`, { signal: AbortSignal.timeout(30_000) })
      ).json()) as {
        nodes: { keys?: number }[];
      };
      const counts = info.nodes.map((node) => node.keys ?? 0);
      if (counts.reduce((n, keys) => n + keys, 0) === records) return (performance.now() - started) / 1000;
      held = JSON.stringify(counts);
    } catch (err) {
      held = (err as Error).message;
    }
    await setTimeout(1000);
  }
  throw new Error(`the replicas did not catch up within ${CATCH_UP_MS / 1000} s: ${held}`);
}

/** One backend's figures, each beside memory's from the same round; or why it has none. */
export type StorageResult = MeasuredStorage | { backend: string; failed: string };

interface MeasuredStorage {
  backend: string;
  /** PUT req/s on random keys at 100 connections, and ÷ memory's in the same round. */
  putRps: Spread;
  putVsMemory: Spread;
  /** GET req/s on random keys of the loaded cluster at 100 connections, and ÷ memory's. */
  getRps: Spread;
  getVsMemory: Spread;
  /** Seconds to load the records over HTTP, and memory's ÷ this (a throughput ratio). */
  loadSeconds: Spread;
  loadVsMemory: Spread;
  /** Not memory: after a clean stop, the process's start until it listens, and the nodes' replay (the slowest). */
  restartSeconds?: Spread;
  replayMs?: Spread;
}

const TOPOLOGY: Topology = { nodes: 3, replicas: 3 };

/**
 * Measures each storage backend in rounds (memory first in each, so every ratio compares
 * figures of one round): PUT throughput on random keys at 100 connections with wrk, a
 * load of `records` uuid pairs over HTTP, and, for the log, the restart of the loaded
 * cluster: how long until it listens again and how long its nodes took to replay.
 */
export async function measureStorage(
  records: number,
  rounds: number,
  seconds: number,
  placement: Placement | undefined,
  log: (line: string) => void,
  only: string[] = [],
): Promise<StorageResult[]> {
  const file = await uuidFile(records);
  const backends = BACKENDS.filter(
    ({ name }) => name === 'memory' || only.length === 0 || only.some((part) => name.includes(part)),
  );
  const raw = new Map<
    string,
    { put: number[]; get: number[]; load: number[]; restart: number[]; replay: number[] }
  >();
  const failures = new Map<string, string>();
  for (const backend of backends)
    raw.set(backend.name, { put: [], get: [], load: [], restart: [], replay: [] });
  for (let round = 0; round < rounds; round++) {
    for (const backend of backends) {
      if (failures.has(backend.name)) continue;
      const setting = await backend.setUp();
      const figures = raw.get(backend.name)!;
      try {
        let cluster: ServerProcess = await startCluster(TOPOLOGY, setting.args, undefined, placement);
        try {
          const put = await sustained('wrk', {
            url: cluster.url,
            method: 'PUT',
            seconds,
            connections: 100,
            keys: records,
            keyFile: file,
            ...(placement === undefined ? {} : { placement }),
          });
          figures.put.push(put.rps);
          await cluster.stop();
          // The load into an empty cluster: the PUT run's records would make it overwrites.
          await setting.empty();
          cluster = await startCluster(TOPOLOGY, setting.args, undefined, placement);
          const report = await loadFileOverHttp(cluster.url, file);
          if (report.loaded !== records) throw new Error(`loaded ${report.loaded} of ${records}`);
          figures.load.push(report.seconds);
          // With W = 2 the load is acknowledged by the two fastest replicas; the third may
          // still be working through its queue (Redis took 49 s for a load memory takes
          // 3 s). Reads and the restart are measured on a cluster whose every replica has
          // caught up: a clean stop does not wait for a replica that was never waited for.
          const lag = await untilReplicated(cluster.url, records * TOPOLOGY.replicas!);
          if (lag > 1)
            log(`  ${backend.name}: the last replica caught up ${lag.toFixed(1)} s after the load`);
          const get = await sustained('wrk', {
            url: cluster.url,
            method: 'GET',
            seconds,
            connections: 100,
            keys: records,
            keyFile: file,
            ...(placement === undefined ? {} : { placement }),
          });
          figures.get.push(get.rps);
          log(
            `  ${backend.name}: PUT ${Math.round(put.rps)} req/s, load ${report.seconds.toFixed(2)} s, GET ${Math.round(get.rps)} req/s`,
          );
          if (backend.name !== 'memory') {
            await cluster.stop();
            const started = performance.now();
            cluster = await startCluster(TOPOLOGY, setting.args, undefined, placement);
            figures.restart.push((performance.now() - started) / 1000);
            const info = (await (await fetch(`${cluster.url}/cluster`)).json()) as {
              nodes: { keys: number; storage: { replayMs: number } }[];
            };
            if (info.nodes.reduce((n, node) => n + node.keys, 0) !== records * TOPOLOGY.replicas!) {
              throw new Error(
                `after the restart the nodes hold ${JSON.stringify(info.nodes.map((n) => n.keys))}`,
              );
            }
            figures.replay.push(Math.max(...info.nodes.map((node) => node.storage.replayMs)));
          }
        } finally {
          await cluster.stop();
        }
      } catch (err) {
        // A backend that fails is a finding: said in its row, and the others still measured.
        if (backend.name === 'memory') throw err;
        failures.set(backend.name, (err as Error).message);
        log(`  ${backend.name}: failed: ${(err as Error).message}`);
      } finally {
        await setting.tearDown();
      }
    }
  }
  const memory = raw.get('memory')!;
  return backends.map(({ name }) => {
    const figures = raw.get(name)!;
    const failed = failures.get(name);
    if (failed !== undefined) return { backend: name, failed };
    return {
      backend: name,
      putRps: spread(figures.put),
      putVsMemory: spread(figures.put.map((rps, i) => rps / memory.put[i]!)),
      getRps: spread(figures.get),
      getVsMemory: spread(figures.get.map((rps, i) => rps / memory.get[i]!)),
      loadSeconds: spread(figures.load),
      loadVsMemory: spread(figures.load.map((s, i) => memory.load[i]! / s)),
      ...(name === 'memory'
        ? {}
        : { restartSeconds: spread(figures.restart), replayMs: spread(figures.replay) }),
    };
  });
}

/** Ours with the values in Redis beside Webdis + Redis: req/s ratios by round. */
export interface WebdisResult {
  getVsWebdis: Spread;
  putVsWebdis: Spread;
  getRps: Spread;
  putRps: Spread;
  webdisGetRps: Spread;
  webdisPutRps: Spread;
}

/**
 * ThunderDB with `--storage redis` (3 nodes, one replica: one Redis round trip per request,
 * as Webdis makes) beside Webdis (one thread) in front of its own Redis, both loaded with the
 * same `records` uuid pairs: GET and PUT of random keys at 100 connections, alternating, in
 * rounds. Null when Webdis is not installed.
 */
export async function measureAgainstWebdis(
  records: number,
  rounds: number,
  seconds: number,
  placement: Placement | undefined,
  log: (line: string) => void,
): Promise<WebdisResult | null> {
  const file = await uuidFile(records);
  const peer = await webdisOver(file);
  if (peer === null) return null;
  const servers = await startRedis();
  try {
    const args = ['--storage', 'redis', '--redis-url', `redis://127.0.0.1:${servers.ports[0]}`];
    const cluster = await startCluster({ nodes: 3, replicas: 1 }, args, undefined, placement);
    try {
      const report = await loadFileOverHttp(cluster.url, file);
      if (report.loaded !== records) throw new Error(`loaded ${report.loaded} of ${records}`);
      const figures = {
        get: [] as number[],
        put: [] as number[],
        webdisGet: [] as number[],
        webdisPut: [] as number[],
      };
      const drive = async (url: string, method: 'GET' | 'PUT', paths: { get: string; put: string }) =>
        (
          await sustained('wrk', {
            url,
            method,
            seconds,
            connections: 100,
            keys: records,
            keyFile: file,
            paths,
            ...(placement === undefined ? {} : { placement }),
          })
        ).rps;
      const ours = { get: '/kv/', put: '/kv/' };
      const webdis = { get: '/GET/', put: '/SET/' };
      for (let round = 0; round < rounds; round++) {
        figures.get.push(await drive(cluster.url, 'GET', ours));
        figures.webdisGet.push(await drive(peer.url, 'GET', webdis));
        figures.put.push(await drive(cluster.url, 'PUT', ours));
        figures.webdisPut.push(await drive(peer.url, 'PUT', webdis));
        log(
          `  against Webdis, round ${round + 1}: GET ${Math.round(figures.get[round]!)} / ${Math.round(figures.webdisGet[round]!)}, PUT ${Math.round(figures.put[round]!)} / ${Math.round(figures.webdisPut[round]!)} req/s`,
        );
      }
      return {
        getVsWebdis: spread(figures.get.map((rps, i) => rps / figures.webdisGet[i]!)),
        putVsWebdis: spread(figures.put.map((rps, i) => rps / figures.webdisPut[i]!)),
        getRps: spread(figures.get),
        putRps: spread(figures.put),
        webdisGetRps: spread(figures.webdisGet),
        webdisPutRps: spread(figures.webdisPut),
      };
    } finally {
      await cluster.stop();
    }
  } finally {
    await servers.stop();
    await peer.stop();
  }
}

/** The Webdis rows as a table. */
export function webdisLines(result: WebdisResult | null): string[] {
  if (result === null) return ['Webdis: not installed (apt-get install webdis); rows left out.'];
  const f = (n: number) => n.toFixed(2);
  return [
    '| ours (--storage redis, 1 replica) ÷ Webdis + Redis | by round | ours req/s | Webdis req/s |',
    '| --- | --- | --- | --- |',
    `| GET c100 | ${f(result.getVsWebdis.median)} (${result.getVsWebdis.runs.map(f).join(' ')}) | ${Math.round(result.getRps.median)} | ${Math.round(result.webdisGetRps.median)} |`,
    `| PUT c100 | ${f(result.putVsWebdis.median)} (${result.putVsWebdis.runs.map(f).join(' ')}) | ${Math.round(result.putRps.median)} | ${Math.round(result.webdisPutRps.median)} |`,
  ];
}

/** The results as a table, ratios first. */
export function storageLines(results: StorageResult[], records: number): string[] {
  const f = (n: number, digits = 2) => n.toFixed(digits);
  return [
    `| backend | GET ÷ memory | GET req/s | PUT ÷ memory | PUT req/s | ${records.toLocaleString('en-US')}-pair load ÷ memory | load s | restart s (to listening) | replay ms (slowest node) |`,
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...results.map((r) =>
      'failed' in r
        ? `| ${r.backend} | failed: ${r.failed.replace(/\|/g, '/')} | | | | | | | |`
        : `| ${r.backend} | ${f(r.getVsMemory.median)} | ${Math.round(r.getRps.median)} | ${f(r.putVsMemory.median)} | ${Math.round(r.putRps.median)} | ${f(r.loadVsMemory.median)} | ${f(r.loadSeconds.median)} | ${r.restartSeconds ? f(r.restartSeconds.median) : '–'} | ${r.replayMs ? Math.round(r.replayMs.median) : '–'} |`,
    ),
  ];
}
