/**
 * `npm run bench:ci`: the performance-regression check CI runs after the tests. It gates on
 * an A/B: this build against the pinned reference build of bench/reference.json (built
 * outside the clone), both clusters running at once and measured in alternating runs
 * (bench/lib/against.ts), each main cell's median quotient over its rounds held within 10 %
 * of the reference. Why not ratios to bare uWS, as before: on these shared cores they drifted
 * 13-57 % between windows (the landed build itself failed its own ceiling two weeks later),
 * so their margins had widened to 25-50 %; a quotient of two builds run back to back spreads
 * a few per cent (bench/RESULTS.md, "The regression gate").
 *
 * The cells are the matrix's of the same names (bench/lib/cells.ts): GET and PUT of 100 B
 * values at 100 connections and GET of 64 KiB with one replica (the data path's own cost),
 * GET with three replicas (R = W = 2), and p50 latency at one connection. Beside them the
 * batch load (A/B too) and RSS per record (absolute: memory does not drift with the host).
 * Every run appends a line to bench/history.jsonl (`npm run bench:history` draws it).
 * Placement: `--pin`, `--sessions`, with the matrix's defaults (bench/lib/placement.ts).
 */
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { measureAgainst, mergeAgainst, type AgainstResult } from './lib/against.js';
import { parseCellId, type Cell, type CellOptions } from './lib/cells.js';
import { historyLine } from './lib/history.js';
import { countGetInstructions, hasValgrind } from './lib/instructions.js';
import { hasWrk } from './lib/load-generator.js';
import { describePlacement, PLACEMENT_OPTIONS, placementFromArgs } from './lib/placement.js';
import { buildCommit, readReference } from './lib/reference.js';
import { batchLoad, memory } from './lib/scenarios.js';
import { spread } from './lib/stats.js';

const { values: args } = parseArgs({ options: { ...PLACEMENT_OPTIONS } });

interface Check {
  /** What the figure is, for the printout. */
  what: string;
  /** higher: the figure must stay above its floor; lower: below its ceiling. */
  better: 'higher' | 'lower';
  /** The value the limit is set from: 1 for a quotient against the reference. */
  baseline: number;
  /** Allowed worsening, as a share of the baseline (0.1 = 10 %). */
  margin: number;
}

const BASELINE = fileURLToPath(new URL('../../bench/baseline.json', import.meta.url));
const RESULTS = fileURLToPath(new URL('../../bench/results/', import.meta.url));
const HISTORY = fileURLToPath(new URL('../../bench/history.jsonl', import.meta.url));
const OURS = fileURLToPath(new URL('../src/cli.js', import.meta.url));
/**
 * The batch load: 300,000 pairs, five rounds. 100,000 pairs in three rounds (before
 * 2026-12-07) took 0.4-0.6 s a load, and one round's quotient ranged 0.78-1.12 on unchanged
 * code (10 rounds against 392ccfd: median 0.980), so a median of three fell under its floor
 * by chance (0.895 in the fresh-clone CI of 643d66f, whose code read 0.950 a run before).
 */
const BATCH = 300_000;
const BATCH_ROUNDS = 5;
const MEMORY_RECORDS = 1_000_000;
/**
 * Alternating rounds per cell and pair of clusters (ours then the reference, then the other
 * way round), each cell measured on two pairs: most of the spread between runs lies in the
 * pair of processes (which core each thread settles on, the heap each grew), not in the
 * rounds: one run's GET c100 read 0.88-0.93 in four rounds of seven, the next runs' 0.97-1.00.
 */
const ROUNDS = 4;
const PAIRS = 2;
/** A cell's runs: 2 s each, after 1 s of unmeasured load on each build. */
const CELLS: CellOptions = {
  runs: ROUNDS,
  seconds: 2,
  warmup: 1,
  keys: 100_000,
  valueBudget: 256 << 20,
  placement: placementFromArgs(args),
};

/**
 * The measured cells, grouped by the pair of clusters they share. GET/c100/64KiB/n3 is
 * measured for the history but not gated: against the reference it reads 0.53-0.68 from one
 * run to the next (each run's rounds agree within a few per cent, so the spread lies in the
 * pair of processes, not in the rounds), a regression of issue 17's work not yet found.
 */
const GROUPS: { cells: Cell[]; rounds: number; pairs: number }[] = [
  { ids: ['GET/c100/100B/n3', 'PUT/c100/100B/n3'], rounds: ROUNDS, pairs: PAIRS },
  // p50 at one connection: this build read 1.02-1.09 of the reference in four runs, round
  // quotients 0.82-1.27; more rounds keep a 10 % ceiling clear of that spread.
  { ids: ['GET/c1/100B/n3'], rounds: 6, pairs: PAIRS },
  // Not gated: one pair (preloading 256 MiB of values twice more would cost half a minute).
  { ids: ['GET/c100/64KiB/n3'], rounds: 5, pairs: 1 },
  { ids: ['GET/c100/100B/n3/r3'], rounds: ROUNDS, pairs: PAIRS },
].map(({ ids, rounds, pairs }) => ({ cells: ids.map(parseCellId), rounds, pairs }));

/** What bench:ci measures: each name needs a limit in baseline.json. */
const MEASURED = [
  'get_c100_vs_reference',
  'put_c100_vs_reference',
  'get_r3_vs_reference',
  'p50_c1_vs_reference',
  'batch_vs_reference',
  'rss_bytes_per_record',
  'get_instructions_vs_reference',
] as const;
type Measured = Record<(typeof MEASURED)[number], number>;

/** Callgrind runs per build, alternating: each counts its median window of 2,000 GETs. */
const INSTRUCTION_RUNS = 2;

/**
 * Instructions per GET (GC and optimizing compiles left out: bench/lib/instructions.ts),
 * ours and the reference's, by run. Counted, not timed: the same whatever else the machine
 * does (0.1-0.5 % spread between runs), so its limit can be tighter than a timed cell's.
 */
async function instructions(cli: string): Promise<number[][]> {
  const runs: number[][] = [];
  for (let run = 0; run < INSTRUCTION_RUNS; run++) {
    const ours = (await countGetInstructions(OURS)).perGet;
    runs.push([ours, (await countGetInstructions(cli)).perGet]);
  }
  return runs;
}

/** Measures every check's figure, and the cells behind them. */
async function measure(
  cli: string,
): Promise<{ measured: Measured; cells: AgainstResult[]; batch: number[][]; instructions: number[][] }> {
  const cells: AgainstResult[] = [];
  for (const { cells: group, rounds, pairs } of GROUPS) {
    const { nodes, replicas, valueBytes } = group[0]!;
    let results = await measureAgainst({ nodes, replicas }, valueBytes, group, CELLS, cli, rounds);
    for (let pair = 1; pair < pairs; pair++) {
      const more = await measureAgainst({ nodes, replicas }, valueBytes, group, CELLS, cli, rounds);
      results = results.map((r, i) => mergeAgainst(r, more[i]!));
    }
    for (const r of results) console.log(describeCell(r));
    cells.push(...results);
  }
  const byId = (id: string) => cells.find((c) => c.id === id)!;
  // The batch load, each round a fresh cluster of each build, in alternating order.
  const batch: number[][] = [];
  for (let round = 0; round < BATCH_ROUNDS; round++) {
    const load = async (other?: string) =>
      (await batchLoad({ nodes: 3, replicas: 1 }, BATCH, 1, other)).median;
    let ours: number;
    let theirs: number;
    if (round % 2 === 0) {
      ours = await load();
      theirs = await load(cli);
    } else {
      theirs = await load(cli);
      ours = await load();
    }
    batch.push([ours, theirs]);
  }
  console.log(
    `batch load of ${BATCH.toLocaleString('en')} pairs, seconds by round (ours / reference): ${batch.map(([o, r]) => `${o!.toFixed(3)} / ${r!.toFixed(3)}`).join(', ')}`,
  );
  // The lowest of five. RSS noise is one-sided: garbage a V8 heap has not yet handed back
  // only adds. Two readings in five run 10-20% high for a few seconds after a load (until
  // V8's memory reducer shrinks a heap, anywhere from 1 to 16 s later), so a median of three
  // failed now and then on unchanged code (CI of 01b5ed5: 175.7 against a ceiling of 160.8;
  // the same code then read 175, 149, 178). A real cost per record raises every reading.
  const perRecord: number[] = [];
  for (let run = 0; run < 5; run++) {
    perRecord.push(
      (await memory({ nodes: 3, replicas: 1 }, MEMORY_RECORDS, CELLS.placement)).rssBytesPerRecord,
    );
  }
  const counted = await instructions(cli);
  console.log(
    `instructions per GET by run (ours / reference): ${counted.map(([o, r]) => `${Math.round(o!)} / ${Math.round(r!)}`).join(', ')}`,
  );
  return {
    measured: {
      get_c100_vs_reference: byId('GET/c100/100B/n3').rps.median,
      put_c100_vs_reference: byId('PUT/c100/100B/n3').rps.median,
      get_r3_vs_reference: byId('GET/c100/100B/n3/r3').rps.median,
      p50_c1_vs_reference: byId('GET/c1/100B/n3').p50.median,
      // Pairs per second, ours over the reference's: the reference's seconds over ours.
      batch_vs_reference: spread(batch.map(([ours, reference]) => reference! / ours!)).median,
      rss_bytes_per_record: Math.min(...perRecord),
      // The lowest of each build's runs: extra instructions (a late tier-up, a marking step
      // in a window) only add, as one reference run of 98,437 beside 85,110 showed (d0ade99).
      get_instructions_vs_reference:
        Math.min(...counted.map(([o]) => o!)) / Math.min(...counted.map(([, r]) => r!)),
    },
    cells,
    batch,
    instructions: counted,
  };
}

/** One line per cell: its quotients by round, and both builds against bare uWS. */
function describeCell(r: AgainstResult): string {
  const fixed = (n: number) => n.toFixed(3);
  return (
    `${r.id}: ours ÷ reference req/s ${fixed(r.rps.median)} (rounds ${r.rps.runs.map(fixed).join(' ')}), ` +
    `p50 ${fixed(r.p50.median)} (rounds ${r.p50.runs.map(fixed).join(' ')}); ` +
    `÷ bare uWS: ours ${fixed(r.ours.rps.median / r.bareRps)}, reference ${fixed(r.reference.rps.median / r.bareRps)}`
  );
}

function limitOf(check: Check): number {
  return check.better === 'higher'
    ? check.baseline * (1 - check.margin)
    : check.baseline * (1 + check.margin);
}

async function main(): Promise<void> {
  if (!(await hasWrk())) {
    throw new Error('bench:ci needs wrk (Debian package "wrk"; .ci/run installs it)');
  }
  if (!(await hasValgrind())) {
    throw new Error(
      'bench:ci needs valgrind to count instructions (Debian package "valgrind"; .ci/run installs it)',
    );
  }
  const { checks } = JSON.parse(await readFile(BASELINE, 'utf8')) as { checks: Record<string, Check> };
  for (const name of MEASURED) {
    if (!(name in checks)) throw new Error(`bench:ci measures ${name}, which baseline.json has no limit for`);
  }
  const reference = await readReference();
  const cli = buildCommit(reference.commit, console.log);
  if (cli instanceof Error) {
    throw new Error(
      `bench:ci needs the reference build ${reference.commit} (bench/reference.json): ${cli.message}`,
    );
  }
  console.log(
    `against the reference ${reference.commit.slice(0, 12)}: each cell on ${PAIRS} pairs of clusters, ${ROUNDS} alternating rounds of ${CELLS.seconds} s on each (6 for p50 at one connection)`,
  );
  console.log(describePlacement(CELLS.placement));
  const start = performance.now();
  const { measured, cells, batch, instructions: counted } = await measure(cli);
  const seconds = (performance.now() - start) / 1000;
  let failed = 0;
  const rows: string[] = [];
  for (const [name, check] of Object.entries(checks)) {
    const value = (measured as Record<string, number>)[name];
    if (value === undefined) throw new Error(`baseline.json names ${name}, which bench:ci does not measure`);
    const limit = limitOf(check);
    const ok = check.better === 'higher' ? value >= limit : value <= limit;
    if (!ok) failed++;
    const bound = check.better === 'higher' ? `floor ${limit.toFixed(3)}` : `ceiling ${limit.toFixed(3)}`;
    rows.push(
      `${ok ? 'ok  ' : 'FAIL'} ${name.padEnd(24)} ${value.toFixed(3).padStart(10)}  ${bound.padEnd(16)} ` +
        `(baseline ${check.baseline}, margin ${(check.margin * 100).toFixed(0)}%)  ${check.what}`,
    );
  }
  console.log(rows.join('\n'));
  const line = historyLine({
    reference: reference.commit,
    seconds,
    measured,
    cells,
    batch,
    instructions: counted,
  });
  await appendFile(HISTORY, JSON.stringify(line) + '\n');
  await mkdir(RESULTS, { recursive: true });
  await writeFile(
    `${RESULTS}ci.json`,
    JSON.stringify({ ...line, placement: CELLS.placement }, null, 2) + '\n',
  );
  console.log(`appended to bench/history.jsonl (npm run bench:history draws it)`);
  if (failed > 0) {
    console.log(`bench:ci: ${failed} figure(s) past their limit (${seconds.toFixed(0)} s)`);
    process.exit(1);
  }
  console.log(`bench:ci: every figure within its limit (${seconds.toFixed(0)} s)`);
  process.exit(0);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
