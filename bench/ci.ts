/**
 * `npm run bench:ci`: the performance-regression check CI runs after the tests. A short run
 * that measures ratios (each against something measured in the same run, since absolute
 * figures drift on shared machines) and fails when one is worse than its limit in
 * bench/baseline.json. A limit is the committed baseline less a stated margin, wide enough
 * that noise alone does not fail CI.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { mapInsertRate, uuidFile } from './lib/data.js';
import { hasWrk } from './lib/load-generator.js';
import { batchLoad, memory, throughput } from './lib/scenarios.js';
import { spread } from './lib/stats.js';

interface Check {
  /** What the ratio is, for the printout. */
  what: string;
  /** higher: the ratio must stay above its floor; lower: below its ceiling. */
  better: 'higher' | 'lower';
  /** The value measured when the baseline was set. */
  baseline: number;
  /** Allowed worsening, as a share of the baseline (0.25 = 25%). */
  margin: number;
}

const BASELINE = fileURLToPath(new URL('../../bench/baseline.json', import.meta.url));
const RESULTS = fileURLToPath(new URL('../../bench/results/', import.meta.url));
const BATCH = 100_000;
const MEMORY_RECORDS = 1_000_000;

async function measure(): Promise<Record<string, number>> {
  // wrk, not autocannon: one autocannon thread saturates before uWS does on two cores, which
  // would pin the ratio near 1 whatever the server did.
  const load = await throughput('wrk', 3, 5, 3, false);
  const file = await uuidFile(BATCH);
  const loadSeconds = await batchLoad(3, BATCH, 3);
  const mapRates = spread([await mapInsertRate(file), await mapInsertRate(file), await mapInsertRate(file)]);
  // The median of three: now and then the garbage collector has not yet returned a
  // loader's garbage when the second reading is taken, and one reading runs ~12% high.
  const perRecord = spread([
    (await memory(3, MEMORY_RECORDS)).rssBytesPerRecord,
    (await memory(3, MEMORY_RECORDS)).rssBytesPerRecord,
    (await memory(3, MEMORY_RECORDS)).rssBytesPerRecord,
  ]);
  return {
    get_vs_ceiling: load.getVsCeiling.median,
    batch_vs_map: BATCH / loadSeconds.median / mapRates.median,
    rss_bytes_per_record: perRecord.median,
  };
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
  const { checks } = JSON.parse(await readFile(BASELINE, 'utf8')) as { checks: Record<string, Check> };
  const measured = await measure();
  let failed = 0;
  const rows: string[] = [];
  for (const [name, check] of Object.entries(checks)) {
    const value = measured[name];
    if (value === undefined) throw new Error(`baseline.json names ${name}, which bench:ci does not measure`);
    const limit = limitOf(check);
    const ok = check.better === 'higher' ? value >= limit : value <= limit;
    if (!ok) failed++;
    const bound = check.better === 'higher' ? `floor ${limit.toFixed(3)}` : `ceiling ${limit.toFixed(1)}`;
    rows.push(
      `${ok ? 'ok  ' : 'FAIL'} ${name.padEnd(22)} ${value.toFixed(3).padStart(10)}  ${bound.padEnd(16)} ` +
        `(baseline ${check.baseline}, margin ${(check.margin * 100).toFixed(0)}%)  ${check.what}`,
    );
  }
  console.log(rows.join('\n'));
  await mkdir(RESULTS, { recursive: true });
  await writeFile(
    `${RESULTS}ci.json`,
    JSON.stringify({ date: new Date().toISOString(), measured }, null, 2) + '\n',
  );
  if (failed > 0) {
    console.log(`bench:ci: ${failed} ratio(s) past their limit`);
    process.exit(1);
  }
  console.log('bench:ci: every ratio within its limit');
  process.exit(0);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
