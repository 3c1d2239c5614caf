import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { holdingClock, type Clock } from '../time/clock.js';
import { Cluster } from '../cluster/cluster.js';
import { inlineRunner } from '../transport/inline-runner.js';
import { SimLoop } from '../sim/loop.js';
import { TraceRecorder } from '../sim/trace.js';
import { traceHeader, writeTraceFiles } from './trace-files.js';
import { tracedTarget } from './traced-target.js';
import { ReplicaInvariants } from './replica-invariants.js';
import { lostWrites, readsOfUnwritten, VALUE_LOST, type Final } from './checks.js';
import { History, pair, toOperations, type Completed } from './history.js';
import { httpTarget } from './http-target.js';
import { checkLinearizability, type KeyResult } from './linearizability.js';
import { renderReport } from './report.js';
import { FaultDriver, planFaults, type AppliedWindow } from './schedule.js';
import { clusterTarget, paddedTarget, type Target } from './target.js';
import type { CheckOptions, CheckResults, Validity } from './results.js';
import { keysOf, perform, runWorkload } from './workload.js';
import { witnessOf } from './witness.js';
import { checkWatch, type SeenChange } from './watch-check.js';

/** The command line that repeats a check. */
export function reproduceCommand(options: CheckOptions): string {
  const flags = [
    `--seed ${options.seed}`,
    `--mode ${options.mode}`,
    ...(options.url === undefined
      ? [`--nodes ${options.nodes}`, `--replicas ${options.replicas}`, `--r ${options.r}`, `--w ${options.w}`]
      : [`--url ${options.url}`]),
    `--repair ${options.repair}`,
    `--faults ${options.faults.join(',') || 'none'}`,
    `--clients ${options.clients}`,
    `--keys ${options.keys}`,
    `--ops ${options.ops}`,
    `--time-limit ${options.timeLimit}`,
    `--think-ms ${options.thinkMs}`,
    ...(options.valueBytes === 0 ? [] : [`--value-bytes ${options.valueBytes}`]),
    `--timeout-ms ${options.timeoutMs}`,
    `--converge-ms ${options.convergeMs}`,
  ];
  return `npx thunderdb check ${flags.join(' ')}`;
}

/** Fields of results.json in milliseconds (operations' calls and returns, windows, spans). */
const MILLISECONDS = new Set(['call', 'ret', 'began', 'ended', 'runMs', 'ms']);
/** Fields in seconds. */
const SECONDS = new Set(['seconds', 'judgeSeconds']);

/**
 * results.json as a person reads it: milliseconds to 0.1 ms and seconds to 1 ms, not the
 * clock's raw readings (`294.62912299999994`). The results in memory keep them.
 */
function resultsJson(results: CheckResults): string {
  const readable = (name: string, value: unknown): unknown => {
    if (typeof value !== 'number' || Number.isInteger(value)) return value;
    if (MILLISECONDS.has(name)) return Math.round(value * 10) / 10;
    if (SECONDS.has(name)) return Math.round(value * 1000) / 1000;
    return value;
  };
  return JSON.stringify(results, readable, 2) + '\n';
}

/** Waits `ms` on `clock`. */
const sleep = (clock: Clock, ms: number) => new Promise<void>((resolve) => clock.setTimer(ms, resolve));

/**
 * Once every fault is healed: runs anti-entropy and compares each key's replicas until they
 * all hold the same version (a tombstone counts as nothing) or `boundMs` passes.
 */
async function converge(
  target: Target,
  clock: Clock,
  keys: string[],
  boundMs: number,
): Promise<CheckResults['checks']['convergence']> {
  const start = clock.now();
  for (;;) {
    await target.antiEntropy().catch(() => {});
    const divergent: { key: string; versions: (number | null)[] }[] = [];
    for (const key of keys) {
      const versions = await target.versions(key).catch(() => [null]);
      const live = versions.map((v) => (v === null ? null : Math.max(v, 0)));
      if (live.some((v) => v === null || v !== live[0])) divergent.push({ key, versions });
    }
    const ms = clock.now() - start;
    if (divergent.length === 0) return { valid: true, ms, divergent };
    if (ms >= boundMs) return { valid: false, ms: null, divergent };
    await sleep(clock, 100);
  }
}

/** Where a check is: what the live view says of it. */
export type CheckPhase = 'starting' | 'running' | 'healing' | 'final reads' | 'judging';

/** A check as it runs, for whoever watches it live (src/check/live-tracker.ts). */
export interface RunningCheck {
  readonly history: History;
  /** The fault windows so far, timed as the history is. */
  readonly faults: readonly AppliedWindow[];
  /** Ms since the run's start, on its clock (simulated in the deterministic mode), as the history's times. */
  readonly now: number;
  /** Each key's linearizability as the judge finds it (filled as it judges; none past the first invalid key). */
  readonly judged: ReadonlyMap<string, KeyResult['valid']>;
  readonly phase: CheckPhase;
}

/** What a caller may do to a check as it runs. */
export interface CheckHooks {
  /** Ends the workload early: the run then heals, converges and is judged on what it did. */
  signal?: AbortSignal;
  /** Hears the run once it begins; it reads the run's state whenever it likes. */
  observe?: (run: RunningCheck) => void;
  /** false: the deterministic mode leaves its trace out (to measure what it costs; the run is the same). */
  trace?: boolean;
}

/**
 * Runs one check: starts a cluster in the chosen mode (or targets `url`), runs the seeded
 * workload while the seeded fault schedule runs, heals everything, waits for the replicas
 * to agree, reads every key once more, then judges the history. Writes the three files (and,
 * in the deterministic mode, trace.jsonl and replay.html) and resolves with the results;
 * `log` hears progress, `hooks` may watch and stop it.
 */
export async function runCheck(
  options: CheckOptions,
  log: (line: string) => void = () => {},
  hooks: CheckHooks = {},
): Promise<CheckResults> {
  const began = performance.now();
  const loop = options.mode === 'deterministic' && options.url === undefined ? new SimLoop() : null;
  const clock: Clock = loop ?? holdingClock;
  const trace = loop !== null && hooks.trace !== false ? new TraceRecorder(() => loop.now()) : null;
  const invariants = loop === null ? null : new ReplicaInvariants(() => loop.now(), trace ?? undefined);
  const consistency = { r: options.r, w: options.w, repair: options.repair };
  let cluster: Cluster | null = null;
  let target: Target;
  if (options.url !== undefined) target = httpTarget(options.url, consistency);
  else {
    cluster = await Cluster.start({
      nodes: options.nodes,
      replicas: options.replicas,
      r: options.r,
      w: options.w,
      timeoutMs: options.timeoutMs,
      seed: options.seed,
      ...(loop === null ? {} : { clock: loop, runner: inlineRunner(loop, invariants!) }),
      ...(trace === null ? {} : { trace }),
    });
    const started = cluster;
    invariants?.watch(() => started.newestVersion);
    target = clusterTarget(cluster, consistency);
  }
  if (options.valueBytes > 0) target = paddedTarget(target, options.valueBytes);
  if (trace !== null) target = tracedTarget(target, trace);
  // The run's start: operations and fault windows are timed from it, on one clock.
  const start = clock.now();
  if (trace !== null) trace.origin = start;
  const history = new History(clock, start, trace === null ? undefined : (event) => trace.client(event));
  // The checks take each key to start empty and each value to be written once: a cluster
  // at a URL may hold an earlier run's keys, so this run's get a prefix of their own.
  const keys = keysOf(
    options.keys,
    options.url === undefined ? '' : `check-${options.seed}-${Date.now().toString(36)}-`,
  );
  const finals = new Map<string, Final>();
  const seen: SeenChange[] = [];
  let driver: FaultDriver | null = null;
  let convergence!: CheckResults['checks']['convergence'];
  let runMs = 0;
  let phase: CheckPhase = 'starting';
  /** Each key's verdict, as the judge finds it. */
  const judged = new Map<string, KeyResult['valid']>();
  hooks.observe?.({
    judged,
    history,
    get faults() {
      return driver?.applied ?? [];
    },
    get phase() {
      return phase;
    },
    get now() {
      return clock.now() - start;
    },
  });
  let nodes: number[] = [];
  const run = async () => {
    ({ nodes } = await target.describe());
    for (const key of keys) {
      if ((await target.read(key)) !== null)
        throw new Error(`key ${key} already holds a value; the checks need keys that start empty`);
    }
    // The run's keys watched from before the first write: a second history source.
    const watch = await target.watch(keys[0]!.slice(0, -1), (change) => seen.push(change));
    const windows = planFaults(options.seed, options.faults, nodes, options.timeLimit * 1000);
    log(`fault schedule: ${windows.length} faults (${options.faults.join(', ') || 'none'})`);
    const faults = new FaultDriver(target, clock, windows, start);
    driver = faults;
    phase = 'running';
    await runWorkload(target, clock, history, {
      seed: options.seed,
      clients: options.clients,
      keys,
      ops: options.ops,
      durationMs: options.timeLimit * 1000,
      thinkMs: options.thinkMs,
      signal: hooks.signal,
    });
    log(
      `workload ${hooks.signal?.aborted ? 'stopped' : 'done'}: ${history.events.length / 2} operations; healing`,
    );
    phase = 'healing';
    await faults.finish();
    convergence = await converge(target, clock, keys, options.convergeMs);
    log(
      convergence.valid
        ? `replicas agree ${convergence.ms!.toFixed(0)} ms after healing`
        : `replicas still differ on ${convergence.divergent.length} keys after ${options.convergeMs} ms`,
    );
    // The final reads: Jepsen's, after healing, one per key, by a client of their own.
    phase = 'final reads';
    for (const key of keys) {
      for (let attempt = 0; attempt < 3 && !finals.has(key); attempt++) {
        await perform(target, history, options.clients, 'read', key, '');
        const end = history.events.at(-1)!;
        if (end.type === 'ok') finals.set(key, end.value ?? null);
        // The storage lost the value on every replica: an answer, not a failure to read.
        else if (end.error === 'VALUE_LOST') finals.set(key, VALUE_LOST);
      }
    }
    await watch.caughtUp();
    watch.close();
    runMs = clock.now() - start;
  };
  try {
    if (loop === null) await run();
    else await loop.run(run());
  } finally {
    await cluster?.close();
  }
  phase = 'judging';
  const judging = performance.now();
  const completed = pair(history.events);
  const broken = invariants?.broken;
  const results = judge(
    options,
    keys,
    completed,
    finals,
    convergence,
    driver!.applied,
    seen,
    {
      checked: broken !== undefined,
      valid: (broken?.count ?? 0) === 0,
      writes: invariants?.checked.writes ?? 0,
      purges: invariants?.checked.purges ?? 0,
      count: broken?.count ?? 0,
      broken: broken?.first ?? [],
    },
    judged,
  );
  results.judgeSeconds = (performance.now() - judging) / 1000;
  if (loop !== null) {
    loop.record(history.toJsonLines());
    results.eventLogHash = loop.hash;
  }
  results.seconds = (performance.now() - began) / 1000;
  results.runMs = runMs;
  await mkdir(options.out, { recursive: true });
  await writeFile(join(options.out, 'history.jsonl'), history.toJsonLines());
  await writeFile(join(options.out, 'results.json'), resultsJson(results));
  await writeFile(join(options.out, 'report.html'), renderReport(results, history.events));
  if (trace !== null) {
    // Written after judging: its header says where the run went wrong, for the page to jump to.
    // A trace that cannot be written (past what one string holds) costs the trace, not the verdict.
    try {
      const files = await writeTraceFiles(
        options.out,
        trace,
        traceHeader(results, history.events, keys, nodes),
      );
      log(
        `trace: ${files.trace} (${files.events} events, ${(files.bytes / 2 ** 20).toFixed(1)} MiB); ` +
          (files.replay === null
            ? 'too large to put inside replay.html: open it with the file chooser of GET /replay'
            : `step through it: open ${files.replay}`),
      );
    } catch (err) {
      log(`trace: not written: ${(err as Error).message}`);
    }
  }
  return results;
}

/** Judges a history: every check, and the verdict they make together. */
export function judge(
  options: CheckOptions,
  keys: readonly string[],
  completed: Completed[],
  finals: ReadonlyMap<string, Final>,
  convergence: CheckResults['checks']['convergence'],
  faults: AppliedWindow[],
  seen: readonly SeenChange[],
  invariants: CheckResults['checks']['invariants'],
  eachKey?: Map<string, KeyResult['valid']>,
): CheckResults {
  const verdict = checkLinearizability(toOperations(completed), undefined, eachKey);
  const witness = verdict.valid === false ? witnessOf(verdict.key, verdict.operations, faults) : null;
  const linearizability = witness === null ? verdict : { ...verdict, witness };
  const lost = lostWrites(completed, finals);
  const reads = readsOfUnwritten(completed);
  const failed = keys.filter((key) => !finals.has(key));
  const checks: CheckResults['checks'] = {
    linearizability,
    lostWrites: { valid: lost.length === 0, lost },
    readsOfUnwritten: { valid: reads.length === 0, reads },
    convergence,
    finalReads: {
      valid: failed.length === 0 ? true : 'unknown',
      failed,
      lost: keys.filter((key) => finals.get(key) === VALUE_LOST),
    },
    invariants,
    watch: checkWatch(completed, seen, finals),
  };
  const verdicts: Validity[] = [
    linearizability.valid,
    checks.lostWrites.valid,
    checks.readsOfUnwritten.valid,
    convergence.valid,
    checks.finalReads.valid,
    invariants.valid,
    checks.watch.valid,
  ];
  const valid: Validity = verdicts.includes(false) ? false : verdicts.includes('unknown') ? 'unknown' : true;
  const count = (type: string) => completed.filter((op) => (op.end?.type ?? 'info') === type).length;
  return {
    valid,
    seed: options.seed,
    parameters: options,
    counts: {
      invoked: completed.length,
      ok: count('ok'),
      fail: count('fail'),
      info: count('info'),
      faults: faults.filter((f) => f.skipped === undefined).length,
    },
    faults,
    checks,
    seconds: 0,
    runMs: 0,
    judgeSeconds: 0,
    reproduce: reproduceCommand(options),
  };
}
