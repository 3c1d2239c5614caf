/**
 * `npm run bench:front-ends`: the two HTTP front ends side by side, each against the bare
 * server of its own kind, and the original's `ab -n 10000 -c 100` (bench/lib/front-ends.ts).
 * Prints a table and writes bench/results/front-ends.json. `--runs`, `--seconds` as bench:ci.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { frontEndLines, measureFrontEnds } from './lib/front-ends.js';
import { hasWrk } from './lib/load-generator.js';
import { runContext } from './lib/machine.js';
import { describePlacement, PLACEMENT_OPTIONS, placementFromArgs } from './lib/placement.js';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '2' },
    ...PLACEMENT_OPTIONS,
  },
});
const OUT = fileURLToPath(new URL('../../bench/results/', import.meta.url));

async function main(): Promise<void> {
  if (!(await hasWrk())) throw new Error('bench:front-ends needs wrk (Debian package "wrk")');
  const placement = placementFromArgs(args);
  const runs = Number(args.runs);
  const meta = { ...runContext(), runs, seconds: Number(args.seconds), placement };
  const result = await measureFrontEnds(
    { runs, seconds: meta.seconds, warmup: 1, keys: 100_000, valueBudget: 256 << 20, placement },
    runs,
    (line) => console.error(line),
  );
  console.log(
    [
      `ThunderDB front ends, ${meta.date}, commit ${meta.commit}, ${meta.cores} cores, Node ${meta.node}`,
      `wrk, ${runs} pairs of ${meta.seconds} s runs per cell after 1 s of warm-up; ${describePlacement(placement)}`,
      '',
      ...frontEndLines(result),
    ].join('\n'),
  );
  await mkdir(OUT, { recursive: true });
  await writeFile(`${OUT}front-ends.json`, JSON.stringify({ meta, ...result }, null, 2) + '\n');
  process.exit(0);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
