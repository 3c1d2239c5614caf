/**
 * `npm run bench:heavy`: what heavy requests cost a cluster holding a large store, each
 * scenario in a fresh `thunderdb cluster` process: peak RSS over the scenario (VmHWM, reset
 * once the store is loaded) for concurrent and slow-reading `/snapshot`s, an `_mget`
 * naming one large value many times and 256 clients each writing and reading 1 MiB at once,
 * and single-GET latency while listings run.
 *
 * Options: `--pairs N` (default 2,000,000 uuid pairs), `--cli PATH` to measure another
 * build's `dist/src/cli.js` (e.g. an older commit's, for before/after figures), `--only NAME`
 * to run one scenario.
 * Prints one JSON object.
 */
import { request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { uuidFile } from './lib/data.js';
import { peakRssOf, resetPeakRss, rssOf, startCluster, type ServerProcess } from './lib/processes.js';
import { spread } from './lib/stats.js';

const MiB = 1 << 20;

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? process.argv[at + 1]! : fallback;
}

/**
 * Sends a request and reads its answer, counting bytes; `pauseMs` > 0 reads the first
 * chunk, then stops reading for that long (a slow client).
 */
function fetchCounting(
  url: string,
  method: string,
  path: string,
  body?: string,
  pauseMs = 0,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(url);
    const req = request({ host: hostname, port, method, path, agent: false }, (res) => {
      let bytes = 0;
      let paused = false;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (pauseMs > 0 && !paused) {
          paused = true;
          res.pause();
          setTimeout(() => res.resume(), pauseMs);
        }
      });
      res.on('end', () => resolve(bytes));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

interface Scenario {
  /** Peak RSS over the scenario, in MiB. */
  peakMiB: number;
  /** RSS when it began, with the store loaded, in MiB. */
  baseMiB: number;
  [figure: string]: number;
}

async function withCluster(
  cli: string | undefined,
  file: string,
  run: (server: ServerProcess) => Promise<Record<string, number>>,
): Promise<Scenario> {
  // The build's default replication: older builds have none, this one three copies.
  const server = await startCluster({ nodes: 3, replicas: undefined }, ['--load', file], cli);
  try {
    await sleep(500);
    const baseMiB = (await rssOf(server.pid)) / MiB;
    await resetPeakRss(server.pid);
    const figures = await run(server);
    return { baseMiB, peakMiB: (await peakRssOf(server.pid)) / MiB, ...figures };
  } finally {
    await server.stop();
  }
}

async function getLatencies(url: string, ms: number): Promise<number[]> {
  const latencies: number[] = [];
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const start = performance.now();
    await fetchCounting(url, 'GET', '/ping');
    latencies.push(performance.now() - start);
    await sleep(20);
  }
  return latencies;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

async function main(): Promise<void> {
  const pairs = Number(option('pairs', '2000000'));
  const cliOption = option('cli', '');
  const cli = cliOption === '' ? undefined : cliOption;
  const file = await uuidFile(pairs);
  const only = option('only', '');
  const wanted = (name: string) => only === '' || only === name;
  const results: Record<string, unknown> = { pairs, cli: cli ?? 'this build', nodes: 3 };

  if (wanted('snapshotConcurrent'))
    results.snapshotConcurrent = await withCluster(cli, file, async ({ url }) => {
      const bytes = await Promise.all(
        Array.from({ length: 4 }, () => fetchCounting(url, 'GET', '/snapshot')),
      );
      return { requests: 4, answerMiB: bytes[0]! / MiB };
    });

  if (wanted('snapshotSlowReaders'))
    results.snapshotSlowReaders = await withCluster(cli, file, async ({ url }) => {
      const bytes = await Promise.all(
        Array.from({ length: 4 }, () => fetchCounting(url, 'GET', '/snapshot', undefined, 5000)),
      );
      return { requests: 4, pauseMs: 5000, answerMiB: bytes[0]! / MiB };
    });

  if (wanted('mgetDuplicates'))
    results.mgetDuplicates = await withCluster(cli, file, async ({ url }) => {
      const value = 'v'.repeat(MiB);
      await new Promise<void>((resolve, reject) => {
        const { hostname, port } = new URL(url);
        const req = request({ host: hostname, port, method: 'PUT', path: '/kv/big', agent: false }, (res) => {
          res.resume();
          res.on('end', resolve);
        });
        req.on('error', reject);
        req.end(value);
      });
      const body = JSON.stringify({ keys: Array(1000).fill('big') });
      const bytes = await fetchCounting(url, 'POST', '/kv/_mget', body);
      return { repeats: 1000, bodyBytes: body.length, answerMiB: bytes / MiB };
    });

  if (wanted('getDuringListings'))
    results.getDuringListings = await withCluster(cli, file, async ({ url }) => {
      // /ping goes through the front end only; a GET of a key also waits for its node.
      const idle = await getLatencies(url, 2000);
      let listing = true;
      let pages = 0;
      const listers = Array.from({ length: 8 }, async () => {
        while (listing) {
          await fetchCounting(url, 'GET', '/kv?limit=1000');
          pages++;
        }
      });
      const keyLatencies: number[] = [];
      const end = performance.now() + 5000;
      while (performance.now() < end) {
        const start = performance.now();
        await fetchCounting(url, 'GET', '/kv/absent-key');
        keyLatencies.push(performance.now() - start);
        await sleep(20);
      }
      listing = false;
      await Promise.all(listers);
      const busy = spread(keyLatencies);
      return {
        concurrentListings: 8,
        pagesListed: pages,
        idlePingP50Ms: percentile(idle, 0.5),
        getP50Ms: busy.median,
        getP99Ms: percentile(keyLatencies, 0.99),
        getMaxMs: busy.max,
      };
    });

  if (wanted('largeValues')) {
    results.largeValues = await withCluster(cli, await uuidFile(10_000), async ({ url }) => {
      // 256 clients at once each PUT, then GET, their own 1 MiB value: memory follows the
      // requests in flight (each holds its value once), not a multiple of them.
      const value = 'v'.repeat(MiB);
      const clients = Array.from({ length: 256 }, (_, i) => i);
      await Promise.all(clients.map((i) => fetchCounting(url, 'PUT', `/kv/large${i}`, value)));
      const bytes = await Promise.all(clients.map((i) => fetchCounting(url, 'GET', `/kv/large${i}`)));
      return { clients: 256, valueMiB: 1, answeredMiB: bytes.reduce((a, b) => a + b, 0) / MiB };
    });
  }

  console.log(JSON.stringify(results, null, 2));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
