/**
 * `npm run bench:metrics`: what scraping `GET /metrics` costs the data path (issues 11 and
 * 17). One cluster of 3 nodes (one replica); wrk runs random-key PUTs of 100 B values at 100
 * connections while, in turns within each run: nobody else asks anything; 4 clients ask
 * `GET /ping` in a loop (what 4 busy clients cost by themselves); 4 clients scrape
 * `/metrics` in a loop; 4 clients GET a value as large as the metrics page in a loop (what
 * answering that many bytes costs by itself); one client scrapes once a second (Prometheus
 * at a 1 s interval).
 * Reported: each load's PUT req/s ÷ the unscraped PUT req/s of the same run, the answers
 * per second the clients beside got, and, measured apart with no PUT load, the cluster
 * process's CPU time (all its threads, from /proc) per answer each looping client got: a
 * figure the other tenants of a shared machine disturb far less than a rate.
 *
 *   npm run bench:metrics -- [--runs 3] [--seconds 3] [--cli PATH]
 *
 * `--cli PATH` measures another build's `dist/src/cli.js` (e.g. an older commit's, for a
 * before/after figure).
 */
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
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
const SIZED_KEY = '/kv/bench-metrics-sized';

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
  // A value as large as the metrics page: what answering that many bytes costs by itself.
  {
    name: '4 clients looping on GET of a value the size of the page',
    path: SIZED_KEY,
    clients: 4,
    pauseMs: 0,
  },
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

const TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));

/** CPU time process `pid` has used, all its threads, in ms (/proc/PID/stat utime + stime). */
async function cpuMsOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'latin1');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
}

interface Cell {
  beside: string;
  /** PUT req/s with this beside ÷ PUT req/s with nothing beside, run by run. */
  ratio: Spread;
  putRps: Spread;
  /** Answers per second the clients beside got. */
  besideRps: Spread;
  /** Looping clients only: the cluster's CPU µs per answer, with no PUT load. */
  cpuUsPerAnswer: Spread | null;
}

async function main(): Promise<void> {
  const meta = runContext();
  const keyFile = await uuidFile(KEYS);
  const cluster = await startCluster(TOPOLOGY, [], args.cli);
  const rps = BESIDE.map(() => [] as number[]);
  const besideRps = BESIDE.map(() => [] as number[]);
  const cpuUs = BESIDE.map(() => [] as number[]);
  let pageBytes: number;
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
    // prom-client loads at the first scrape.
    pageBytes = (await (await fetch(`${cluster.url}/metrics`)).arrayBuffer()).byteLength;
    const sized = await fetch(`${cluster.url}${SIZED_KEY}`, {
      method: 'PUT',
      body: Buffer.alloc(pageBytes, 'm'),
    });
    if (sized.status !== 204) throw new Error(`PUT ${SIZED_KEY} answered ${sized.status}`);
    for (let run = 0; run < RUNS; run++) {
      for (const [i, beside] of BESIDE.entries()) {
        const asking = askInLoops(`${cluster.url}${beside.path ?? ''}`, beside.clients, beside.pauseMs);
        rps[i]!.push((await load()).rps);
        besideRps[i]!.push((await asking.stop()) / SECONDS);
      }
      for (const [i, beside] of BESIDE.entries()) {
        if (beside.clients === 0 || beside.pauseMs > 0) continue;
        const before = await cpuMsOf(cluster.pid);
        const asking = askInLoops(`${cluster.url}${beside.path}`, beside.clients, 0);
        await new Promise((resolve) => setTimeout(resolve, SECONDS * 1000));
        const answers = await asking.stop();
        cpuUs[i]!.push(((await cpuMsOf(cluster.pid)) - before) * (1000 / answers));
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
    cpuUsPerAnswer: cpuUs[i]!.length > 0 ? spread(cpuUs[i]!) : null,
  }));
  const f = (n: number) => n.toFixed(2);
  const text = [
    `ThunderDB bench:metrics, ${meta.date}, commit ${meta.commit}${args.cli ? ` (cluster: ${args.cli})` : ''}, ${meta.cores} cores (${meta.cpu}), Node ${meta.node}`,
    `3 nodes, 1 replica; PUT: wrk, 100 connections, ${SECONDS} s, random keys, ${VALUE_BYTES} B values; ${RUNS} run(s), each load in turn; metrics page ${pageBytes} bytes`,
    '',
    '| beside the PUT load | PUT req/s ÷ alone | PUT req/s | their answers/s | cluster CPU µs per answer, no PUT load |',
    '| --- | --- | --- | --- | --- |',
    ...cells.map(
      (c) =>
        `| ${c.beside} | ${f(c.ratio.median)} (${f(c.ratio.min)}–${f(c.ratio.max)}) | ${Math.round(c.putRps.median)} | ${Math.round(c.besideRps.median)} | ${c.cpuUsPerAnswer ? `${Math.round(c.cpuUsPerAnswer.median)} (${Math.round(c.cpuUsPerAnswer.min)}–${Math.round(c.cpuUsPerAnswer.max)})` : '–'} |`,
    ),
  ].join('\n');
  console.log(text);
  await mkdir(OUT, { recursive: true });
  await writeFile(`${OUT}metrics.json`, JSON.stringify({ meta, pageBytes, cells }, null, 2) + '\n');
  await writeFile(`${OUT}metrics.md`, text + '\n');
  process.exit(0);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
