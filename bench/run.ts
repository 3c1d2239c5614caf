/**
 * `npm run bench`: the original ThunderDB's Performance tables, row for row, for
 * `--nodes 1` and `--nodes 3` (one replica, as the original), then what the original never
 * measured: sustained throughput and latency percentiles beside the bare uWS ceiling, ring
 * balance, replication (GET and PUT with 3 replicas beside 1 and bare uWS, a 1 M load with 3
 * replicas, joins, leaves and a refill while serving: bench/lib/replication.ts), storage
 * (the log under each fsync policy beside memory: bench/lib/storage.ts), the two HTTP
 * front ends each beside a bare server of its kind and the original's `ab -n 10000 -c 100`
 * where ab is installed (bench/lib/front-ends.ts), and peers where they are installed.
 * Prints a table and writes bench/results/latest.json.
 *
 *   npm run bench                        autocannon, 3 runs of each figure
 *   npm run bench -- --wrk               wrk as the sustained-load generator
 *   npm run bench -- --quick             1 run, short loads (a smoke test of the suite)
 *   npm run bench -- --compare [--original DIR] [--original-port 80]
 *   npm run bench -- --pin none|split --sessions own|shared   placement of the servers and
 *                                        wrk in the sustained loads (bench/lib/placement.ts)
 *
 * The issue-7 matrix (random uuid keys, value sizes, connections, node counts) is
 * `npm run bench:matrix` (bench/matrix.ts).
 */
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Ring } from '../src/ring/ring.js';
import { engineLatency } from './lib/engine.js';
import { frontEndLines, measureFrontEnds } from './lib/front-ends.js';
import { hasWrk, type Generator } from './lib/load-generator.js';
import { original, redis, webdis, type PeerResult } from './lib/peers.js';
import { describePlacement, PLACEMENT_OPTIONS, placementFromArgs } from './lib/placement.js';
import type { Topology } from './lib/processes.js';
import { measureReplication, replicationLines } from './lib/replication.js';
import { measureStorage, storageLines } from './lib/storage.js';
import { batchLoad, closeLoad, memory, throughput } from './lib/scenarios.js';
import { repeat, type Spread } from './lib/stats.js';
import { runContext } from './lib/machine.js';

const { values: args } = parseArgs({
  options: {
    wrk: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    compare: { type: 'boolean', default: false },
    original: { type: 'string' },
    'original-port': { type: 'string', default: '80' },
    runs: { type: 'string' },
    seconds: { type: 'string' },
    ...PLACEMENT_OPTIONS,
  },
});
const PLACEMENT = placementFromArgs(args);
const RUNS = Number(args.runs ?? (args.quick ? 1 : 3));
const SECONDS = Number(args.seconds ?? (args.quick ? 2 : 5));
const MEMORY_RECORDS = 1_000_000;
const BATCHES = [10_000, 100_000, 1_000_000];
const OUT = fileURLToPath(new URL('../../bench/results/', import.meta.url));

function ringBalance(nodes: number): number {
  const ring = new Ring({ nodes });
  const counts = new Array<number>(nodes).fill(0);
  for (let i = 0; i < 100_000; i++) counts[ring.nodeFor(randomUUID())]!++;
  return Math.max(...counts) / (100_000 / nodes);
}

/** The original's two modes, each key on one node as there. */
async function forNodes(nodes: number, generator: Generator) {
  const topology: Topology = { nodes, replicas: 1 };
  console.error(`… ${nodes} node(s): engine latency`);
  const engine = await repeat(RUNS, async () => ({
    ...(await engineLatency(topology, args.quick ? 20_000 : 100_000)),
  }));
  console.error(`… ${nodes} node(s): 10,000 GETs, 100 concurrent, a connection each`);
  const close = await closeLoad(topology, RUNS);
  console.error(`… ${nodes} node(s): sustained GET/PUT beside the bare uWS ceiling (${generator})`);
  const load = await throughput(generator, topology, RUNS, SECONDS, true, PLACEMENT);
  const batch: Record<string, Spread> = {};
  for (const size of BATCHES) {
    console.error(`… ${nodes} node(s): batch PUT of ${size.toLocaleString('en-US')}`);
    batch[size] = await batchLoad(topology, size, size === 1_000_000 && args.quick ? 1 : RUNS);
  }
  console.error(`… ${nodes} node(s): memory with ${MEMORY_RECORDS.toLocaleString('en-US')} records`);
  const mem = await memory(topology, MEMORY_RECORDS, PLACEMENT);
  return { engine, close, load, batch, memory: mem, ringBalance: ringBalance(nodes) };
}

type NodeResults = Awaited<ReturnType<typeof forNodes>>;

const fmt = (s: Spread, digits: number, unit = '') =>
  `${s.median.toFixed(digits)}${unit} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`;
const krps = (s: Spread) =>
  `${(s.median / 1000).toFixed(1)}k (${(s.min / 1000).toFixed(1)}–${(s.max / 1000).toFixed(1)}k)`;
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;
const perNode = (m: NodeResults['memory']) =>
  m.storePerNode.map((store, i) => `${mb(store)} + ${mb(m.heapPerNode[i]!)}`).join(', ');

function table(r1: NodeResults, r3: NodeResults): string {
  const rows: [string, string, string, string][] = [
    [
      'GET through the engine, one at a time (µs)',
      '38.1 / 64.3',
      fmt(r1.engine.getSequentialUs, 1),
      fmt(r3.engine.getSequentialUs, 1),
    ],
    [
      'PUT through the engine, one at a time (µs)',
      '10.2 / 43.7',
      fmt(r1.engine.putSequentialUs, 1),
      fmt(r3.engine.putSequentialUs, 1),
    ],
    [
      'GET through the engine, 1000 in flight (µs/op)',
      '–',
      fmt(r1.engine.getPipelinedUs, 2),
      fmt(r3.engine.getPipelinedUs, 2),
    ],
    [
      'PUT through the engine, 1000 in flight (µs/op)',
      '–',
      fmt(r1.engine.putPipelinedUs, 2),
      fmt(r3.engine.putPipelinedUs, 2),
    ],
    [
      '10,000 GETs / 100 concurrent, a connection each (s)',
      '3.9 / 4.6',
      fmt(r1.close.seconds, 3),
      fmt(r3.close.seconds, 3),
    ],
    [
      '  mean time per request, as ab reports it (ms)',
      '39 / 46',
      fmt(r1.close.meanMs, 1),
      fmt(r3.close.meanMs, 1),
    ],
    [
      'BATCH PUT 10,000 items over HTTP (s)',
      '– / 1.26',
      fmt(r1.batch[10_000]!, 3),
      fmt(r3.batch[10_000]!, 3),
    ],
    ['BATCH PUT 100,000 items (s)', '– / 5.92', fmt(r1.batch[100_000]!, 3), fmt(r3.batch[100_000]!, 3)],
    ['BATCH PUT 1,000,000 items (s)', '– / 54.1', fmt(r1.batch[1_000_000]!, 3), fmt(r3.batch[1_000_000]!, 3)],
    [
      'Memory per node, 1M records (store + JS heap)',
      '80 MB / 27 MB',
      perNode(r1.memory),
      perNode(r3.memory),
    ],
    [
      '  process RSS growth for 1M records, all nodes',
      '314 MB (original, 1M load)',
      mb(r1.memory.rssLoadedBytes - r1.memory.rssEmptyBytes),
      mb(r3.memory.rssLoadedBytes - r3.memory.rssEmptyBytes),
    ],
    [
      '  bytes per record: RSS growth / store',
      '≈243 RSS',
      `${r1.memory.rssBytesPerRecord.toFixed(0)} / ${r1.memory.storeBytesPerRecord.toFixed(0)}`,
      `${r3.memory.rssBytesPerRecord.toFixed(0)} / ${r3.memory.storeBytesPerRecord.toFixed(0)}`,
    ],
    ['Sustained GET, 100 keep-alive connections (req/s)', '–', krps(r1.load.get), krps(r3.load.get)],
    [
      '  GET latency p50 / p99 / p99.9 (ms)',
      '–',
      `${r1.load.getP50.median} / ${r1.load.getP99.median} / ${r1.load.getP999.median}`,
      `${r3.load.getP50.median} / ${r3.load.getP99.median} / ${r3.load.getP999.median}`,
    ],
    ['Sustained PUT, 100 keep-alive connections (req/s)', '–', krps(r1.load.put), krps(r3.load.put)],
    [
      '  PUT latency p50 / p99 / p99.9 (ms)',
      '–',
      `${r1.load.putP50.median} / ${r1.load.putP99.median} / ${r1.load.putP999.median}`,
      `${r3.load.putP50.median} / ${r3.load.putP99.median} / ${r3.load.putP999.median}`,
    ],
    ['Bare uWS answering a constant, same load (req/s)', '–', krps(r1.load.bareGet), krps(r3.load.bareGet)],
    ['GET ÷ bare uWS ceiling, pair by pair', '–', fmt(r1.load.getVsCeiling, 3), fmt(r3.load.getVsCeiling, 3)],
    ['Ring balance, 100k random keys (max/mean)', '–', r1.ringBalance.toFixed(4), r3.ringBalance.toFixed(4)],
  ];
  const head: [string, string, string, string] = [
    'figure',
    'original (published, single / distributed)',
    '--nodes 1',
    '--nodes 3',
  ];
  const line = (r: string[]) => `| ${r.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

function peerLines(peers: Record<string, PeerResult>, r3: NodeResults): string[] {
  const lines: string[] = [];
  for (const [name, result] of Object.entries(peers)) {
    if ('skipped' in result) {
      lines.push(`- ${name}: skipped (${result.skipped})`);
      continue;
    }
    const parts = Object.entries(result).map(([k, v]) =>
      Number.isInteger(v) ? `${k} ${v as number}` : `${k} ${(v as number).toFixed(3)}`,
    );
    if (name === 'redis') {
      parts.push(
        `ours ÷ theirs, 1M load time: ${(r3.batch[1_000_000]!.median / (result.loadSeconds as number)).toFixed(2)}`,
      );
      parts.push(
        `bytes/record ours ÷ theirs: ${(r3.memory.rssBytesPerRecord / (result.rssBytesPerRecord as number)).toFixed(2)}`,
      );
    }
    if (name === 'webdis')
      parts.push(`ours ÷ theirs, GET req/s: ${(r3.load.get.median / (result.getRps as number)).toFixed(2)}`);
    if (name === 'original')
      parts.push(
        `their time ÷ ours: ${((result.closeLoadSeconds as number) / r3.close.seconds.median).toFixed(1)}`,
      );
    lines.push(`- ${name}: ${parts.join(', ')}`);
  }
  return lines;
}

async function main(): Promise<void> {
  let generator: Generator = 'autocannon';
  if (args.wrk) {
    if (!(await hasWrk())) throw new Error('--wrk: wrk is not installed (Debian package "wrk")');
    generator = 'wrk';
  }
  const meta = {
    ...runContext(),
    generator,
    runs: RUNS,
    seconds: SECONDS,
    placement: PLACEMENT,
    command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
  };
  const r1 = await forNodes(1, generator);
  const r3 = await forNodes(3, generator);
  const replication = await measureReplication(
    { runs: RUNS, seconds: SECONDS, warmup: 1, keys: 100_000, valueBudget: 256 << 20, placement: PLACEMENT },
    args.quick ? 100_000 : MEMORY_RECORDS,
    RUNS,
    (line) => console.error(line),
  );
  const cellOptions = {
    runs: RUNS,
    seconds: SECONDS,
    warmup: 1,
    keys: 100_000,
    valueBudget: 256 << 20,
    placement: PLACEMENT,
  };
  const frontEnds = (await hasWrk())
    ? await measureFrontEnds(cellOptions, RUNS, (line) => console.error(line))
    : { skipped: 'wrk is not installed (Debian package "wrk")' };
  const storageRecords = args.quick ? 100_000 : MEMORY_RECORDS;
  const storage = await measureStorage(storageRecords, RUNS, SECONDS, PLACEMENT, (line) =>
    console.error(line),
  );
  const peers: Record<string, PeerResult> = {};
  if (args.compare) {
    console.error('… peers');
    peers.redis = await redis(MEMORY_RECORDS).catch((e: Error) => ({ skipped: e.message }));
    peers.webdis = await webdis(generator, SECONDS).catch((e: Error) => ({ skipped: e.message }));
    peers.original = await original(args.original, Number(args['original-port'])).catch((e: Error) => ({
      skipped: e.message,
    }));
  }
  const text = [
    `ThunderDB bench, ${meta.date}, commit ${meta.commit}, ${meta.cores} cores (${meta.cpu}), Node ${meta.node}`,
    `load generator ${generator}; each figure the median of ${RUNS} run(s), (min–max); ${SECONDS} s sustained loads`,
    `sustained loads and memory: ${describePlacement(PLACEMENT)}` +
      (generator === 'autocannon' ? ' (autocannon runs inside the bench process, which is not placed)' : ''),
    ...(generator === 'autocannon'
      ? [
          'note: one autocannon thread saturates before uWS does on 2 cores, so sustained figures and the ceiling ratio are bounded by the generator here; --wrk measures the server',
        ]
      : []),
    '',
    table(r1, r3),
    '',
    'Replication (3 nodes; wrk, random keys; see npm run bench:replication):',
    ...replicationLines(replication),
    '',
    'Storage (3 nodes, 3 replicas; ratios to memory in the same round; see npm run bench:storage):',
    ...storageLines(storage, storageRecords),
    '',
    'Front ends: uWS and node:http, each beside a bare server of its kind (wrk; see npm run bench:front-ends):',
    ...('skipped' in frontEnds ? [`skipped: ${frontEnds.skipped}`] : frontEndLines(frontEnds)),
    ...(args.compare ? ['', 'Peers, same machine, same run:', ...peerLines(peers, r3)] : []),
  ].join('\n');
  console.log(text);
  await mkdir(OUT, { recursive: true });
  await writeFile(
    `${OUT}latest.json`,
    JSON.stringify({ meta, nodes1: r1, nodes3: r3, replication, storage, frontEnds, peers }, null, 2) + '\n',
  );
  await writeFile(`${OUT}latest.md`, text + '\n');
  console.error(`written: bench/results/latest.json, bench/results/latest.md`);
  process.exit(0);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
