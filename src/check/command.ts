import { join } from 'node:path';
import { explainInvalid } from './describe.js';
import { httpTarget } from './http-target.js';
import type { CheckOptions, CheckResults } from './results.js';
import { reproduceCommand, runCheck } from './run.js';
import { FAULT_KINDS, type FaultKind } from './schedule.js';
import { MAX_NODES } from '../cluster/node-budget.js';
import { CheckReporter } from './reporter.js';
import { systemClock } from '../time/clock.js';

/**
 * `thunderdb check`'s options as yargs hands them over: the replication settings may be
 * absent (the defaults, or the cluster's at `--url`), the fault kinds are one string.
 */
export type CheckArgs = Omit<CheckOptions, 'replicas' | 'r' | 'w' | 'faults'> & {
  replicas?: number;
  r?: number;
  w?: number;
  faults: string;
};

/** `thunderdb check`'s defaults, also those of `POST /check` (the dashboard's checks). */
export const CHECK_DEFAULTS = {
  mode: 'threads',
  nodes: 3,
  repair: 'sync',
  faults: 'crash,partition,latency,loss,pause',
  clients: 5,
  keys: 6,
  ops: 100_000,
  timeLimit: 10,
  thinkMs: 10,
  valueBytes: 0,
  timeoutMs: 500,
  convergeMs: 10_000,
  out: 'thunderdb-check',
} as const satisfies Partial<CheckArgs>;

/** The largest --value-bytes: the cluster's default --max-value-bytes (1 MiB). */
const MAX_CHECK_VALUE_BYTES = 1 << 20;

/** The check's exit code for its verdict: 0 valid, 1 invalid, 2 unknown. */
export function exitCodeOf(valid: CheckResults['valid']): number {
  return valid === true ? 0 : valid === false ? 1 : 2;
}

/** Checks the options, naming the bad one; fills the replication settings in. */
export async function checkOptionsOf(args: CheckArgs): Promise<CheckOptions> {
  const integer = (name: string, value: number, min: number, max: number) => {
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new RangeError(`--${name} must be an integer from ${min} to ${max}, got ${value}`);
    }
  };
  integer('seed', args.seed, 0, 0xffffffff);
  integer('clients', args.clients, 1, 100);
  integer('keys', args.keys, 1, 1000);
  integer('ops', args.ops, 1, 10_000_000);
  integer('think-ms', args.thinkMs, 0, 60_000);
  integer('value-bytes', args.valueBytes, 0, MAX_CHECK_VALUE_BYTES);
  integer('timeout-ms', args.timeoutMs, 1, 60_000);
  integer('converge-ms', args.convergeMs, 0, 600_000);
  if (!Number.isFinite(args.timeLimit) || args.timeLimit <= 0 || args.timeLimit > 3600) {
    throw new RangeError(
      `--time-limit must be a number of seconds above 0, at most 3600, got ${args.timeLimit}`,
    );
  }
  const faults = args.faults === 'none' ? [] : args.faults.split(',').map((kind) => kind.trim());
  for (const kind of faults) {
    if (!(FAULT_KINDS as readonly string[]).includes(kind)) {
      throw new RangeError(`--faults takes ${FAULT_KINDS.join(', ')} or none, got ${JSON.stringify(kind)}`);
    }
  }
  if (args.url !== undefined && args.mode === 'deterministic') {
    throw new RangeError('--mode deterministic runs its own cluster in this process; it cannot check --url');
  }
  // The replication settings: given, or the cluster's (at --url), or the defaults.
  let settings: { nodes: number; replicas: number; r: number; w: number };
  if (args.url !== undefined) {
    const described = await httpTarget(args.url).describe();
    settings = { ...described, nodes: described.nodes.length };
  } else {
    const replicas = args.replicas ?? Math.min(3, args.nodes);
    const majority = Math.floor(replicas / 2) + 1;
    settings = { nodes: args.nodes, replicas, r: majority, w: majority };
  }
  if (args.url === undefined) {
    integer('nodes', settings.nodes, 1, MAX_NODES);
    integer('replicas', settings.replicas, 1, settings.nodes);
  }
  // Bounded by the replicas: a quorum of more than there are could never be met.
  if (args.r !== undefined) integer('r', args.r, 1, settings.replicas);
  if (args.w !== undefined) integer('w', args.w, 1, settings.replicas);
  return {
    seed: args.seed,
    mode: args.mode,
    ...(args.url === undefined ? {} : { url: args.url }),
    nodes: settings.nodes,
    replicas: settings.replicas,
    r: args.r ?? settings.r,
    w: args.w ?? settings.w,
    repair: args.repair,
    faults: faults as FaultKind[],
    clients: args.clients,
    keys: args.keys,
    ops: args.ops,
    timeLimit: args.timeLimit,
    thinkMs: args.thinkMs,
    valueBytes: args.valueBytes,
    timeoutMs: args.timeoutMs,
    convergeMs: args.convergeMs,
    out: args.out,
  };
}

/** Every parameter on one line, as the check prints it first. */
export function formatParameters(options: CheckOptions): string {
  return Object.entries(options)
    .map(
      ([name, value]) =>
        `${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}=${Array.isArray(value) ? value.join(',') || 'none' : value}`,
    )
    .join(' ');
}

/** The lines that explain a verdict: what each failed check found, a few operations each. */
export function formatFindings(results: CheckResults): string[] {
  const { checks } = results;
  const lines: string[] = [];
  const lin = checks.linearizability;
  if (lin.valid === false) {
    lines.push(...explainInvalid(lin));
  } else if (lin.valid === 'unknown') {
    lines.push(`linearizability unknown: the search for key ${lin.key} gave up after ${lin.steps} steps`);
  }
  for (const op of checks.lostWrites.lost.slice(0, 5)) {
    lines.push(
      `lost write: client ${op.process}'s ${op.f} of ${JSON.stringify(op.value)} to ${op.key} (event ${op.invoke}) was acknowledged and is gone`,
    );
  }
  for (const op of checks.readsOfUnwritten.reads.slice(0, 5)) {
    lines.push(
      `read of an unwritten value: client ${op.process} read ${JSON.stringify(op.value)} from ${op.key} (event ${op.end})`,
    );
  }
  if (!checks.convergence.valid) {
    lines.push(
      `not converged: replicas still differ on ${checks.convergence.divergent.map((d) => d.key).join(', ')}`,
    );
  }
  if (checks.finalReads.lost.length > 0)
    lines.push(
      `values lost on every replica (VALUE_LOST) for ${checks.finalReads.lost.length} keys: ${checks.finalReads.lost.slice(0, 5).join(', ')}${checks.finalReads.lost.length > 5 ? ', …' : ''}`,
    );
  if (checks.finalReads.failed.length > 0)
    lines.push(`final reads failed for ${checks.finalReads.failed.join(', ')}`);
  const watch = checks.watch;
  for (const write of watch.missing.slice(0, 5))
    lines.push(`watch missed: ${write} was acknowledged and never reported`);
  for (const put of watch.unexpected.slice(0, 5)) lines.push(`watch reported what no write wrote: ${put}`);
  if (watch.outOfOrder.length > 0)
    lines.push(
      `watch out of order: versions ${watch.outOfOrder.slice(0, 5).join(', ')} came after newer ones`,
    );
  for (const key of watch.finalsDiffer.slice(0, 5)) lines.push(`watch and final read differ: ${key}`);
  for (const broken of checks.invariants.broken.slice(0, 5))
    lines.push(`replica invariant broken: ${broken}`);
  return lines;
}

/**
 * `thunderdb check`: prints every parameter first, then the verdict and, last, the command that
 * repeats the run; resolves to the exit code.
 */
export async function checkCommand(
  args: CheckArgs,
  print: (line: string) => void = console.log,
): Promise<number> {
  let options: CheckOptions;
  try {
    options = await checkOptionsOf(args);
  } catch (err) {
    // Not a verdict: the check never ran (bad options, or no cluster at --url).
    print(`thunderdb check: ${(err as Error).message}`);
    return 2;
  }
  print(`thunderdb check ${formatParameters(options)}`);
  const log = (line: string) => print(`  ${line}`);
  // A check of a running cluster shows on its dashboard as it goes.
  const reporter =
    options.url === undefined ? null : new CheckReporter(options.url, options, systemClock, log);
  await reporter?.start();
  let results: CheckResults;
  try {
    results = await runCheck(options, log, reporter?.hooks);
  } catch (err) {
    await reporter?.fail(err as Error);
    print(`unknown: the check did not complete: ${(err as Error).message}`);
    print(`reproduce with: ${reproduceCommand(options)}`);
    return 2;
  }
  await reporter?.finish(results, formatFindings(results), options.out);
  const { counts } = results;
  print(
    `  ${counts.invoked} operations (${counts.ok} ok, ${counts.fail} failed, ${counts.info} indeterminate), ` +
      `${counts.faults} faults, ${(results.runMs / 1000).toFixed(1)} s ${options.mode === 'deterministic' ? 'simulated' : 'run'}, ` +
      `${results.seconds.toFixed(1)} s in all (${results.judgeSeconds.toFixed(1)} s judging)${results.eventLogHash ? `, event log ${results.eventLogHash}` : ''}`,
  );
  for (const line of formatFindings(results)) print(line);
  print(
    `results: ${join(options.out, 'results.json')}, ${join(options.out, 'history.jsonl')}, ${join(options.out, 'report.html')}` +
      (options.mode === 'deterministic' ? `, ${join(options.out, 'trace.jsonl')}` : ''),
  );
  const verdict = results.valid === true ? 'valid' : results.valid === false ? 'invalid' : 'unknown';
  print(`verdict: ${verdict} (seed ${results.seed})`);
  // Last, whatever the verdict (TigerBeetle's VOPR ends so): the line to copy.
  print(`reproduce with: ${results.reproduce}`);
  return exitCodeOf(results.valid);
}
