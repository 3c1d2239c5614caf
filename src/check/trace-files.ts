import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readPage } from '../pages.js';
import type { TraceRecorder } from '../sim/trace.js';
import type { HistoryEvent } from './history.js';
import type { CheckResults } from './results.js';

/**
 * The largest trace put inside replay.html: a page of this size still opens in a browser
 * from disk; a larger trace is opened from the page's file chooser or `/replay?file=`.
 * 32 MiB.
 */
export const MAX_EMBEDDED_TRACE_BYTES = 32 * 1024 * 1024;

/** Where replay.html takes an embedded trace: the element the page reads it from. */
const EMBED_SLOT = '<script type="application/x-ndjson" id="embedded-trace"></script>';

/** What {@link writeTraceFiles} wrote. */
export interface TraceFiles {
  trace: string;
  bytes: number;
  events: number;
  /** replay.html with the trace inside, or null when the trace was too large to embed. */
  replay: string | null;
}

/** Rounds ms to the µs, as the trace's events are. */
const micros = (ms: number): number => Math.round(ms * 1000) / 1000;

/**
 * The trace's header: what the run was (seed, every parameter but the output folder, which
 * does not change the run), its event-log hash, nodes, clients and keys, and its verdict:
 * for a run that is not linearizable, the blocked operation, with the history index of its
 * call, so the page can jump there.
 */
export function traceHeader(
  results: CheckResults,
  events: readonly HistoryEvent[],
  keys: readonly string[],
  nodes: readonly number[],
): Record<string, unknown> {
  const parameters: Partial<CheckResults['parameters']> = { ...results.parameters };
  delete parameters.out;
  const lin = results.checks.linearizability;
  let violation: Record<string, unknown> | null = null;
  if (lin.valid === false) {
    const { client, call, ret } = lin.explanation.blocked;
    const invoke = events.find(
      (e) => e.type === 'invoke' && e.process === client && e.key === lin.key && e.time === call,
    );
    violation = {
      key: lin.key,
      client,
      call: micros(call),
      ret: ret === null ? null : micros(ret),
      invoke: invoke?.index ?? null,
    };
  }
  return {
    seed: results.seed,
    parameters,
    hash: results.eventLogHash ?? null,
    nodes,
    clients: results.parameters.clients,
    keys,
    valid: results.valid,
    violation,
    faults: results.faults.map((w) => ({
      ...w,
      began: micros(w.began),
      ended: w.ended === null ? null : micros(w.ended),
    })),
  };
}

/**
 * Writes `out/trace.jsonl` and, when the trace is at most {@link MAX_EMBEDDED_TRACE_BYTES},
 * `out/replay.html`: the replay page with the trace inside, opened from disk with no server.
 * Every `<` of the trace is written `\u003c` (it only occurs inside JSON strings), so no
 * key or value can close the script element that holds it.
 */
export async function writeTraceFiles(
  out: string,
  recorder: TraceRecorder,
  header: Record<string, unknown>,
): Promise<TraceFiles> {
  const text = recorder.toJsonLines(header);
  const trace = join(out, 'trace.jsonl');
  await writeFile(trace, text);
  const bytes = Buffer.byteLength(text);
  let replay: string | null = null;
  if (bytes <= MAX_EMBEDDED_TRACE_BYTES) {
    replay = join(out, 'replay.html');
    const page = readPage('replay.html');
    const embedded = `<script type="application/x-ndjson" id="embedded-trace">\n${text.replace(/</g, '\\u003c')}</script>`;
    // A function replacement: `$` in the trace is not a replacement pattern.
    await writeFile(
      replay,
      page.replace(EMBED_SLOT, () => embedded),
    );
  }
  return { trace, bytes, events: recorder.length, replay };
}
