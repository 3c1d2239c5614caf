import { loadFileOverHttp } from '../../src/load/http-load.js';
import { connectionPerRequest, wholeOrThrow, type CloseLoadResult } from './close-load.js';
import { uuidFile } from './data.js';
import { sustained, type Generator, type LoadResult } from './load-generator.js';
import type { Placement } from './placement.js';
import { startBare, startCluster, type ServerProcess, type Topology } from './processes.js';
import { repeat, spread, type Spread } from './stats.js';

/** Keys the read and write loads rotate over. */
export const HOT_KEYS = 1000;
const VALUE = 'e8c12114-674b-4f75-a753-c2e1c33ad4bd';

/** Writes the keys the loads read, so every GET finds its value. */
async function preload(url: string): Promise<void> {
  const body = Array.from({ length: HOT_KEYS }, (_, i) => `bench:${i} ${VALUE}`).join('\n');
  const res = await fetch(`${url}/kv`, { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body });
  if (res.status !== 200) throw new Error(`preload answered ${res.status}: ${await res.text()}`);
}

async function using<T>(
  servers: Promise<ServerProcess>[],
  body: (s: ServerProcess[]) => Promise<T>,
): Promise<T> {
  const started = await Promise.all(servers);
  try {
    return await body(started);
  } finally {
    await Promise.all(started.map((s) => s.stop()));
  }
}

/**
 * Sustained GET and PUT on 1,000 hot keys with uuid values, beside the bare uWS ceiling
 * answering a uuid, runs interleaved A B A B: the original tables' sustained rows. Placed as
 * `placement` says (wrk only); by default where the scheduler puts each process.
 */
export interface Throughput {
  bareGet: Spread;
  get: Spread;
  getP50: Spread;
  getP99: Spread;
  getP999: Spread;
  put: Spread;
  putP50: Spread;
  putP99: Spread;
  putP999: Spread;
  /** Cluster GET ÷ bare ceiling, pair by pair. */
  getVsCeiling: Spread;
}

export function throughput(
  generator: Generator,
  topology: Topology,
  runs: number,
  seconds: number,
  withPut = true,
  placement?: Placement,
): Promise<Throughput> {
  return using(
    [startBare(undefined, placement), startCluster(topology, [], undefined, placement)],
    async ([bare, cluster]) => {
      await preload(cluster!.url);
      const spec = { seconds, connections: 100, keys: HOT_KEYS, placement };
      const figures = await repeat(runs, async () => {
        const b: LoadResult = await sustained(generator, { ...spec, url: bare!.url, method: 'GET' });
        const g: LoadResult = await sustained(generator, { ...spec, url: cluster!.url, method: 'GET' });
        const p: LoadResult | null = withPut
          ? await sustained(generator, { ...spec, url: cluster!.url, method: 'PUT' })
          : null;
        return {
          bareGet: b.rps,
          get: g.rps,
          getP50: g.p50,
          getP99: g.p99,
          getP999: g.p999,
          put: p?.rps ?? NaN,
          putP50: p?.p50 ?? NaN,
          putP99: p?.p99 ?? NaN,
          putP999: p?.p999 ?? NaN,
          getVsCeiling: g.rps / b.rps,
        };
      });
      return figures;
    },
  );
}

/** The original's `ab -n 10000 -c 100`: a new connection per request. */
export function closeLoad(topology: Topology, runs: number): Promise<Record<keyof CloseLoadResult, Spread>> {
  return using([startCluster(topology)], async ([cluster]) => {
    await preload(cluster!.url);
    const paths = Array.from({ length: HOT_KEYS }, (_, i) => `/kv/bench:${i}`);
    return repeat(runs, async () =>
      wholeOrThrow('ThunderDB', await connectionPerRequest(cluster!.url, paths)),
    );
  });
}

/**
 * Batch PUT of `size` uuid pairs over HTTP (`thunderdb load`), seconds, each run on a fresh
 * cluster; `cli` loads into another build's (an A/B against a reference).
 */
export async function batchLoad(
  topology: Topology,
  size: number,
  runs: number,
  cli?: string,
): Promise<Spread> {
  const file = await uuidFile(size);
  const seconds: number[] = [];
  for (let i = 0; i < runs; i++) {
    seconds.push(
      await using([startCluster(topology, [], cli)], async ([cluster]) => {
        const report = await loadFileOverHttp(cluster!.url, file);
        if (report.loaded !== size) throw new Error(`loaded ${report.loaded} of ${size}`);
        return report.seconds;
      }),
    );
  }
  return spread(seconds);
}

/** Memory with `records` uuid pairs loaded over HTTP. */
export interface Memory {
  records: number;
  /** Time to load them over HTTP (`thunderdb load`'s upload, in this process). */
  loadSeconds: number;
  rssEmptyBytes: number;
  rssLoadedBytes: number;
  /** (loaded RSS − empty RSS) ÷ records: what a record costs the process, page slack included. */
  rssBytesPerRecord: number;
  /** V8 heap in use per node thread (uncollected garbage included). */
  heapPerNode: number[];
  /** Off-heap store per node: slabs and index. */
  storePerNode: number[];
  storeBytesPerRecord: number;
}

/** `records` uuid pairs loaded over HTTP into a fresh cluster placed as `placement` says. */
export function memory(topology: Topology, records: number, placement?: Placement): Promise<Memory> {
  return using([startCluster(topology, [], undefined, placement)], async ([cluster]) => {
    const file = await uuidFile(records);
    await new Promise((r) => setTimeout(r, 500));
    const rssEmptyBytes = await cluster!.rss();
    const report = await loadFileOverHttp(cluster!.url, file);
    if (report.loaded !== records) throw new Error(`loaded ${report.loaded} of ${records}`);
    await new Promise((r) => setTimeout(r, 1000));
    const rssLoadedBytes = await cluster!.rss();
    const info = (await (await fetch(`${cluster!.url}/cluster`)).json()) as {
      nodes: { heapUsed: number; storeBytes: number }[];
    };
    const heapPerNode = info.nodes.map((n) => n.heapUsed);
    const storePerNode = info.nodes.map((n) => n.storeBytes);
    return {
      records,
      loadSeconds: report.seconds,
      rssEmptyBytes,
      rssLoadedBytes,
      rssBytesPerRecord: (rssLoadedBytes - rssEmptyBytes) / records,
      heapPerNode,
      storePerNode,
      storeBytesPerRecord: storePerNode.reduce((a, b) => a + b, 0) / records,
    };
  });
}
