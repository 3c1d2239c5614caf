import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { BadRequestError, CheckNotFoundError, CheckRunningError } from '../errors.js';
import type { Clock } from '../time/clock.js';
import { newSeed } from '../time/rng.js';
import { CHECK_DEFAULTS, checkOptionsOf, type CheckArgs } from './command.js';
import {
  LiveTracker,
  type CheckState,
  type CheckSummary,
  type CheckWorkerData,
  type CheckWorkerMessage,
} from './live-tracker.js';
import type { CheckOptions } from './results.js';

/** Checks kept to answer `GET /check/{id}` once over: the newest few. */
const KEPT = 10;
/** A check reported by `thunderdb check --url` that says nothing for this long has lost its reporter. */
export const REPORTER_SILENT_MS = 15_000;
/** The states of a check that is over. */
const OVER: readonly CheckState[] = ['done', 'stopped', 'failed'];

/** The option names `POST /check` takes: `thunderdb check`'s, camel-cased, less the cluster's own. */
const OPTION_NAMES = [
  'mode',
  'nodes',
  'replicas',
  'seed',
  'r',
  'w',
  'repair',
  'faults',
  'clients',
  'keys',
  'ops',
  'timeLimit',
  'thinkMs',
  'valueBytes',
  'timeoutMs',
  'convergeMs',
] as const;

interface Entry {
  summary: CheckSummary;
  /** The thread running a check the server started. */
  worker: Worker | null;
  /** A stop was asked for (the reporter of a CLI check hears it in its next answer). */
  stopping: boolean;
  /** When a reported check was last heard from. */
  heard: number;
  /** A reported check failed for its silence: its reporter may still send its verdict (a long judging says nothing). */
  silenced: boolean;
  /** Where its files are (a check the server ran). */
  dir: string | null;
}

/** Whether a check is still under way. */
export const isRunning = (summary: CheckSummary): boolean => !OVER.includes(summary.state);

/**
 * The checks of this cluster (design.md §14): one the dashboard starts with `POST /check`,
 * run in a thread of the server (workers/check.ts) against the server's own URL, or, with
 * `"mode": "deterministic"`, against a simulated cluster in that thread (replayed exactly by
 * its seed, with a trace to step through); and one that `thunderdb check --url` reports as it
 * runs (`PUT /check/{id}`). One at a time: a
 * second is refused with CHECK_RUNNING while one is under way, as two would judge each
 * other's faults. The newest {@link KEPT} are kept with their summaries; the files of a
 * check the server ran go to `dir/<id>/`.
 */
export class LiveChecks {
  readonly #entries = new Map<string, Entry>();
  readonly #dir: string;
  readonly #clock: Clock;
  readonly #url: () => string;
  #closed = false;
  /** Checks started since this server started: part of each id. */
  #started = 0;

  /** `dir`: where checks' files go; `url`: the server's own URL, once listening. */
  constructor(options: { dir: string; clock: Clock; url: () => string }) {
    this.#dir = resolve(options.dir);
    this.#clock = options.clock;
    this.#url = options.url;
  }

  /** The check under way, else the newest one over; null before any. */
  get current(): CheckSummary | null {
    this.#expireSilent();
    let newest: CheckSummary | null = null;
    for (const { summary } of this.#entries.values()) {
      if (isRunning(summary)) return summary;
      newest = summary;
    }
    return newest;
  }

  /** Every check kept, oldest first. */
  list(): CheckSummary[] {
    this.#expireSilent();
    return [...this.#entries.values()].map((entry) => entry.summary);
  }

  get(id: string): CheckSummary {
    this.#expireSilent();
    return this.#entry(id).summary;
  }

  /** Where a check the server ran wrote `name` (report.html, results.json…); null for a reported one. */
  fileOf(id: string, name: string): string | null {
    const { dir } = this.#entry(id);
    return dir === null ? null : join(dir, name);
  }

  /**
   * Starts a check from `POST /check`'s body: `thunderdb check`'s options by their camel-cased
   * names (faults as a comma-separated string or an array), any left out as the command's
   * defaults and the cluster's own settings.
   */
  async start(body: unknown): Promise<CheckSummary> {
    // Bad options are said first, whether or not another check runs.
    const options = await this.#optionsOf(body);
    this.#refuseWhileRunning();
    const id = `${options.seed}-${this.#clock.wall().toString(36)}-${++this.#started}`;
    const dir = join(this.#dir, id);
    options.out = dir;
    const report = `/check/${id}/report`;
    const data: CheckWorkerData = { id, options, report };
    const worker = new Worker(new URL('../../workers/check.js', import.meta.url), { workerData: data });
    const entry: Entry = {
      // What it says until its thread says more.
      summary: new LiveTracker(id, 'dashboard', options, this.#clock).update(),
      worker,
      stopping: false,
      heard: this.#clock.now(),
      silenced: false,
      dir,
    };
    this.#add(entry);
    worker.on('message', (message: CheckWorkerMessage) => {
      entry.summary = message.summary;
    });
    const ended = (why: string) => {
      entry.worker = null;
      if (isRunning(entry.summary)) entry.summary = { ...entry.summary, state: 'failed', error: why };
    };
    worker.on('error', (err) => ended(`the check's thread failed: ${err.message}`));
    worker.on('exit', () => ended('the check stopped before its verdict'));
    return entry.summary;
  }

  /**
   * A check `thunderdb check --url` runs and reports: its summary as it goes. The first
   * report registers it (refused while another check runs). Answers whether the reporter
   * should stop (someone asked, with `DELETE /check/{id}`).
   */
  report(id: string, body: unknown): { stop: boolean } {
    const summary = reportedSummary(id, body);
    const entry = this.#entries.get(id);
    if (entry === undefined) {
      this.#refuseWhileRunning();
      this.#add({
        summary,
        worker: null,
        stopping: false,
        heard: this.#clock.now(),
        silenced: false,
        dir: null,
      });
      return { stop: false };
    }
    if (entry.worker !== null || entry.dir !== null)
      throw new BadRequestError(`check ${id} is run by this server; it takes no reports`);
    // Over, it takes no more reports; but one failed only for its silence takes its verdict.
    if (!isRunning(entry.summary) && !(entry.silenced && !isRunning(summary)))
      throw new BadRequestError(`check ${id} is over (${entry.summary.state}); it takes no more reports`);
    entry.silenced = false;
    entry.summary = summary;
    entry.heard = this.#clock.now();
    return { stop: entry.stopping };
  }

  /** Asks a running check to stop: its workload ends, then it heals, converges and is judged. */
  stop(id: string): CheckSummary {
    const entry = this.#entry(id);
    if (!isRunning(entry.summary)) return entry.summary;
    entry.stopping = true;
    entry.worker?.postMessage('stop');
    return entry.summary;
  }

  /** Ends every check's thread (the server is closing): nothing is judged. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#entries.values()].map((entry) => entry.worker?.terminate()));
  }

  #entry(id: string): Entry {
    const entry = this.#entries.get(id);
    if (entry === undefined) throw new CheckNotFoundError(`no check ${JSON.stringify(id)} is kept here`);
    return entry;
  }

  #add(entry: Entry): void {
    this.#entries.set(entry.summary.id, entry);
    for (const [id, old] of this.#entries) {
      if (this.#entries.size <= KEPT) break;
      if (isRunning(old.summary)) continue;
      this.#entries.delete(id);
      // Its files go with it: the folder holds the newest checks only, never a growing pile.
      if (old.dir !== null) void rm(old.dir, { recursive: true, force: true }).catch(() => {});
    }
  }

  #refuseWhileRunning(): void {
    if (this.#closed) throw new CheckRunningError('the server is closing; no check starts');
    const running = this.list().find(isRunning);
    if (running !== undefined) {
      const error = new CheckRunningError(
        `check ${running.id} (${running.source}) is running; stop it with DELETE /check/${running.id} or wait for its verdict`,
      );
      error.details.id = running.id;
      throw error;
    }
  }

  /** A reported check whose reporter went quiet (killed, cut off) fails rather than blocking every other. */
  #expireSilent(): void {
    const now = this.#clock.now();
    for (const entry of this.#entries.values()) {
      if (entry.dir === null && isRunning(entry.summary) && now - entry.heard > REPORTER_SILENT_MS) {
        entry.silenced = true;
        entry.summary = {
          ...entry.summary,
          state: 'failed',
          error: `its reporter (thunderdb check --url) said nothing for ${REPORTER_SILENT_MS / 1000} s`,
        };
      }
    }
  }

  async #optionsOf(body: unknown): Promise<CheckOptions> {
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw new BadRequestError("POST /check takes a JSON object of thunderdb check's options");
    const given = body as Record<string, unknown>;
    for (const name of Object.keys(given)) {
      if (!(OPTION_NAMES as readonly string[]).includes(name))
        throw new BadRequestError(
          `POST /check does not take ${JSON.stringify(name)}; it takes ${OPTION_NAMES.join(', ')}`,
        );
    }
    const number = (name: (typeof OPTION_NAMES)[number], fallback?: number): number | undefined => {
      const value = given[name];
      if (value === undefined) return fallback;
      if (typeof value !== 'number')
        throw new BadRequestError(`"${name}" must be a number, got ${JSON.stringify(value)}`);
      return value;
    };
    const faults = given.faults ?? CHECK_DEFAULTS.faults;
    if (typeof faults !== 'string' && !(Array.isArray(faults) && faults.every((f) => typeof f === 'string')))
      throw new BadRequestError('"faults" must be a comma-separated string or an array of fault kinds');
    const mode = given.mode ?? 'threads';
    if (mode !== 'threads' && mode !== 'deterministic')
      throw new BadRequestError(`"mode" must be "threads" or "deterministic", got ${JSON.stringify(mode)}`);
    // Against this cluster, its own nodes and replicas; a simulated one is the check's to size.
    if (mode === 'threads' && (given.nodes !== undefined || given.replicas !== undefined))
      throw new BadRequestError(
        '"nodes" and "replicas" size a simulated cluster ("mode": "deterministic"); a check of this cluster takes its own',
      );
    const repair = given.repair ?? CHECK_DEFAULTS.repair;
    if (repair !== 'sync' && repair !== 'async')
      throw new BadRequestError(`"repair" must be "sync" or "async", got ${JSON.stringify(repair)}`);
    const args: CheckArgs = {
      ...CHECK_DEFAULTS,
      seed: number('seed') ?? newSeed(),
      mode,
      ...(mode === 'threads' ? { url: this.#url() } : {}),
      nodes: number('nodes', CHECK_DEFAULTS.nodes)!,
      replicas: number('replicas'),
      r: number('r'),
      w: number('w'),
      repair,
      faults: Array.isArray(faults) ? faults.join(',') || 'none' : faults,
      clients: number('clients', CHECK_DEFAULTS.clients)!,
      keys: number('keys', CHECK_DEFAULTS.keys)!,
      ops: number('ops', CHECK_DEFAULTS.ops)!,
      timeLimit: number('timeLimit', CHECK_DEFAULTS.timeLimit)!,
      thinkMs: number('thinkMs', CHECK_DEFAULTS.thinkMs)!,
      valueBytes: number('valueBytes', CHECK_DEFAULTS.valueBytes)!,
      timeoutMs: number('timeoutMs', CHECK_DEFAULTS.timeoutMs)!,
      convergeMs: number('convergeMs', CHECK_DEFAULTS.convergeMs)!,
    };
    try {
      return await checkOptionsOf(args);
    } catch (err) {
      // The command's words name its flags: --think-ms is "thinkMs" here.
      throw new BadRequestError(
        (err as Error).message.replace(/--([a-z-]+)/g, (_, flag: string) => `"${camel(flag)}"`),
      );
    }
  }
}

const camel = (flag: string) => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** A reported summary, checked for the fields the dashboard draws (it comes from another process). */
function reportedSummary(id: string, body: unknown): CheckSummary {
  const summary = body as Partial<CheckSummary> | null;
  const count = (n: unknown) => Number.isSafeInteger(n) && (n as number) >= 0;
  const text = (s: unknown) => typeof s === 'string';
  const ok =
    typeof summary === 'object' &&
    summary !== null &&
    summary.id === id &&
    summary.source === 'cli' &&
    STATES.includes(summary.state as CheckState) &&
    typeof summary.startedAt === 'number' &&
    typeof summary.elapsedMs === 'number' &&
    typeof summary.parameters === 'object' &&
    summary.parameters !== null &&
    typeof summary.counts === 'object' &&
    summary.counts !== null &&
    [summary.counts.invoked, summary.counts.ok, summary.counts.fail, summary.counts.info].every(count) &&
    Array.isArray(summary.perSecond) &&
    summary.perSecond.every((row) => Array.isArray(row) && row.length === 4 && row.every(count)) &&
    Array.isArray(summary.faults) &&
    Array.isArray(summary.keys) &&
    summary.keys.every(
      (k) =>
        typeof k === 'object' &&
        k !== null &&
        text(k.key) &&
        count(k.ops) &&
        count(k.checked) &&
        VERDICTS.includes(k.verdict),
    ) &&
    typeof summary.witnesses === 'object' &&
    summary.witnesses !== null &&
    [true, false, 'unknown', null].includes(summary.verdict as never) &&
    Array.isArray(summary.findings) &&
    summary.findings.every(text) &&
    text(summary.reproduce) &&
    (summary.report === null || text(summary.report)) &&
    (summary.error === undefined || text(summary.error));
  if (!ok)
    throw new BadRequestError(
      `PUT /check/${id} takes the summary thunderdb check --url reports, with "id": ${JSON.stringify(id)} and "source": "cli"`,
    );
  return summary as CheckSummary;
}

/** Every state a check can be in. */
const STATES: readonly CheckState[] = ['starting', 'running', 'healing', 'final reads', 'judging', ...OVER];
/** Every verdict a key can have. */
const VERDICTS: readonly string[] = ['pending', 'valid', 'invalid', 'unknown'];
