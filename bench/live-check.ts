/**
 * `npm run bench:live-check`: what a check started from the dashboard costs the cluster,
 * against one run by `thunderdb check --url` (issue 23). One cluster of 3 nodes (3 replicas);
 * wrk runs random-key PUTs of 100 B values at 50 connections while, in turns within each
 * run: no check; a check run by the CLI in its own process; the same check started with
 * `POST /check` (a thread of the server). Both checks run the same seed, no faults, for the
 * whole turn. Reported: each turn's PUT req/s ÷ the no-check PUT req/s of the same run, the
 * check's own operations a second, and the dashboard ÷ CLI ratio of both.
 *
 *   npm run bench:live-check -- [--runs 3] [--seconds 5] [--cli PATH]
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { uuidFile } from './lib/data.js';
import { sustained } from './lib/load-generator.js';
import { runContext } from './lib/machine.js';
import { startCluster } from './lib/processes.js';
import { spread } from './lib/stats.js';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '5' },
    cli: { type: 'string' },
  },
});
const OUT = fileURLToPath(new URL('../../bench/results/', import.meta.url));
const CLI = args.cli ?? fileURLToPath(new URL('../src/cli.js', import.meta.url));
const RUNS = Number(args.runs);
const SECONDS = Number(args.seconds);
const KEYS = 100_000;
const SEED = 20261207;
/** The check outlives the load by this much: it is under way for all of the measured turn. */
const CHECK_SECONDS = SECONDS + 2;

type Turn = 'no check' | 'thunderdb check --url' | 'POST /check';
const TURNS: Turn[] = ['no check', 'thunderdb check --url', 'POST /check'];

/** Starts a check the way `turn` says; resolves with a function that waits for its end and gives its operation count. */
async function startCheck(turn: Turn, url: string, out: string): Promise<() => Promise<number>> {
  const summaryOf = async (id: string) =>
    (await (await fetch(`${url}/check/${id}`)).json()) as { state: string; counts: { invoked: number } };
  if (turn === 'thunderdb check --url') {
    const child = spawn(
      process.execPath,
      [
        CLI,
        'check',
        '--url',
        url,
        '--seed',
        String(SEED),
        '--faults',
        'none',
        '--time-limit',
        String(CHECK_SECONDS),
        '--out',
        out,
      ],
      { stdio: 'ignore' },
    );
    return async () => {
      await once(child, 'exit');
      const { checks } = (await (await fetch(`${url}/check`)).json()) as {
        checks: { counts: { invoked: number } }[];
      };
      return checks.at(-1)!.counts.invoked;
    };
  }
  const res = await fetch(`${url}/check`, {
    method: 'POST',
    body: JSON.stringify({ seed: SEED, faults: 'none', timeLimit: CHECK_SECONDS }),
  });
  if (res.status !== 201) throw new Error(`POST /check answered ${res.status}: ${await res.text()}`);
  const { id } = (await res.json()) as { id: string };
  return async () => {
    for (;;) {
      const summary = await summaryOf(id);
      if (['done', 'stopped', 'failed'].includes(summary.state)) return summary.counts.invoked;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  };
}

async function main(): Promise<void> {
  const meta = runContext();
  const file = await uuidFile(KEYS);
  const checksDir = await mkdtemp(join(tmpdir(), 'thunderdb-bench-checks-'));
  const rows = TURNS.map(() => ({ ratio: [] as number[], rps: [] as number[], checkOps: [] as number[] }));
  const load = (url: string, seconds: number) =>
    sustained('wrk', {
      url,
      method: 'PUT',
      seconds,
      connections: 50,
      keys: KEYS,
      keyFile: file,
      valueBytes: 100,
    });
  for (let run = 0; run < RUNS; run++) {
    const cluster = await startCluster({ nodes: 3, replicas: 3 }, ['--checks-dir', checksDir], args.cli);
    try {
      await load(cluster.url, 2);
      let base = 0;
      for (const [t, turn] of TURNS.entries()) {
        const out = await mkdtemp(join(tmpdir(), 'thunderdb-bench-check-'));
        const ended = turn === 'no check' ? null : await startCheck(turn, cluster.url, out);
        const put = await load(cluster.url, SECONDS);
        const checkOps = ended === null ? 0 : await ended();
        if (t === 0) base = put.rps;
        const row = rows[t]!;
        row.ratio.push(put.rps / base);
        row.rps.push(put.rps);
        row.checkOps.push(checkOps / CHECK_SECONDS);
        console.error(
          `  run ${run + 1}, ${turn}: PUT ${Math.round(put.rps)} req/s, the check ${Math.round(checkOps / CHECK_SECONDS)} ops/s`,
        );
      }
    } finally {
      await cluster.stop();
    }
  }
  const fixed = (n: number) => n.toFixed(2);
  const median = (t: number, field: 'ratio' | 'rps' | 'checkOps') => spread(rows[t]![field]).median;
  const lines = [
    `ThunderDB bench:live-check, ${meta.date}, commit ${meta.commit}, ${meta.cores} cores (${meta.cpu}), Node ${meta.node}`,
    `3 nodes, 3 replicas; wrk PUT, 50 connections, ${SECONDS} s, random keys of ${KEYS.toLocaleString('en')} uuids, 100 B values; checks of seed ${SEED}, no faults, ${CHECK_SECONDS} s; ${RUNS} run(s), the turns in order within each`,
    '',
    '| turn | PUT ÷ no check (min–max) | PUT req/s | check ops/s |',
    '| --- | --- | --- | --- |',
    ...TURNS.map((turn, t) => {
      const ratio = spread(rows[t]!.ratio);
      return `| ${turn} | ${fixed(ratio.median)} (${fixed(ratio.min)}–${fixed(ratio.max)}) | ${Math.round(median(t, 'rps'))} | ${Math.round(median(t, 'checkOps'))} |`;
    }),
    '',
    `POST /check ÷ thunderdb check --url: PUT ${fixed(median(2, 'rps') / median(1, 'rps'))}, the check's own ops/s ${fixed(median(2, 'checkOps') / median(1, 'checkOps'))}`,
  ];
  console.log(lines.join('\n'));
  await mkdir(OUT, { recursive: true });
  await writeFile(`${OUT}live-check-${Date.now()}.md`, lines.join('\n') + '\n');
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
