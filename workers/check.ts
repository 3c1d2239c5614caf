/**
 * A live check's thread: the server starts one for `POST /check` (src/check/live-checks.ts).
 * It runs the same check `thunderdb check --url` runs, against the server's own URL, so a
 * check from the dashboard costs the cluster what one from the command line does, and its
 * judging never holds the front end's event loop. It posts a summary of the run every
 * {@link SUMMARY_EVERY_MS} ms, then the last one when the check is over; the message `stop`
 * ends the workload early (the run still heals every fault it made, then is judged).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { formatFindings } from '../src/check/command.js';
import {
  LiveTracker,
  type CheckSummary,
  type CheckWorkerData,
  type CheckWorkerMessage,
} from '../src/check/live-tracker.js';
import { runCheck } from '../src/check/run.js';
import { systemClock } from '../src/time/clock.js';

/** How often the running check's summary is posted: twice per push of the dashboard's feed. */
const SUMMARY_EVERY_MS = 500;

const { id, options, report } = workerData as CheckWorkerData;
const port = parentPort!;
const stop = new AbortController();
port.on('message', (message) => {
  if (message === 'stop') stop.abort();
});
const tracker = new LiveTracker(id, 'dashboard', options, systemClock);
const post = (type: CheckWorkerMessage['type'], summary: CheckSummary) =>
  port.postMessage({ type, summary } satisfies CheckWorkerMessage);
const timer = setInterval(() => post('summary', tracker.update()), SUMMARY_EVERY_MS);
let last: CheckSummary;
try {
  const results = await runCheck(options, () => {}, {
    signal: stop.signal,
    observe: (run) => tracker.observe(run),
  });
  last = tracker.finish(results, formatFindings(results), report, stop.signal.aborted);
} catch (err) {
  last = tracker.fail(err as Error);
} finally {
  clearInterval(timer);
}
post('end', last!);
// Nothing more to hear: the thread ends once its last message is out.
port.unref();
