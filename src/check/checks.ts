import { mayHaveWritten, type Completed } from './history.js';

/** A key's final read when every replica's value was lost (VALUE_LOST): no write's value. */
export const VALUE_LOST = Symbol('value lost');

/** What a key's final read found: a value, nothing, or a value lost (see {@link VALUE_LOST}). */
export type Final = string | null | typeof VALUE_LOST;

/** An operation as a check's finding names it: its history indexes and what it did. */
export interface Named {
  invoke: number;
  end: number | null;
  process: number;
  f: string;
  key: string;
  value?: string | null;
}

function named({ invoke, end }: Completed): Named {
  const out: Named = {
    invoke: invoke.index,
    end: end?.index ?? null,
    process: invoke.process,
    f: invoke.f,
    key: invoke.key,
  };
  const value = invoke.f === 'read' ? end?.value : invoke.value;
  if (value !== undefined) out.value = value;
  return out;
}

/**
 * Acknowledged writes that are gone (Jepsen's set-full idea, for a register): a write,
 * create, delete or delete-if-present acknowledged `ok` whose effect the final read of its
 * key does not show (its value; for a delete, nothing), though no other write of that key
 * could have come after it (every other write of the key that may have happened had
 * returned before it was invoked). A delete coming back is as lost as a write going.
 * `finals` holds each key's final read; a key whose final read failed is not judged. A value
 * the storage lost ({@link VALUE_LOST}) matches no write: the key's last writes are lost.
 */
export function lostWrites(history: readonly Completed[], finals: ReadonlyMap<string, Final>): Named[] {
  const byKey = new Map<string, Completed[]>();
  for (const op of history) {
    if (!mayHaveWritten(op)) continue;
    let ops = byKey.get(op.invoke.key);
    if (ops === undefined) byKey.set(op.invoke.key, (ops = []));
    ops.push(op);
  }
  const lost: Named[] = [];
  for (const [key, ops] of byKey) {
    if (!finals.has(key)) continue;
    const final = finals.get(key);
    // Another write may have come after `op` if it returned at or after op's call (or never
    // returned): the two latest returns of the key are enough to tell, for every `op`.
    const returned = ops.map((other) => other.end?.time ?? Infinity);
    let latest = -Infinity;
    let second = -Infinity;
    for (const time of returned) {
      if (time > latest) [latest, second] = [time, latest];
      else if (time > second) second = time;
    }
    ops.forEach((op, i) => {
      if (op.end?.type !== 'ok') return;
      const expected = op.invoke.value ?? null; // a delete leaves nothing
      if (expected === final) return;
      const latestOther = returned[i] === latest ? second : latest;
      if (latestOther < op.invoke.time) lost.push(named(op));
    });
  }
  return lost;
}

/**
 * Reads that returned a value no write or create had been invoked with before the read
 * returned, or one whose write certainly failed (refused before any replica saw it).
 */
export function readsOfUnwritten(history: readonly Completed[]): Named[] {
  const invokedAt = new Map<string, number>();
  for (const { invoke, end } of history) {
    if (end?.type === 'fail') continue;
    if ((invoke.f === 'write' || invoke.f === 'create') && typeof invoke.value === 'string') {
      invokedAt.set(`${invoke.key}\n${invoke.value}`, invoke.time);
    }
  }
  return history
    .filter(({ invoke, end }) => {
      if (invoke.f !== 'read' || end?.type !== 'ok' || typeof end.value !== 'string') return false;
      const at = invokedAt.get(`${invoke.key}\n${end.value}`);
      return at === undefined || at > end.time;
    })
    .map(named);
}
