/**
 * `npm run bench:history`: draws bench/history.jsonl, one row per bench:ci run, oldest
 * first: every checked figure, then each cell's ratio to bare uWS (ours), each column with
 * a bar scaled from its lowest to its highest value, so a slow drift across commits shows
 * even while each run passed against the reference.
 *
 *   npm run bench:history                 every run
 *   npm run bench:history -- --last 20    the last 20
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { HistoryLine } from './lib/history.js';
import { table } from './lib/table.js';

const HISTORY = fileURLToPath(new URL('../../bench/history.jsonl', import.meta.url));
const BARS = '▁▂▃▄▅▆▇█';

const { values: args } = parseArgs({ options: { last: { type: 'string' } } });

/** A value drawn as one of eight bars between the column's lowest and highest. */
function bar(value: number, low: number, high: number): string {
  if (!(high > low)) return BARS[3]!;
  return BARS[Math.round(((value - low) / (high - low)) * (BARS.length - 1))]!;
}

async function main(): Promise<void> {
  const text = await readFile(HISTORY, 'utf8').catch(() => '');
  let lines = text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as HistoryLine);
  if (args.last !== undefined) lines = lines.slice(-Math.max(1, Number(args.last)));
  if (lines.length === 0) {
    console.log('bench/history.jsonl has no runs yet: npm run bench:ci adds one');
    return;
  }
  const columns: { name: string; of: (l: HistoryLine) => number | undefined }[] = [];
  const checkNames = [...new Set(lines.flatMap((l) => Object.keys(l.checks)))];
  for (const name of checkNames) columns.push({ name, of: (l) => l.checks[name] });
  const cellIds = [...new Set(lines.flatMap((l) => Object.keys(l.cells)))];
  for (const id of cellIds) columns.push({ name: `${id} ÷ bare`, of: (l) => l.cells[id]?.oursVsBare });
  const rows = lines.map((l) => [
    l.date.slice(0, 16).replace('T', ' '),
    l.commit,
    l.reference,
    ...columns.map(({ of }) => {
      const value = of(l);
      if (value === undefined) return '';
      const all = lines.map(of).filter((v): v is number => v !== undefined);
      return `${bar(value, Math.min(...all), Math.max(...all))} ${value.toFixed(3)}`;
    }),
  ]);
  console.log(table(['date (UTC)', 'commit', 'reference', ...columns.map((c) => c.name)], rows));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
