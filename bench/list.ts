/**
 * `npm run bench:list`: what listing every key costs against exporting them (issue 17). For
 * each size: load N uuid pairs into a cluster over HTTP (`thunderdb load`'s upload),
 * `GET /export` them to a file, then walk `GET /kv?limit=1000&after=…` from the first page
 * to the last, twice: the first walk builds each node's order of keys, the second finds it
 * built. Pages are asked over a kept-alive node:http connection, as the export is read, so
 * the two compare the server's work (the client `thunderdb ls` uses goes through fetch,
 * which adds its own cost to each request). While each walk goes on, a GET every 20 ms
 * shows how long key operations wait behind it (the first walk's build included). Last, the
 * cluster's RSS once the orders have been released (LIST_IDLE_MS after the last page). Each cluster is a child process, as
 * `thunderdb cluster` runs. Prints JSON.
 *
 *   npm run bench:list -- [--sizes 1000000,5000000] [--max-pages N] [--cli PATH]
 *
 * `--max-pages` stops each walk after N pages (for a build whose pages are too slow to walk
 * a store to the end); `--cli` measures another build's `dist/src/cli.js`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { LIST_IDLE_MS } from '../src/node/store.js';
import { compareKeys } from '../src/ring/key-bytes.js';
import { loadFileOverHttp } from '../src/load/http-load.js';
import { uuidFile } from './lib/data.js';
import { exportTo } from './lib/export-stream.js';
import { runContext } from './lib/machine.js';
import { startCluster, type Topology } from './lib/processes.js';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000000,5000000' },
    'max-pages': { type: 'string' },
    cli: { type: 'string' },
  },
});
const TOPOLOGY: Topology = { nodes: 3, replicas: 3 };
const PAGE = 1000;
const MAX_PAGES = args['max-pages'] === undefined ? Infinity : Number(args['max-pages']);

/** One walk through the listing: seconds, keys, pages and each page's milliseconds. */
interface Walk {
  seconds: number;
  keys: number;
  pages: number;
  /** The first page: it waits while the nodes build their orders of keys. */
  firstPageMs: number;
  pageMs: { median: number; p99: number; max: number };
  /** A GET sent every 20 ms while the walk went on (one at a time): how long key operations waited. */
  getMs: { count: number; median: number; p99: number; max: number };
}

/** The value at fraction `q` of sorted `values`. */
function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

const round = (x: number, digits = 2) => Number(x.toFixed(digits));

/** One page: `GET /kv?limit=1000&after=…` over a kept-alive connection. */
function listPage(
  url: string,
  agent: Agent,
  after: string,
): Promise<{ keys: string[]; next: string | null }> {
  return new Promise((resolve, reject) => {
    const path = `/kv?limit=${PAGE}&after=${encodeURIComponent(after)}`;
    request(new URL(path, url), { agent }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (part: Buffer) => parts.push(part));
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`GET ${path} answered ${res.statusCode}`));
        resolve(JSON.parse(Buffer.concat(parts).toString('utf8')) as { keys: string[]; next: string | null });
      });
    })
      .on('error', reject)
      .end();
  });
}

/** One GET of a key (absent: it is asked of every replica all the same); resolves to milliseconds. */
function timeGet(url: string, agent: Agent): Promise<number> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    request(new URL('/kv/bench-list-probe', url), { agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(performance.now() - start));
    })
      .on('error', reject)
      .end();
  });
}

/** GETs a key every 20 ms, one at a time, until `stop` is called; resolves to each one's milliseconds. */
function probeGets(url: string): { stop: () => Promise<number[]> } {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const times: number[] = [];
  let running = true;
  const done = (async () => {
    while (running) {
      times.push(await timeGet(url, agent));
      await sleep(20);
    }
    agent.destroy();
    return times;
  })();
  return {
    stop: () => {
      running = false;
      return done;
    },
  };
}

/** Statistics of some milliseconds. */
function summary(times: number[]): { median: number; p99: number; max: number } {
  const sorted = [...times].sort((a, b) => a - b);
  return {
    median: round(quantile(sorted, 0.5)),
    p99: round(quantile(sorted, 0.99)),
    max: round(sorted.at(-1)!),
  };
}

/** Walks every page of the listing (up to {@link MAX_PAGES}), checking keys come in byte order, each once. */
async function walk(url: string): Promise<Walk> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const probe = probeGets(url);
  const times: number[] = [];
  let keys = 0;
  let last = '';
  const start = performance.now();
  for (let after: string | null = ''; after !== null && times.length < MAX_PAGES;) {
    const asked = performance.now();
    const page = await listPage(url, agent, after);
    times.push(performance.now() - asked);
    for (const key of page.keys) {
      if (last !== '' && compareKeys(last, key) >= 0) throw new Error(`${key} listed after ${last}`);
      last = key;
    }
    keys += page.keys.length;
    after = page.next;
  }
  const seconds = (performance.now() - start) / 1000;
  agent.destroy();
  const gets = await probe.stop();
  return {
    seconds: round(seconds),
    keys,
    pages: times.length,
    firstPageMs: round(times[0]!, 1),
    pageMs: summary(times),
    getMs: { count: gets.length, ...summary(gets) },
  };
}

async function measure(records: number, dir: string) {
  const file = await uuidFile(records);
  const cluster = await startCluster(TOPOLOGY, [], args.cli);
  try {
    const loaded = await loadFileOverHttp(cluster.url, file);
    if (loaded.loaded !== records) throw new Error(`loaded ${loaded.loaded} of ${records}`);
    const exportSeconds = await exportTo(cluster.url, join(dir, 'dump.ndjson'));
    const rssBefore = await cluster.rss();
    const first = await walk(cluster.url);
    const rssAfter = await cluster.rss();
    const again = await walk(cluster.url);
    await sleep(LIST_IDLE_MS + 5_000);
    const rssReleased = await cluster.rss();
    const complete = first.pages < MAX_PAGES;
    if (complete && first.keys !== records) throw new Error(`listed ${first.keys} of ${records} keys`);
    return {
      keys: records,
      loadSeconds: round(loaded.seconds),
      exportSeconds: round(exportSeconds),
      list: first,
      listAgain: again,
      // A walk cut short by --max-pages: the whole listing's time, were every page as long.
      ...(complete ? {} : { listEstimateSeconds: round((first.seconds / first.pages) * (records / PAGE)) }),
      listOverExport: round(
        (complete ? first.seconds : (first.seconds / first.pages) * (records / PAGE)) / exportSeconds,
      ),
      listAgainOverExport: complete ? round(again.seconds / exportSeconds) : undefined,
      rssMiB: {
        beforeListing: round(rssBefore / 2 ** 20, 0),
        afterListing: round(rssAfter / 2 ** 20, 0),
        afterRelease: round(rssReleased / 2 ** 20, 0),
      },
    };
  } finally {
    await cluster.stop();
  }
}

async function main(): Promise<void> {
  const meta = runContext();
  const dir = await mkdtemp(join(tmpdir(), 'thunderdb-list-'));
  try {
    const sizes = [];
    for (const size of args.sizes.split(',')) sizes.push(await measure(Number(size), dir));
    const result = {
      bench: 'list',
      ...meta,
      cli: args.cli ?? 'this build',
      topology: TOPOLOGY,
      pageSize: PAGE,
      maxPages: Number.isFinite(MAX_PAGES) ? MAX_PAGES : undefined,
      sizes,
    };
    console.log(JSON.stringify(result, null, 2));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  process.exit(0);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
