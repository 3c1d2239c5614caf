/**
 * `npm run bench:ab`: this build against another commit, cell by cell, both clusters running
 * at once and measured in alternating runs (bench/lib/against.ts): what bench:ci gates on,
 * for any commit and any cell. Use it to show the A/B when the reference moves forward, or
 * to bisect a regression.
 *
 *   npm run bench:ab -- --against dcbdf06 --cells GET/c100/64KiB/n3,GET/c1/100B/n3 --rounds 6
 *   npm run bench:ab -- --against-cli /path/to/other/dist/src/cli.js --cells GET/c100/100B/n3/r3
 *
 * Options (defaults): --against COMMIT (bench/reference.json's commit; built outside the
 * clone) or --against-cli PATH  --cells NAME,... (GET/c100/100B/n3)  --rounds 6
 * --seconds 2  --warmup 1  --keys 100000  --pin, --sessions (bench/lib/placement.ts).
 */
import { parseArgs } from 'node:util';
import { measureAgainst, type AgainstResult } from './lib/against.js';
import { parseCellId, type Cell } from './lib/cells.js';
import { describePlacement, PLACEMENT_OPTIONS, placementFromArgs } from './lib/placement.js';
import { buildCommit, readReference } from './lib/reference.js';
import { table } from './lib/table.js';

const { values: args } = parseArgs({
  options: {
    against: { type: 'string' },
    'against-cli': { type: 'string' },
    cells: { type: 'string', default: 'GET/c100/100B/n3' },
    rounds: { type: 'string', default: '6' },
    seconds: { type: 'string', default: '2' },
    warmup: { type: 'string', default: '1' },
    keys: { type: 'string', default: '100000' },
    ...PLACEMENT_OPTIONS,
  },
});

const positive = (name: string, text: string): number => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1)
    throw new RangeError(`--${name} must be a whole number ≥ 1, not ${JSON.stringify(text)}`);
  return n;
};

async function main(): Promise<void> {
  let cli = args['against-cli'];
  let against = cli ?? '';
  if (cli === undefined) {
    against = args.against ?? (await readReference()).commit;
    const built = buildCommit(against, console.log);
    if (built instanceof Error) throw built;
    cli = built;
  }
  const cells = args.cells.split(',').map(parseCellId);
  const rounds = positive('rounds', args.rounds);
  const options = {
    runs: rounds,
    seconds: positive('seconds', args.seconds),
    warmup: Number(args.warmup),
    keys: positive('keys', args.keys),
    valueBudget: 256 << 20,
    placement: placementFromArgs(args),
  };
  console.log(
    `bench:ab against ${against}: ${cells.length} cell(s), ${rounds} rounds of ${options.seconds} s`,
  );
  console.log(describePlacement(options.placement));
  // Cells of one topology and value size share a pair of clusters.
  const groups = new Map<string, Cell[]>();
  for (const cell of cells) {
    const key = `${cell.nodes}/${cell.replicas}/${cell.valueBytes}`;
    groups.set(key, [...(groups.get(key) ?? []), cell]);
  }
  const results: AgainstResult[] = [];
  for (const group of groups.values()) {
    const { nodes, replicas, valueBytes } = group[0]!;
    results.push(...(await measureAgainst({ nodes, replicas }, valueBytes, group, options, cli, rounds)));
  }
  const fixed = (n: number) => n.toFixed(3);
  console.log(
    table(
      [
        'cell',
        'ours ÷ reference req/s (min–max)',
        'by round',
        'p50 ours ÷ reference',
        'ours ÷ bare req/s',
        'reference ÷ bare req/s',
        'p50 ours / reference / bare ms',
      ],
      results.map((r) => [
        r.id,
        `${fixed(r.rps.median)} (${fixed(r.rps.min)}–${fixed(r.rps.max)})`,
        r.rps.runs.map(fixed).join(' '),
        `${fixed(r.p50.median)} (${fixed(r.p50.min)}–${fixed(r.p50.max)})`,
        fixed(r.ours.rps.median / r.bareRps),
        fixed(r.reference.rps.median / r.bareRps),
        `${fixed(r.ours.p50.median)} / ${fixed(r.reference.p50.median)} / ${fixed(r.bareP50)}`,
      ]),
    ),
  );
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
