/**
 * bench/history.jsonl: one line per bench:ci run (commit, date, every checked figure, and
 * each cell's quotients and ratios to bare uWS), so that a slow drift across commits, each
 * within the margin against the reference, shows up when drawn (`npm run bench:history`).
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { AgainstResult } from './against.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** One cell's figures in a history line. */
export interface HistoryCell {
  /** ours ÷ reference req/s, median of the rounds. */
  vsReference: number;
  /** ours ÷ reference p50, median of the rounds. */
  p50VsReference: number;
  /** Each build's median req/s over the one bare uWS run beside them. */
  oursVsBare: number;
  referenceVsBare: number;
  oursRps: number;
}

export interface HistoryLine {
  /** The commit measured, with `+dirty` when the work tree had changes. */
  commit: string;
  date: string;
  node: string;
  reference: string;
  seconds: number;
  checks: Record<string, number>;
  cells: Record<string, HistoryCell>;
  /** The batch load's seconds by round: [ours, reference]. */
  batch: number[][];
  /** Instructions per GET by callgrind run: [ours, reference] (since the check began). */
  instructions?: number[][];
}

function git(...args: string[]): string {
  return execFileSync('git', args, {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  }).trim();
}

/** The line a bench:ci run appends. */
export function historyLine(run: {
  reference: string;
  seconds: number;
  measured: Record<string, number>;
  cells: AgainstResult[];
  batch: number[][];
  instructions: number[][];
}): HistoryLine {
  let commit = 'unknown';
  try {
    commit =
      git('rev-parse', '--short=12', 'HEAD') +
      (git('status', '--porcelain', '--untracked-files=no') ? '+dirty' : '');
  } catch {
    // Not a git checkout (an unpacked tarball): the line still records the figures.
  }
  const round = (n: number) => Math.round(n * 1000) / 1000;
  return {
    commit,
    date: new Date().toISOString(),
    node: process.version,
    reference: run.reference.slice(0, 12),
    seconds: Math.round(run.seconds),
    checks: Object.fromEntries(Object.entries(run.measured).map(([k, v]) => [k, round(v)])),
    cells: Object.fromEntries(
      run.cells.map((c) => [
        c.id,
        {
          vsReference: round(c.rps.median),
          p50VsReference: round(c.p50.median),
          oursVsBare: round(c.ours.rps.median / c.bareRps),
          referenceVsBare: round(c.reference.rps.median / c.bareRps),
          oursRps: Math.round(c.ours.rps.median),
        },
      ]),
    ),
    batch: run.batch.map((pair) => pair.map(round)),
    instructions: run.instructions.map((pair) => pair.map(Math.round)),
  };
}
