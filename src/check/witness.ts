/**
 * Why a key is not linearizable, small enough to read at a glance: the smallest sub-history
 * of its operations found that is still not linearizable (delta debugging, as Zeller's ddmin
 * shrinks a failing input), where the search got furthest in it, the write that made the
 * blocked read stale, and the faults in force then. The CLI, report.html and the live
 * dashboard all show this one witness.
 */

import { DEFAULT_MAX_STEPS } from '../config.js';
import { staleWrite } from './stale-write.js';
import { checkKey, type Operation } from './linearizability.js';
import type { AppliedWindow } from './schedule.js';

export interface Witness {
  key: string;
  /** The smallest sub-history of the key found that is still not linearizable, in call order. */
  operations: Operation[];
  /** Of those, the longest prefix the search could order, in that order. */
  ordered: Operation[];
  /** The first operation that cannot be placed after them. */
  blocked: Operation;
  /** The write (or delete/create) that made the blocked read stale, if one can be named. */
  staleBy: Operation | null;
  /** Fault windows in force at any time between staleBy's call (or blocked's call) and blocked's return. */
  faults: AppliedWindow[];
  /** How many operations the key had before minimising. */
  from: number;
  /**
   * Whether minimising ran to its end: no operation of `operations` can be left out (with
   * the reads that may have seen it, see {@link without}) and the rest still be found not
   * linearizable. False when the
   * step budget ran out first; `operations` is then smaller than `from`, just not minimal.
   */
  minimal: boolean;
}

/** The first search's step budget for a candidate, per operation in it: most searches need ~2 a step. */
const FIRST_STEPS_PER_OP = 8;

/**
 * The candidate sub-history `current` without `removed` and without the reads that may have
 * seen what a removed operation did: those that returned the value a removed write or create
 * wrote, and those that returned nothing after a removed delete could have taken effect
 * (called before they returned). Left in, such a read would be from nowhere (a value never
 * written; nothing, just after a write), not linearizable however the rest behaved: the
 * witness would shrink to it and a write, explaining nothing of what happened. Null when
 * nothing would be left out or nothing left.
 */
export function without(current: readonly Operation[], removed: ReadonlySet<Operation>): Operation[] | null {
  const unwritten = new Set<string>();
  let firstDelete = Infinity;
  for (const { input, call } of removed) {
    if (input.kind === 'write' || input.kind === 'create') unwritten.add(input.value);
    else if (input.kind !== 'read') firstDelete = Math.min(firstDelete, call);
  }
  const kept = current.filter((op) => {
    if (removed.has(op)) return false;
    if (op.input.kind !== 'read' || op.ret === null) return true;
    const value = op.output.value ?? null;
    return value === null ? op.ret < firstDelete : !unwritten.has(value);
  });
  return kept.length === 0 || kept.length === current.length ? null : kept;
}

/** `op`, or the operation of `among` it is a tightened copy of (checkKey copies indeterminate writes a read saw). */
function originalOf(op: Operation, among: readonly Operation[]): Operation {
  return (
    among.find((o) => o === op) ??
    among.find((o) => o.client === op.client && o.call === op.call && o.input === op.input) ??
    op
  );
}

/** Whether fault window `w` was in force at any time from `start` to `end` (ms since the run's start). */
const overlaps = (w: AppliedWindow, start: number, end: number) =>
  w.skipped === undefined && w.began <= end && (w.ended ?? Infinity) >= start;

/**
 * The witness of a key that is not linearizable; null when it is linearizable or its search
 * gives up. `operations`: the key's, reads that did not complete left out (as
 * checkLinearizability leaves them); `faults`: the run's windows, on the operations' clock.
 *
 * Minimising drops operations, halves of the history first, then quarters, down to one at a
 * time, repeated until no single operation can go (each with the reads that may have seen
 * it, see {@link without}): a drop stays when the rest is still found not linearizable. A search
 * that gives up counts as "not found invalid", so the operation stays. Every search draws on
 * one budget of `maxSteps` steps (default DEFAULT_MAX_STEPS) besides the first full check;
 * once spent, the witness is the smallest sub-history found so far (`minimal` false). The
 * same operations always give the same witness.
 */
export function witnessOf(
  key: string,
  operations: Operation[],
  faults: readonly AppliedWindow[],
  maxSteps = DEFAULT_MAX_STEPS,
): Witness | null {
  const first = checkKey(operations, maxSteps);
  if (first.valid !== false) return null;
  // Ties broken by the caller's order: Array.prototype.sort is stable.
  let current = operations.slice().sort((a, b) => a.call - b.call);
  let kept = new Set(current);
  let budget = maxSteps;
  /**
   * Whether `ops` is found not linearizable within the budget. Each search starts with a
   * small step cap and doubles it while the search gives up, so an easy candidate costs
   * little and the budget is charged at most twice what the searches needed.
   */
  const invalid = (ops: Operation[]): boolean => {
    for (let cap = FIRST_STEPS_PER_OP * ops.length + 64; ; cap *= 2) {
      const steps = Math.min(cap, budget);
      if (steps <= 0) return false;
      budget -= steps;
      const result = checkKey(ops, steps);
      if (result.valid !== 'unknown') return result.valid === false;
      if (steps < cap) return false;
    }
  };
  const tryDropping = (removed: ReadonlySet<Operation>): boolean => {
    const candidate = without(current, removed);
    if (candidate === null || !invalid(candidate)) return false;
    current = candidate;
    kept = new Set(current);
    return true;
  };

  // Nothing called after the blocked operation returned is needed to block it: one search
  // usually discards most of a long history.
  const blockedRet = first.explanation.blocked.ret;
  if (blockedRet !== null) tryDropping(new Set(current.filter((op) => op.call > blockedRet)));

  let minimal = false;
  for (let size = 2 ** Math.floor(Math.log2(Math.max(1, current.length / 2))); budget > 0;) {
    // Chunks of `size` of the candidate as it stands, from its end: recent operations
    // matter less often, and each drop leaves the earlier chunks as they were.
    const snapshot = current;
    let dropped = false;
    for (let end = snapshot.length; end > 0 && budget > 0; end -= size) {
      const chunk = new Set(snapshot.slice(Math.max(0, end - size), end).filter((op) => kept.has(op)));
      if (chunk.size > 0 && tryDropping(chunk)) dropped = true;
    }
    if (size > 1) size = Math.max(1, Math.floor(size / 2));
    else if (!dropped) {
      minimal = budget > 0;
      break;
    }
  }

  const final = checkKey(current, maxSteps);
  // Every candidate kept was found invalid by this same search, which is deterministic.
  if (final.valid !== false)
    throw new Error(`witnessOf: the sub-history of key ${key} checked invalid, then not`);
  const ordered = final.explanation.ordered.map((op) => originalOf(op, current));
  const blocked = originalOf(final.explanation.blocked, current);
  const stale = staleWrite({ ordered, state: final.explanation.state, blocked });
  const start = Math.min(blocked.call, stale?.call ?? Infinity);
  const end = blocked.ret ?? Infinity;
  return {
    key,
    operations: current,
    ordered,
    blocked,
    staleBy: stale,
    faults: faults.filter((w) => overlaps(w, start, end)),
    from: operations.length,
    minimal,
  };
}
