/**
 * `npm run bench:metrics`: what scraping `GET /metrics` costs the data path (issues 11 and
 * 17). One cluster of 3 nodes (one replica); wrk runs random-key PUTs of 100 B values at 100
 * connections while, in turns within each run: nobody else asks anything; 4 clients ask
 * `GET /ping` in a loop (what 4 busy clients cost by themselves); 4 clients scrape
 * `/metrics` in a loop; one client scrapes once a second (Prometheus at a 1 s interval).
 * Reported: each load's PUT req/s ÷ the unscraped PUT req/s of the same run, and the
 * scrapes per second the looping scrapers got.
 *
 *   npm run bench:metrics -- [--runs 3] [--seconds 3] [--cli PATH]
 *
 * `--cli PATH` measures another build's `dist/src/cli.js` (e.g. an older commit's, for a
 * before/after figure).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { uuidFile } from './lib/data.js';
import { sustained } from './lib/load-generator.js';
import { runContext } from './lib/machine.js';
import { startCluster } from './lib/processes.js';
import { spread, type Spread } from './lib/stats.js';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '3' },
    cli: { type: 'string' },
  },
});
const OUT = fileURLToPath(new URL('../../bench/results/', import.meta.url));
const RUNS = Number(args.runs);
const SECONDS = Number(args.seconds);
const TOPOLOGY = { nodes: 3, replicas: 1 };
const KEYS = 100_000;
const VALUE_BYTES = 100;

/** What runs beside the PUT load. */
interface Beside {
  name: string;
  path: string | null;
  clients: number;
  /** Pause between one client's requests, ms (0: back to back). */
  pauseMs: number;
}

const BESIDE: Beside[] = [
  { name: 'nothing', path: null, clients: 0, pauseMs: 0 },
  { name: '4 clients looping on GET /ping', path: '/ping', clients: 4, pauseMs: 0 },
  { name: '4 clients looping on GET /metrics', path: '/metrics', clients: 4, pauseMs: 0 },
  { name: '1 scrape of /metrics a second', path: '/metrics', clients: 1, pauseMs: 1000 },
];

/** `clients` loops asking `url` until stopped; how many answers they got. */
function askInLoops(url: string, clients: number, pauseMs: number): { stop(): Promise<number> } {
  let answers = 0;
  let stopped = false;
  const loop = async () => {
    while (!stopped) {
      const answer = await fetch(url);
      await answer.arrayBuffer();
      if (answer.status !== 200) throw new Error(`GET ${url} answered ${answer.status}`);
      answers++;
      if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  };
  const loops = Array.from({ length: clients }, loop);
  return {
    stop: async () => {
      stopped = true;
      await Promise.all(loops);
      return answers;
    },
  };
}

interface Cell {
  beside: string;
  /** PUT req/s with this beside ÷ PUT req/s with nothing beside, run by run. */
  ratio: Spread;
  putRps: Spread;
  /** Answers per second the clients beside got. */
  besideRps: Spread;
}

async function main(): Promise<void> {
  const meta = runContext();
  const keyFile = await uuidFile(KEYS);
  const cluster = await startCluster(TOPOLOGY, [], args.cli);
  const rps = BESIDE.map(() => [] as number[]);
  const besideRps = BESIDE.map(() => [] as number[]);
  try {
    const load = () =>
      sustained('wrk', {
        url: cluster.url,
        method: 'PUT',
        seconds: SECONDS,
        connections: 100,
        keys: KEYS,
        keyFile,
        valueBytes: VALUE_BYTES,
      });
    await load(); // warm-up
    const warm = askInLoops(`${cluster.url}/metrics`, 1, 0); // prom-client loads at the first scrape
    await new Promise((resolve) => setTimeout(resolve, 100));
    await warm.stop();
    for (let run = 0; run < RUNS; run++) {
      for (const [i, beside] of BESIDE.entries()) {
        const asking = askInLoops(`${cluster.url}${beside.path ?? ''}`, beside.clients, beside.pauseMs);
        rps[i]!.push((await load()).rps);
        besideRps[i]!.push((await asking.stop()) / SECONDS);
      }
    }
  } finally {
    await cluster.stop();
  }
  const cells: Cell[] = BESIDE.map((beside, i) => ({
    beside: beside.name,
    ratio: spread(rps[i]!.map((r, run) => r / rps[0]![run]!)),
    putRps: spread(rps[i]!),
    besideRps: spread(besideRps[i]!),
  }));
  const f = (n: number) => n.toFixed(2);
  const text = [
    `ThunderDB bench:metrics, ${meta.date}, commit ${meta.commit}${args.cli ? ` (cluster: ${args.cli})` : ''}, ${meta.cores} cores (${meta.cpu}), Node ${meta.node}`,
    `3 nodes, 1 replica; PUT: wrk, 100 connections, ${SECONDS} s, random keys, ${VALUE_BYTES} B values; ${RUNS} run(s), each load in turn`,
    '',
    '| beside the PUT load | PUT req/s ÷ alone | PUT req/s | their answers/s |',
    '| --- | --- | --- | --- |',
    ...cells.map(
      (c) =>
        `| ${c.beside} | ${f(c.ratio.median)} (${f(c.ratio.min)}–${f(c.ratio.max)}) | ${Math.round(c.putRps.median)} | ${Math.round(c.besideRps.median)} |`,
    ),
  ].join('\n');
  console.log(text);
  await mkdir(OUT, { recursive: true });
  await writeFile(`${OUT}metrics.json`, JSON.stringify({ meta, cells }, null, 2) + '\n');
  await writeFile(`${OUT}metrics.md`, text + '\n');
  process.exit(0);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
