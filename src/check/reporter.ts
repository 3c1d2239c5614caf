import { resolve } from 'node:path';
import type { Clock } from '../time/clock.js';
import { LiveTracker, type CheckSummary } from './live-tracker.js';
import type { CheckOptions, CheckResults } from './results.js';
import type { CheckHooks } from './run.js';

/** How often `thunderdb check --url` tells the cluster how its check is going. */
const REPORT_EVERY_MS = 1000;
/** How long one report may take before the cluster counts as not listening. */
const REPORT_TIMEOUT_MS = 5000;

/**
 * Tells the cluster at `--url` how a `thunderdb check --url` run goes (`PUT /check/{id}`),
 * so its dashboard shows it as it shows a check it started itself; the answer says whether
 * someone asked it to stop there. A cluster that refuses (another check is running, or an
 * older server without `/check`) is said once, and the check runs on unreported.
 */
export class CheckReporter {
  readonly #url: string;
  readonly #tracker: LiveTracker;
  readonly #stop = new AbortController();
  readonly #log: (line: string) => void;
  readonly #clock: Clock;
  readonly id: string;
  #timer: () => void = () => {};
  #off = false;
  #sending: Promise<void> = Promise.resolve();

  constructor(url: string, options: CheckOptions, clock: Clock, log: (line: string) => void) {
    this.#url = url.replace(/\/+$/, '');
    this.#clock = clock;
    this.id = `cli-${options.seed}-${clock.wall().toString(36)}`;
    this.#tracker = new LiveTracker(this.id, 'cli', options, clock);
    this.#log = log;
  }

  /** The hooks to run the check with: the tracker watches it; a stop asked for ends its workload. */
  get hooks(): CheckHooks {
    return { signal: this.#stop.signal, observe: (run) => this.#tracker.observe(run) };
  }

  /** Registers the check; then reports every second until {@link finish}. */
  async start(): Promise<void> {
    await this.#send(this.#tracker.update());
    if (this.#off) return;
    this.#log(`shown live at ${this.#url}/ (check ${this.id})`);
    const tick = () => {
      if (this.#off) return;
      // One report at a time, in order: a late one never lands after a later one.
      this.#sending = this.#sending.then(() => this.#send(this.#tracker.update()));
      this.#timer = this.#clock.setTimer(REPORT_EVERY_MS, tick);
    };
    this.#timer = this.#clock.setTimer(REPORT_EVERY_MS, tick);
  }

  /** The last report: the verdict, and where the report is (on this machine). */
  async finish(results: CheckResults, findings: string[], out: string): Promise<void> {
    this.#timer();
    await this.#sending;
    if (this.#off) return;
    const summary = this.#tracker.finish(
      results,
      findings,
      resolve(out, 'report.html'),
      this.#stop.signal.aborted,
    );
    await this.#send(summary);
  }

  /** The check did not complete. */
  async fail(err: Error): Promise<void> {
    this.#timer();
    await this.#sending;
    if (this.#off) return;
    await this.#send(this.#tracker.fail(err));
  }

  async #send(summary: CheckSummary): Promise<void> {
    if (this.#off) return;
    try {
      const res = await fetch(`${this.#url}/check/${this.id}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(summary),
        // A cluster that takes the connection and never answers must not hold the check up.
        signal: AbortSignal.timeout(REPORT_TIMEOUT_MS),
      });
      const answer = (await res.json().catch(() => null)) as {
        stop?: boolean;
        error?: { code?: string; message?: string };
      } | null;
      if (!res.ok) {
        this.#off = true;
        this.#log(
          `not shown on the cluster's dashboard: ${answer?.error?.message ?? `PUT /check answered ${res.status}`}`,
        );
        return;
      }
      if (answer?.stop === true && !this.#stop.signal.aborted) {
        this.#log('stop asked for on the dashboard: ending the workload, then healing and judging');
        this.#stop.abort();
      }
    } catch (err) {
      this.#off = true;
      this.#log(`not shown on the cluster's dashboard: ${(err as Error).message}`);
    }
  }
}
