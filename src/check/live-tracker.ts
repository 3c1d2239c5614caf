import type { Clock } from '../time/clock.js';
import { LIVE_STEPS, LiveVerdict, type KeyVerdict } from './live-verdict.js';
import type { CheckOptions, CheckResults, Validity } from './results.js';
import { reproduceCommand, type CheckPhase, type RunningCheck } from './run.js';
import type { AppliedWindow } from './schedule.js';
import { witnessOf, type Witness } from './witness.js';

/** Keys whose witness the live view cuts: the first few red keys explain the run. */
const WITNESSES_KEPT = 5;

/** Where a check is: running (a phase of it), or over. */
export type CheckState = CheckPhase | 'done' | 'stopped' | 'failed';

/** Who started a check: the dashboard (run by the server) or `thunderdb check --url` (reported to it). */
export type CheckSource = 'dashboard' | 'cli';

/**
 * What the live view shows of a check, and `GET /check/{id}` answers: counts, a row per
 * second, a row per key and the witnesses of at most five red keys, whatever the history's
 * length, so pushing it every second costs about the same at 100 operations and at 100,000.
 */
export interface CheckSummary {
  id: string;
  source: CheckSource;
  parameters: CheckOptions;
  state: CheckState;
  /** Wall-clock ms of the run's start: the check's timeline sits on the dashboard's clock. */
  startedAt: number;
  /** Ms of the run so far (its history's clock). */
  elapsedMs: number;
  counts: { invoked: number; ok: number; fail: number; info: number };
  /** Per second of the run: [second, ok, fail, info] outcomes in it. */
  perSecond: [number, number, number, number][];
  /** The fault windows so far, in ms of the run (as `perSecond`). */
  faults: AppliedWindow[];
  /** Each key's verdict so far, and how many of its operations it covers. */
  keys: { key: string; ops: number; checked: number; verdict: KeyVerdict }[];
  /** Why a red key is red (the first few): its smallest failing sub-history, the stale write, the faults then. */
  witnesses: Record<string, Witness>;
  /** The verdict once judged (null while running). */
  verdict: Validity | null;
  /** What the judge found, in the command's words (empty while running). */
  findings: string[];
  reproduce: string;
  /** Where the full report is: a path of this server (`/check/{id}/report`) or, for a CLI check, a file. */
  report: string | null;
  /** Why the check did not complete (state `failed`). */
  error?: string;
}

/** What the server hands a live check's thread (workers/check.ts). */
export interface CheckWorkerData {
  id: string;
  options: CheckOptions;
  /** The path the full report is served at. */
  report: string;
}

/** What a live check's thread posts: its summary as it runs, then the last one. */
export interface CheckWorkerMessage {
  type: 'summary' | 'end';
  summary: CheckSummary;
}

/**
 * Follows a running check for the live view: reads the history's new events and the fault
 * windows each time it is asked for a summary, decides each key's verdict as the history
 * grows ({@link LiveVerdict}), and counts outcomes per second of the run.
 */
export class LiveTracker {
  readonly #summary: CheckSummary;
  readonly #verdict = new LiveVerdict();
  #run: RunningCheck | null = null;
  #read = 0;
  /** Red keys whose witness ran out of its budget while running: cut again at the end. */
  readonly #uncut = new Set<string>();

  constructor(id: string, source: CheckSource, options: CheckOptions, clock: Clock) {
    this.#summary = {
      id,
      source,
      parameters: options,
      state: 'starting',
      startedAt: clock.wall(),
      elapsedMs: 0,
      counts: { invoked: 0, ok: 0, fail: 0, info: 0 },
      perSecond: [],
      faults: [],
      keys: [],
      witnesses: {},
      verdict: null,
      findings: [],
      reproduce: reproduceCommand(options),
      report: null,
    };
  }

  /** The run to follow (runCheck's `observe` hook). */
  observe(run: RunningCheck): void {
    this.#run = run;
  }

  /** Takes in what happened since the last call and searches the keys that allow it. */
  update(final = false): CheckSummary {
    const summary = this.#summary;
    const run = this.#run;
    if (run === null) return summary;
    const { events } = run.history;
    for (; this.#read < events.length; this.#read++) {
      const event = events[this.#read]!;
      this.#verdict.add(event);
      if (event.type === 'invoke') {
        summary.counts.invoked++;
        continue;
      }
      summary.counts[event.type]++;
      const second = Math.floor(event.time / 1000);
      let row = summary.perSecond.at(-1);
      // Seconds with no outcome get their row too: a stalled run shows as zero.
      while (row === undefined || row[0] < second) {
        row = [(row?.[0] ?? -1) + 1, 0, 0, 0];
        summary.perSecond.push(row);
      }
      row[event.type === 'ok' ? 1 : event.type === 'fail' ? 2 : 3]++;
    }
    const now = run.now;
    const faults = run.faults.map((window) => ({ ...window }));
    this.#verdict.checkQuiescent(now, final);
    summary.keys = this.#verdict.keys.map(({ key, ops, checked, verdict }) => ({
      key,
      ops,
      checked,
      verdict,
    }));
    // Why each red key is red (the first few): cut once, when it turns red (at the end, for
    // one whose cut ran out of budget while running).
    for (const { key, verdict } of summary.keys) {
      if (verdict !== 'invalid' || key in summary.witnesses || this.#uncut.has(key)) continue;
      if (Object.keys(summary.witnesses).length >= WITNESSES_KEPT) break;
      const witness = witnessOf(key, this.#verdict.operationsOf(key), faults, LIVE_STEPS);
      if (witness !== null) summary.witnesses[key] = witness;
      else if (!final) this.#uncut.add(key);
    }
    if (final) this.#uncut.clear();
    summary.faults = faults;
    if (summary.verdict === null && summary.state !== 'failed') summary.state = run.phase;
    summary.elapsedMs = now;
    return summary;
  }

  /**
   * The judge's verdict, and `findings` in the command's words: the check is over.
   * `stopped`: it was ended early.
   */
  finish(results: CheckResults, findings: string[], report: string, stopped: boolean): CheckSummary {
    // Every event in, then the judge's verdicts: the keys it searched are not searched again.
    this.update();
    if (this.#run !== null) this.#verdict.adopt(this.#run.judged);
    this.update(true);
    const summary = this.#summary;
    summary.state = stopped ? 'stopped' : 'done';
    summary.verdict = results.valid;
    summary.findings = findings;
    summary.reproduce = results.reproduce;
    summary.elapsedMs = results.runMs;
    summary.faults = results.faults;
    summary.report = report;
    // The judge's witness for its key, cut with the full budget, is the one report.html shows.
    const lin = results.checks.linearizability;
    if (lin.valid === false && lin.witness !== undefined) summary.witnesses[lin.key] = lin.witness;
    return summary;
  }

  /** The check did not complete: no verdict. */
  fail(err: Error): CheckSummary {
    this.update();
    this.#summary.state = 'failed';
    this.#summary.error = err.message;
    return this.#summary;
  }
}
