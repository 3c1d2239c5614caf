import type { Completed } from './history.js';
import type { Final } from './checks.js';
import { VALUE_LOST } from './checks.js';

/** A change as the checker's watch saw it: a put's value as the history names it (unpadded), else null. */
export interface SeenChange {
  type: 'put' | 'delete' | 'expire';
  key: string;
  version: number;
  /** A put's value, when it travelled in the event; undefined when only its size did. */
  value?: string;
}

/** What the watch check found: the watch as a second history source, held against the first. */
export interface WatchFindings {
  /** Whether the run watched its keys (every mode does; false only when the target cannot). */
  checked: boolean;
  valid: boolean;
  /** Changes the watch delivered. */
  changes: number;
  /** Versions that came out of order or twice. */
  outOfOrder: number[];
  /** Acknowledged writes and deletes the watch never reported. */
  missing: string[];
  /** Reported puts of a value no write could have written (never invoked, or certainly failed). */
  unexpected: string[];
  /** Keys whose last reported change disagrees with their final read. */
  finalsDiffer: string[];
}

/**
 * Holds a watch of the run's keys against its history (the checker's second source, as
 * etcd's robustness tests hold watch events against the writes they made): versions
 * strictly ascending, each once; every write and create acknowledged `ok` reported as a put
 * of its value, every delete acknowledged `ok` as a delete of its key (a count: deletes carry
 * no value); no put of a value that was never written or whose write certainly failed; and
 * each key's last reported change agreeing with its final read, unless some write of the key
 * was indeterminate (it is never reported, and a replica may still hold it). A put whose
 * value did not travel (larger than the events carry) is matched by count only.
 */
export function checkWatch(
  completed: readonly Completed[],
  seen: readonly SeenChange[],
  finals: ReadonlyMap<string, Final>,
): WatchFindings {
  const outOfOrder: number[] = [];
  for (let i = 1; i < seen.length; i++)
    if (seen[i]!.version <= seen[i - 1]!.version) outOfOrder.push(seen[i]!.version);

  const puts = new Map<string, number>();
  const deletes = new Map<string, number>();
  const sizedOnly = new Map<string, number>();
  const bump = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);
  for (const change of seen) {
    if (change.type === 'put') {
      if (change.value === undefined) bump(sizedOnly, change.key);
      else bump(puts, `${change.key}\n${change.value}`);
    } else if (change.type === 'delete') bump(deletes, change.key);
  }

  const missing: string[] = [];
  const okDeletes = new Map<string, number>();
  const possible = new Set<string>();
  // Keys with a write that may or may not have happened: it is never reported, yet a replica
  // may hold it and the final read show it, so their final reads are not held against the watch.
  const undecided = new Set<string>();
  for (const { invoke, end } of completed) {
    const { f, key } = invoke;
    if (f !== 'read' && (end === null || end.type === 'info')) undecided.add(key);
    if (f === 'write' || f === 'create') {
      const named = `${key}\n${String(invoke.value)}`;
      if (end?.type !== 'fail') possible.add(named);
      if (end?.type !== 'ok') continue;
      if ((puts.get(named) ?? 0) > 0) continue;
      // Its value did not travel: one sized-only put of the key accounts for it.
      const sized = sizedOnly.get(key) ?? 0;
      if (sized > 0) sizedOnly.set(key, sized - 1);
      else missing.push(`client ${invoke.process}'s ${f} of ${JSON.stringify(invoke.value)} to ${key}`);
    } else if ((f === 'delete' || f === 'delete-if-present') && end?.type === 'ok') bump(okDeletes, key);
  }
  for (const [key, count] of okDeletes) {
    const reported = deletes.get(key) ?? 0;
    if (reported < count) missing.push(`${count - reported} of ${count} acknowledged deletes of ${key}`);
  }
  const unexpected = seen
    .filter((c) => c.type === 'put' && c.value !== undefined && !possible.has(`${c.key}\n${c.value}`))
    .map((c) => `a put of ${JSON.stringify(c.value)} to ${c.key} at version ${c.version}`);

  const last = new Map<string, SeenChange>();
  for (const change of seen) last.set(change.key, change);
  const finalsDiffer: string[] = [];
  for (const [key, final] of finals) {
    const change = last.get(key);
    if (change === undefined || final === VALUE_LOST || undecided.has(key)) continue;
    const shown = change.type === 'put' ? change.value : null;
    if (shown !== undefined && shown !== final)
      finalsDiffer.push(
        `${key}: the watch ends at ${JSON.stringify(shown)}, the final read is ${JSON.stringify(final)}`,
      );
  }
  return {
    checked: true,
    valid:
      outOfOrder.length === 0 && missing.length === 0 && unexpected.length === 0 && finalsDiffer.length === 0,
    changes: seen.length,
    outOfOrder,
    missing,
    unexpected,
    finalsDiffer,
  };
}
