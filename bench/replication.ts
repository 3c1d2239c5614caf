/**
 * `npm run bench:replication`: what replication costs and what membership changes move
 * (issue 8): random-key GET and PUT with 1 and 3 replicas beside bare uWS, a 1 M-pair load
 * with 3 replicas and its memory, joins 3 → 4 and leaves 4 → 3 while wrk reads, and the
 * refill of a crashed node. `npm run bench` runs the same section after its tables.
 *
 *   npm run bench:replication -- [--records 1000000] [--runs 3] [--seconds 3]
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runContext } from './lib/machine.js';
import { describePlacement, PLACEMENT_OPTIONS, placementFromArgs } from './lib/placement.js';
import { measureReplication, replicationLines } from './lib/replication.js';

const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '3' },
    ...PLACEMENT_OPTIONS,
  },
});
const OUT = fileURLToPath(new URL('../../bench/results/', import.meta.url));

async function main(): Promise<void> {
  const meta = runContext();
  const placement = placementFromArgs(args);
  const runs = Number(args.runs);
  const options = {
    runs,
    seconds: Number(args.seconds),
    warmup: 1,
    keys: 100_000,
    valueBudget: 256 << 20,
    placement,
  };
  const results = await measureReplication(options, Number(args.records), runs, (line) =>
    console.error(line),
  );
  const text = [
    `ThunderDB bench:replication, ${meta.date}, commit ${meta.commit}, ${meta.cores} cores (${meta.cpu}), Node ${meta.node}`,
    `cells: ${runs} pair(s) of ${options.seconds} s wrk runs, bare then ours, random keys of 100,000 uuids; ${describePlacement(placement)}`,
    '',
    ...replicationLines(results),
  ].join('\n');
  console.log(text);
  await mkdir(OUT, { recursive: true });
  await writeFile(`${OUT}replication.json`, JSON.stringify({ meta, results }, null, 2) + '\n');
  await writeFile(`${OUT}replication.md`, text + '\n');
  process.exit(0);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
