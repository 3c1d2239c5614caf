/**
 * `npm run bench:metrics`: what `GET /metrics` costs the data path (issue 11). Two clusters
 * of 3 nodes (one replica) hold the same keys; one is never scraped, the other is scraped
 * once a second while wrk runs random-key GETs at 100 connections, the two in turns (one
 * load at a time). Reported: scraped ÷ unscraped req/s pair by pair, for 100 B and 64 KiB
 * values, and how long a scrape takes under that load.
 *
 *   npm run bench:metrics -- [--runs 3] [--seconds 3]
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { firstKeys, keysFor, preload } from './lib/cells.js';
import { uuidFile } from './lib/data.js';
import { sustained, type LoadResult } from './lib/load-generator.js';
import { runContext } from './lib/machine.js';
import { startCluster, type ServerProcess } from './lib/processes.js';
import { spread, type Spread } from './lib/stats.js';

const { values: args } = parseArgs({
  options: { runs: { type: 'string', default: '3' }, seconds: { type: 'string', default: '3' } },
});
const OUT = fileURLToPath(new URL('../../bench/results/', import.meta.url));
const RUNS = Number(args.runs);
const SECONDS = Number(args.seconds);
const TOPOLOGY = { nodes: 3, replicas: 1 };

interface MetricsResult {
  valueBytes: number;
  keys: number;
  /** Scraped ÷ unscraped req/s, pair by pair. */
  ratio: Spread;
  unscrapedRps: Spread;
  scrapedRps: Spread;
  /** Milliseconds one scrape took under load, and its size. */
  scrapeMs: Spread;
  scrapeBytes: number;
}

/** Scrapes `url`/metrics once a second until stopped; the time each scrape took. */
function scrapeEverySecond(url: string): { stop(): Promise<{ ms: number[]; bytes: number }> } {
  const ms: number[] = [];
  let bytes = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const started = performance.now();
      const answer = await fetch(`${url}/metrics`);
      bytes = (await answer.arrayBuffer()).byteLength;
      if (answer.status !== 200) throw new Error(`GET /metrics answered ${answer.status}`);
      ms.push(performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      return { ms, bytes };
    },
  };
}

async function measure(valueBytes: number, keyFile: string): Promise<MetricsResult> {
  const keys = keysFor(valueBytes, { keys: 100_000, valueBudget: 256 << 20 });
  const list = await firstKeys(keyFile, keys);
  const plain: ServerProcess = await startCluster(TOPOLOGY, []);
  const scraped: ServerProcess = await startCluster(TOPOLOGY, []);
  try {
    await preload(plain.url, list, valueBytes);
    await preload(scraped.url, list, valueBytes);
    const load = (url: string) =>
      sustained('wrk', { url, method: 'GET', seconds: SECONDS, connections: 100, keys, keyFile, valueBytes });
    await load(plain.url); // warm-up, both
    await load(scraped.url);
    const without: LoadResult[] = [];
    const withScrapes: LoadResult[] = [];
    const scrapeMs: number[] = [];
    let scrapeBytes = 0;
    for (let run = 0; run < RUNS; run++) {
      without.push(await load(plain.url));
      const scraper = scrapeEverySecond(scraped.url);
      withScrapes.push(await load(scraped.url));
      const { ms, bytes } = await scraper.stop();
      scrapeMs.push(...ms);
      scrapeBytes = bytes;
    }
    return {
      valueBytes,
      keys,
      ratio: spread(withScrapes.map((r, i) => r.rps / without[i]!.rps)),
      unscrapedRps: spread(without.map((r) => r.rps)),
      scrapedRps: spread(withScrapes.map((r) => r.rps)),
      scrapeMs: spread(scrapeMs),
      scrapeBytes,
    };
  } finally {
    await Promise.all([plain.stop(), scraped.stop()]);
  }
}

async function main(): Promise<void> {
  const meta = runContext();
  const keyFile = await uuidFile(100_000);
  const results: MetricsResult[] = [];
  for (const valueBytes of [100, 64 << 10]) results.push(await measure(valueBytes, keyFile));
  const f = (n: number) => n.toFixed(2);
  const text = [
    `ThunderDB bench:metrics, ${meta.date}, commit ${meta.commit}, ${meta.cores} cores (${meta.cpu}), Node ${meta.node}`,
    `3 nodes, 1 replica; GET: wrk, 100 connections, ${SECONDS} s, random keys; ${RUNS} pair(s) of runs, unscraped first in each; scrapes once a second`,
    '',
    '| values | scraped ÷ unscraped req/s | unscraped req/s | scraped req/s | scrape ms (median, max) | scrape bytes |',
    '| --- | --- | --- | --- | --- | --- |',
    ...results.map(
      (r) =>
        `| ${r.valueBytes === 100 ? '100 B' : '64 KiB'} | ${f(r.ratio.median)} (${f(r.ratio.min)}–${f(r.ratio.max)}) | ${Math.round(r.unscrapedRps.median)} | ${Math.round(r.scrapedRps.median)} | ${f(r.scrapeMs.median)}, ${f(r.scrapeMs.max)} | ${r.scrapeBytes} |`,
    ),
  ].join('\n');
  console.log(text);
  await mkdir(OUT, { recursive: true });
  await writeFile(`${OUT}metrics.json`, JSON.stringify({ meta, results }, null, 2) + '\n');
  await writeFile(`${OUT}metrics.md`, text + '\n');
  process.exit(0);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
