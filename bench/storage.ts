/**
 * `npm run bench:storage`: what each storage backend costs (issues 10 and 21): GET and PUT
 * throughput on random keys and a 1 M-pair load with `--storage log` under each fsync policy,
 * with the values in Redis (one server, and a three-master Redis Cluster) and in memcached
 * (all started here), as ratios to memory measured in the same round, and how long a loaded
 * cluster takes to come back after a clean stop; then ours with the values in Redis beside
 * Webdis + Redis (when Webdis is installed). `npm run bench` runs the backends' section after
 * its tables.
 *
 *   npm run bench:storage -- [--records 1000000] [--rounds 1] [--seconds 3] [--backends memcached,Cluster]
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runContext } from './lib/machine.js';
import { describePlacement, PLACEMENT_OPTIONS, placementFromArgs } from './lib/placement.js';
import { measureAgainstWebdis, measureStorage, storageLines, webdisLines } from './lib/storage.js';

const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: '1000000' },
    rounds: { type: 'string', default: '1' },
    /** Backends to measure besides memory, by part of their names (e.g. memcached,Cluster); default all. */
    backends: { type: 'string', default: '' },
    seconds: { type: 'string', default: '3' },
    ...PLACEMENT_OPTIONS,
  },
});
const OUT = fileURLToPath(new URL('../../bench/results/', import.meta.url));

async function main(): Promise<void> {
  const meta = runContext();
  const placement = placementFromArgs(args);
  const records = Number(args.records);
  const results = await measureStorage(
    records,
    Number(args.rounds),
    Number(args.seconds),
    placement,
    (line) => console.error(line),
    args.backends.split(',').filter((part) => part !== ''),
  );
  const webdis = await measureAgainstWebdis(
    Math.min(records, 100_000),
    Math.max(3, Number(args.rounds)),
    Number(args.seconds),
    placement,
    (line) => console.error(line),
  );
  const text = [
    `ThunderDB bench:storage, ${meta.date}, commit ${meta.commit}, ${meta.cores} cores (${meta.cpu}), Node ${meta.node}`,
    `3 nodes, 3 replicas; PUT: wrk, 100 connections, ${args.seconds} s, random keys of ${records.toLocaleString('en-US')} uuids; ${args.rounds} round(s), memory first in each; ${describePlacement(placement)}`,
    '',
    ...storageLines(results, records),
    '',
    `Against Webdis 0.1 (one thread) + Redis, ${Math.min(records, 100_000).toLocaleString('en-US')} uuid pairs loaded into each, random keys, ${Math.max(3, Number(args.rounds))} alternating rounds of ${args.seconds} s; ours: 3 nodes, one replica:`,
    '',
    ...webdisLines(webdis),
  ].join('\n');
  console.log(text);
  await mkdir(OUT, { recursive: true });
  await writeFile(`${OUT}storage.json`, JSON.stringify({ meta, results, webdis }, null, 2) + '\n');
  await writeFile(`${OUT}storage.md`, text + '\n');
  process.exit(0);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
