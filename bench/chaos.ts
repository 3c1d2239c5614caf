/**
 * `npm run bench:chaos`: the racing-operations fuzzer (support/chaos.ts) for longer than the
 * test suite runs it: many seeds, more steps. Prints every parameter first and, for each
 * failing seed, what failed and the command that runs it again.
 *
 *   npm run bench:chaos -- [--seed N] [--seeds 20 (1 with --seed)] [--steps 400] [--mode deterministic|threads] [--verbose]
 */
import { parseArgs } from 'node:util';
import { describeFailures } from '../support/chaos.js';
import { runChaos } from '../support/chaos-targets.js';
import { newSeed } from '../src/time/rng.js';

const { values: args } = parseArgs({
  options: {
    seed: { type: 'string' },
    seeds: { type: 'string' },
    steps: { type: 'string', default: '400' },
    mode: { type: 'string', default: 'deterministic' },
    nodes: { type: 'string', default: '4' },
    verbose: { type: 'boolean', default: false },
  },
});
const mode = args.mode === 'threads' ? 'threads' : 'deterministic';
if (args.mode !== mode) throw new RangeError(`--mode must be deterministic or threads, got ${args.mode}`);
const first = args.seed === undefined ? newSeed() : Number(args.seed);
// One seed when a seed is named (to run it again), else a sweep.
const seeds = Number(args.seeds ?? (args.seed === undefined ? 20 : 1));
const steps = Number(args.steps);
const nodes = Number(args.nodes);
console.log(JSON.stringify({ mode, firstSeed: first, seeds, steps, nodes }));

let failed = 0;
for (let seed = first; seed < first + seeds; seed++) {
  const started = performance.now();
  const began = performance.now();
  const log = args.verbose
    ? (line: string) => console.log(`${((performance.now() - began) / 1000).toFixed(2)}s ${line}`)
    : undefined;
  const { report, hash } = await runChaos({ seed, steps, mode, nodes, ...(log ? { log } : {}) });
  const seconds = (performance.now() - started) / 1000;
  console.log(
    JSON.stringify({
      seed,
      ok: report.failures.length === 0,
      seconds: Number(seconds.toFixed(1)),
      writes: report.writes,
      outcomes: report.outcomes,
      ...(hash === null ? {} : { hash }),
    }),
  );
  if (report.failures.length > 0) {
    failed++;
    console.log(describeFailures(report, mode));
  }
}
console.log(`${seeds - failed} of ${seeds} seeds held`);
process.exitCode = failed === 0 ? 0 : 1;
