/**
 * `npm run bench:instructions`: instructions per GET of this build and of the reference build
 * (bench/reference.json), counted by callgrind (bench/lib/instructions.ts), alternating,
 * `--runs` times each. A run's figure is its median window's instructions per GET less GC
 * and optimizing compiles ("own"; with them for information). Prints each build's
 * min/median/max and spread, and ours ÷ reference.
 * Needs valgrind. Options: `--runs` (default 5), `--gets`, `--warmup`, `--node-flags`
 * (replaces the default flags; space-separated), `--reference-cli` (another build's cli.js),
 * `--bare` (also the bare uWS server of bench/bare-uws.ts: what HTTP alone costs per GET).
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  BARE_UWS,
  countGetInstructions,
  INSTRUCTION_DEFAULTS,
  type InstructionOptions,
} from './lib/instructions.js';
import { buildCommit, readReference } from './lib/reference.js';
import { spread, type Spread } from './lib/stats.js';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    gets: { type: 'string' },
    warmup: { type: 'string' },
    'node-flags': { type: 'string' },
    'reference-cli': { type: 'string' },
    bare: { type: 'boolean', default: false },
  },
});

const OURS = fileURLToPath(new URL('../src/cli.js', import.meta.url));

const options: Partial<InstructionOptions> = {
  ...(args.gets === undefined ? {} : { gets: Number(args.gets) }),
  ...(args.warmup === undefined ? {} : { warmup: Number(args.warmup) }),
  ...(args['node-flags'] === undefined ? {} : { nodeFlags: args['node-flags'].split(' ').filter(Boolean) }),
};

function referenceCli(): Promise<string> {
  if (args['reference-cli'] !== undefined) return Promise.resolve(args['reference-cli']);
  return readReference().then((reference) => {
    const cli = buildCommit(reference.commit, (line) => console.log(line));
    if (cli instanceof Error) throw cli;
    return cli;
  });
}

function describe(name: string, s: Spread): string {
  const spreadPct = ((s.max - s.min) / s.median) * 100;
  return `${name}: median ${Math.round(s.median)} instructions per GET (min ${Math.round(s.min)}, max ${Math.round(s.max)}, spread ${spreadPct.toFixed(2)} %)`;
}

const reference = await referenceCli();
const settings = { ...INSTRUCTION_DEFAULTS, ...options };
console.log(
  `callgrind: ${settings.windows} windows of ${settings.gets} GETs per cluster, after ` +
    `${settings.warmup + settings.sequentialWarmup + settings.instrumentedWarmup} of warm-up; ` +
    `${settings.keys} keys of ${settings.valueBytes} B, ${settings.nodes} nodes, ${settings.replicas} replica(s); ` +
    `node flags: ${settings.nodeFlags.join(' ') || '(none)'}`,
);
const runs = Number(args.runs);
const builds = [
  { name: 'ours', cli: OURS, own: [] as number[], total: [] as number[] },
  { name: 'reference', cli: reference, own: [] as number[], total: [] as number[] },
  ...(args.bare ? [{ name: 'bare uWS', cli: BARE_UWS, own: [] as number[], total: [] as number[] }] : []),
];
const median = (xs: number[]) => spread(xs).median;
for (let i = 0; i < runs; i++) {
  // Alternating, so a drift of the machine (or of valgrind's cache of translations) falls on both.
  for (const build of builds) {
    const { perGet, windows, seconds } = await countGetInstructions(build.cli, options);
    build.own.push(perGet);
    build.total.push(median(windows.map((w) => w.total)));
    const each = windows.map((w) => `${Math.round(w.own)} (${Math.round(w.total)})`).join(', ');
    console.log(
      `  run ${i + 1} ${build.name}: ${Math.round(perGet)} per GET; windows ${each}; ${seconds.toFixed(1)} s`,
    );
  }
}
const [ours, theirs] = builds as [(typeof builds)[0], (typeof builds)[0]];
for (const build of builds) {
  console.log(describe(`${build.name}, own`, spread(build.own)));
  console.log(describe(`${build.name}, with GC and compiles`, spread(build.total)));
}
console.log(`ours ÷ reference, own: ${(median(ours.own) / median(theirs.own)).toFixed(4)}`);
console.log(
  `ours ÷ reference, with GC and compiles: ${(median(ours.total) / median(theirs.total)).toFixed(4)}`,
);
const bare = builds[2];
if (bare !== undefined) {
  // The issue-20 figure "server CPU per GET ÷ bare's", as instructions: every thread counted.
  console.log(`ours ÷ bare uWS, own: ${(median(ours.own) / median(bare.own)).toFixed(4)}`);
  console.log(`reference ÷ bare uWS, own: ${(median(theirs.own) / median(bare.own)).toFixed(4)}`);
}
