/**
 * `npm run bench:matrix`: the honest benchmark of issue 7. GET and PUT `/kv/{key}` on keys
 * drawn at random from 100,000 uuid keys (preloaded through `POST /kv` text batches), at 1,
 * 10 and 100 connections, with 100 B, 1 KiB, 64 KiB and 1 MiB values, on 1, 3 and 16 nodes,
 * each cell beside a bare uWS app answering the same sizes in the same run, runs interleaved
 * A B A B, with wrk (bench/wrk-random.lua). Each cell quotes ours ÷ bare pair by pair
 * (median, min–max), req/s and p50/p99 latency. Then, per node count, 1,000,000 uuid pairs
 * loaded over HTTP: the time, and RSS bytes per record. Says where every process ran
 * (bench/lib/placement.ts). Prints tables and writes bench/results/matrix.json and .md.
 *
 *   npm run bench:matrix                                   every cell, defaults below (~30 min)
 *   npm run bench:matrix -- --nodes 3 --sizes 100 --connections 100 --runs 5
 *   npm run bench:matrix -- --cells 'GET/c1/100B/*,GET/c100/64KiB/*' --sections load
 *   npm run bench:matrix -- --pin split --sessions shared   wrk and servers on separate CPUs, one session
 *
 * Options (defaults): --nodes 1,3,16  --replicas 1 (copies of each key; `1,3` measures both,
 * cells with 3 named GET/c100/100B/n3/r3)  --sizes 100,1k,64k,1m  --connections 1,10,100
 * --methods GET,PUT  --cells PATTERN,... (cell names like GET/c100/64KiB/n3, `*` for any
 * field; narrows the dimensions above)  --runs 3  --seconds 3 (whole seconds, per run)
 * --warmup 1 (seconds of unmeasured load per server before each cell; 0 for none)
 * --keys 100000  --value-budget 256m (most value bytes preloaded: large values use
 * min(keys, budget ÷ size) keys)  --sections load,memory  --memory-records 1000000
 * --pin none|split (none)  --sessions own|shared (own): see bench/lib/placement.ts.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  cellId,
  keysFor,
  matchesAny,
  measureGroup,
  parseSize,
  sizeLabel,
  type Cell,
  type CellOptions,
  type CellResult,
  type GroupResult,
  type Method,
} from './lib/cells.js';
import { wrkVersion } from './lib/load-generator.js';
import { describeTopology, type Topology } from './lib/processes.js';
import {
  describeObserved,
  describePlacement,
  PLACEMENT_OPTIONS,
  placementFromArgs,
} from './lib/placement.js';
import { memory, type Memory } from './lib/scenarios.js';
import { spread, type Spread } from './lib/stats.js';
import { table } from './lib/table.js';
import { runContext } from './lib/machine.js';

const { values: args } = parseArgs({
  options: {
    nodes: { type: 'string', default: '1,3,16' },
    replicas: { type: 'string', default: '1' },
    sizes: { type: 'string', default: '100,1k,64k,1m' },
    connections: { type: 'string', default: '1,10,100' },
    methods: { type: 'string', default: 'GET,PUT' },
    cells: { type: 'string' },
    runs: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '1' },
    keys: { type: 'string', default: '100000' },
    'value-budget': { type: 'string', default: '256m' },
    sections: { type: 'string', default: 'load,memory' },
    'memory-records': { type: 'string', default: '1000000' },
    ...PLACEMENT_OPTIONS,
  },
});

function list(name: string, text: string): string[] {
  const items = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (items.length === 0) throw new RangeError(`--${name} names nothing`);
  return items;
}

function count(name: string, text: string, min: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min)
    throw new RangeError(`--${name} must be an integer ≥ ${min}, got ${text}`);
  return n;
}

const NODES = list('nodes', args.nodes).map((n) => count('nodes', n, 1));
const REPLICAS = list('replicas', args.replicas).map((n) => count('replicas', n, 1));
/** Every (nodes, replicas) pair asked for that can exist (replicas ≤ nodes). */
const TOPOLOGIES: Topology[] = NODES.flatMap((nodes) =>
  REPLICAS.filter((replicas) => replicas <= nodes).map((replicas) => ({ nodes, replicas })),
);
const SIZES = list('sizes', args.sizes).map(parseSize);
const CONNECTIONS = list('connections', args.connections).map((c) => count('connections', c, 1));
const METHODS = list('methods', args.methods).map((m) => {
  const upper = m.toUpperCase();
  if (upper !== 'GET' && upper !== 'PUT') throw new RangeError(`--methods: GET or PUT, got ${m}`);
  return upper as Method;
});
const PATTERNS = args.cells === undefined ? null : list('cells', args.cells);
const SECTIONS = new Set(list('sections', args.sections));
for (const s of SECTIONS)
  if (s !== 'load' && s !== 'memory') throw new RangeError(`--sections: load, memory; got ${s}`);
const MEMORY_RECORDS = count('memory-records', args['memory-records'], 1);
const OPTIONS: CellOptions = {
  runs: count('runs', args.runs, 1),
  seconds: count('seconds', args.seconds, 1),
  warmup: count('warmup', args.warmup, 0),
  keys: count('keys', args.keys, 1),
  valueBudget: parseSize(args['value-budget']),
  placement: placementFromArgs(args),
};
const OUT = fileURLToPath(new URL('../../bench/results/', import.meta.url));

/** The selected cells, grouped by (topology, value size): one cluster and one bare app per group. */
function groups(): { topology: Topology; valueBytes: number; cells: Cell[] }[] {
  const out: { topology: Topology; valueBytes: number; cells: Cell[] }[] = [];
  for (const topology of TOPOLOGIES) {
    for (const valueBytes of SIZES) {
      const cells: Cell[] = [];
      for (const method of METHODS) {
        for (const connections of CONNECTIONS) {
          const cell = {
            method,
            connections,
            valueBytes,
            nodes: topology.nodes,
            replicas: topology.replicas!,
          };
          if (!PATTERNS || matchesAny(cellId(cell), PATTERNS)) cells.push(cell);
        }
      }
      if (cells.length > 0) out.push({ topology, valueBytes, cells });
    }
  }
  return out;
}

const f = (n: number, digits: number) => (Number.isFinite(n) ? n.toFixed(digits) : '–');
const range = (s: Spread, digits: number) =>
  `${f(s.median, digits)} (${f(s.min, digits)}–${f(s.max, digits)})`;
const rate = (n: number) =>
  !Number.isFinite(n) ? '–' : n >= 10_000 ? `${(n / 1000).toFixed(1)}k` : n.toFixed(0);
const mbps = (rps: number, bytes: number) => f((rps * bytes) / 1e6, 0);

function cellRow(r: CellResult): string[] {
  if (r.error) return [r.id, String(r.keys), `failed: ${r.error}`, '', '', '', '', '', ''];
  return [
    r.id,
    r.keys.toLocaleString('en-US'),
    rate(r.ours.rps.median),
    rate(r.bare.rps.median),
    range(r.ratio, 3),
    `${f(r.ours.p50.median, 3)} / ${f(r.ours.p99.median, 3)}`,
    `${f(r.bare.p50.median, 3)} / ${f(r.bare.p99.median, 3)}`,
    range(r.p50Ratio, 2),
    `${mbps(r.ours.rps.median, r.valueBytes)} / ${mbps(r.bare.rps.median, r.valueBytes)}`,
  ];
}

const CELL_HEAD = [
  'cell (op/connections/value/nodes[/replicas])',
  'keys',
  'ours req/s',
  'bare req/s',
  'ours ÷ bare req/s',
  'ours p50 / p99 ms',
  'bare p50 / p99 ms',
  'p50 ours ÷ bare',
  'value MB/s ours / bare',
];

interface MemoryResult extends Topology {
  records: number;
  loadSeconds: Spread;
  rssBytesPerRecord: Spread;
  storeBytesPerRecord: Spread;
  runs: Memory[];
}

async function memorySection(): Promise<MemoryResult[]> {
  const results: MemoryResult[] = [];
  for (const topology of TOPOLOGIES) {
    console.error(
      `… memory: ${MEMORY_RECORDS.toLocaleString('en-US')} uuid pairs over HTTP, ${describeTopology(topology)}`,
    );
    const runs: Memory[] = [];
    for (let i = 0; i < OPTIONS.runs; i++)
      runs.push(await memory(topology, MEMORY_RECORDS, OPTIONS.placement));
    results.push({
      ...topology,
      records: MEMORY_RECORDS,
      loadSeconds: spread(runs.map((r) => r.loadSeconds)),
      rssBytesPerRecord: spread(runs.map((r) => r.rssBytesPerRecord)),
      storeBytesPerRecord: spread(runs.map((r) => r.storeBytesPerRecord)),
      runs,
    });
  }
  return results;
}

/** The issue's targets, each read from the cell or memory figure it names. */
interface Target {
  target: string;
  source: string;
  value: number | null;
  met: boolean | null;
}

function targets(cells: CellResult[], mem: MemoryResult[]): Target[] {
  const cell = (id: string) => cells.find((c) => c.id === id && !c.error);
  const ratio = (target: string, id: string, floor: number): Target => {
    const v = cell(id)?.ratio.median ?? null;
    return { target, source: `${id} ours ÷ bare req/s`, value: v, met: v === null ? null : v >= floor };
  };
  const p50 = cell('GET/c1/100B/n3')?.p50Ratio.median ?? null;
  const m = (nodes: number) => mem.find((r) => r.nodes === nodes && r.replicas === 1);
  const memTarget = (
    target: string,
    nodes: number,
    read: (r: MemoryResult) => number,
    ceiling: number,
    what: string,
  ) => {
    const r = m(nodes);
    const v = r ? read(r) : null;
    return {
      target,
      source: `memory section, ${nodes} nodes: ${what}`,
      value: v,
      met: v === null ? null : v <= ceiling,
    };
  };
  return [
    ratio('GET at 100 connections ≥ 0.85', 'GET/c100/100B/n3', 0.85),
    ratio('PUT at 100 connections ≥ 0.80', 'PUT/c100/100B/n3', 0.8),
    {
      target: 'one-connection p50 ≤ 1.3× bare',
      source: 'GET/c1/100B/n3 p50 ours ÷ bare',
      value: p50,
      met: p50 === null ? null : p50 <= 1.3,
    },
    ratio('10 connections ≥ 0.70 of bare req/s', 'GET/c10/100B/n3', 0.7),
    ratio('64 KB values ≥ 0.70 (GET)', 'GET/c100/64KiB/n3', 0.7),
    ratio('64 KB values ≥ 0.70 (PUT)', 'PUT/c100/64KiB/n3', 0.7),
    ratio('1 MB values ≥ 0.50 (GET)', 'GET/c100/1MiB/n3', 0.5),
    ratio('1 MB values ≥ 0.50 (PUT)', 'PUT/c100/1MiB/n3', 0.5),
    ratio('16 nodes ≥ 0.75', 'GET/c100/100B/n16', 0.75),
    memTarget('16 nodes ≤ 150 B/record', 16, (r) => r.rssBytesPerRecord.median, 150, 'RSS growth per record'),
    memTarget(
      'RSS ≤ 100 B per record, 3 nodes',
      3,
      (r) => r.rssBytesPerRecord.median,
      100,
      'RSS growth per record',
    ),
    memTarget('1 M uuid pairs over HTTP ≤ 0.6 s', 3, (r) => r.loadSeconds.median, 0.6, 'load seconds'),
  ];
}

function estimateSeconds(selected: ReturnType<typeof groups>): number {
  const cells = selected.reduce((n, g) => n + g.cells.length, 0);
  const perCell = 2 * OPTIONS.warmup + 2 * OPTIONS.runs * OPTIONS.seconds;
  const memorySeconds = SECTIONS.has('memory') ? TOPOLOGIES.length * OPTIONS.runs * 4 : 0;
  return (SECTIONS.has('load') ? cells * perCell + selected.length * 5 : 0) + memorySeconds;
}

async function main(): Promise<void> {
  const wrk = await wrkVersion();
  if (!wrk) throw new Error('bench:matrix needs wrk (Debian package "wrk")');
  const selected = SECTIONS.has('load') ? groups() : [];
  if (SECTIONS.has('load') && selected.length === 0) throw new Error('no cell matches the options given');
  const meta = {
    ...runContext(),
    wrk,
    ...OPTIONS,
    command: `npm run bench:matrix -- ${process.argv.slice(2).join(' ')}`.trim(),
  };
  const total = selected.reduce((n, g) => n + g.cells.length, 0);
  console.error(describePlacement(OPTIONS.placement));
  console.error(
    `… ${total} cell(s) in ${selected.length} group(s); about ${Math.ceil(estimateSeconds(selected) / 60)} min`,
  );

  const results: GroupResult[] = [];
  let done = 0;
  for (const g of selected) {
    const keys = keysFor(g.valueBytes, OPTIONS).toLocaleString('en-US');
    console.error(
      `… ${describeTopology(g.topology)}, ${sizeLabel(g.valueBytes)} values on ${keys} keys: start, preload`,
    );
    results.push(
      await measureGroup(g.topology, g.valueBytes, g.cells, OPTIONS, (r) => {
        done++;
        const said = r.error
          ? `failed: ${r.error}`
          : `ours ÷ bare ${f(r.ratio.median, 3)}, p50 ÷ ${f(r.p50Ratio.median, 2)}`;
        console.error(`  [${done}/${total}] ${r.id}: ${said}`);
      }),
    );
  }
  const mem = SECTIONS.has('memory') ? await memorySection() : [];
  const cells = results.flatMap((g) => g.cells);
  const goals = targets(cells, mem);

  const lines = [
    `ThunderDB bench:matrix, ${meta.date}, commit ${meta.commit}, ${meta.cores} cores (${meta.cpu}), Node ${meta.node}, ${wrk}`,
    `each cell: ${OPTIONS.runs} pair(s) of ${OPTIONS.seconds} s runs, bare then ours (A B A B), after ${OPTIONS.warmup} s warm-up each; ` +
      `wrk -t1, keys drawn at random from ${OPTIONS.keys.toLocaleString('en-US')} uuid keys ` +
      `(fewer for large values: at most ${(OPTIONS.valueBudget / 2 ** 20).toFixed(0)} MiB of values); ratios pair by pair, median (min–max)`,
    describePlacement(OPTIONS.placement),
    ...(results.length > 0 ? [`observed: ${describeObserved(results[0]!.placed)}`] : []),
  ];
  if (cells.length > 0) lines.push('', table(CELL_HEAD, cells.map(cellRow)));
  if (mem.length > 0) {
    lines.push(
      '',
      table(
        [
          'nodes, replicas',
          `${MEMORY_RECORDS.toLocaleString('en-US')} uuid pairs over HTTP (s)`,
          'RSS growth B/record',
          'store B/record',
        ],
        mem.map((r) => [
          `${r.nodes}, ${r.replicas}`,
          range(r.loadSeconds, 3),
          range(r.rssBytesPerRecord, 0),
          range(r.storeBytesPerRecord, 0),
        ]),
      ),
    );
  }
  const measured = goals.filter((t) => t.value !== null);
  if (measured.length > 0) {
    lines.push(
      '',
      'Issue 7 targets (reference cells: 3 nodes, 100 B values, unless named):',
      table(
        ['target', 'read from', 'measured', ''],
        measured.map((t) => [t.target, t.source, f(t.value!, 3), t.met ? 'met' : 'not met']),
      ),
    );
  }
  const text = lines.join('\n');
  console.log(text);
  await mkdir(OUT, { recursive: true });
  await writeFile(
    `${OUT}matrix.json`,
    JSON.stringify({ meta, groups: results, memory: mem, targets: goals }, null, 2) + '\n',
  );
  await writeFile(`${OUT}matrix.md`, text + '\n');
  console.error('written: bench/results/matrix.json, bench/results/matrix.md');
  process.exit(0);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
