/**
 * Per-key linearizability of a key-value history: the Wing–Gong–Lowe search with Lowe's
 * memoisation, split by key, as Porcupine does it (github.com/anishathalye/porcupine,
 * checker.go). No JavaScript checker exists on npm (design.md §7), so this is one.
 *
 * Each key is a register holding a value or nothing. An operation that ended without an
 * answer (a timeout, a 503: it may or may not have happened) is *indeterminate*: its return
 * time is infinite, and it may take effect at any point after its call, or never.
 */

import { mix32 } from '../time/rng.js';
import { DEFAULT_MAX_STEPS } from '../config.js';

/** What a client asked of one key. */
export type Input =
  | { kind: 'read' }
  | { kind: 'write'; value: string }
  | { kind: 'delete' }
  /** `If-None-Match: *`: writes `value` only if the key holds nothing. */
  | { kind: 'create'; value: string }
  /** `DELETE` with `If-Match: *`: deletes only if the key holds a value. */
  | { kind: 'delete-if-present' };

/** What it answered: a read's value (null: absent); whether a create or delete-if-present succeeded. */
export interface Output {
  value?: string | null;
  ok?: boolean;
}

/** One operation of a history. */
export interface Operation {
  client: number;
  key: string;
  input: Input;
  /** When it was called and when it returned, on one clock; `ret` null: indeterminate. */
  call: number;
  ret: number | null;
  /** The answer; ignored for an indeterminate operation. */
  output: Output;
}

/**
 * The verdict for a history: valid; invalid, naming the first key whose operations admit no
 * order and explaining where the search got furthest; or unknown, when a key's search ran
 * out of its step budget before an answer (many concurrent indeterminate writes can make
 * the search exponential, as in Porcupine).
 */
export type Verdict =
  | { valid: true }
  | { valid: false; key: string; operations: Operation[]; explanation: Explanation }
  | { valid: 'unknown'; key: string; steps: number };

/**
 * Where the search for an order got furthest: the operations it could order, in that order,
 * the register's value after them, and the operation that then returned before it could be
 * placed (no order puts it anywhere its answer is possible).
 */
export interface Explanation {
  ordered: Operation[];
  state: string | null;
  blocked: Operation;
}

type State = string | null;

/**
 * The register's step: the state after `op` from `state`, or undefined when `op`'s answer is
 * impossible there. An indeterminate operation's answer is unknown, so it always steps.
 */
function step(state: State, op: Operation): State | undefined {
  const { input, output } = op;
  const known = op.ret !== null;
  switch (input.kind) {
    case 'read':
      return !known || output.value === state ? state : undefined;
    case 'write':
      return input.value;
    case 'delete':
      return null;
    case 'create':
      if (!known) return state === null ? input.value : state;
      if (output.ok) return state === null ? input.value : undefined;
      return state !== null ? state : undefined;
    case 'delete-if-present':
      if (!known) return null;
      if (output.ok) return state !== null ? null : undefined;
      return state === null ? null : undefined;
  }
}

interface Entry {
  op: number;
  call: boolean;
  time: number;
  /** The call's return entry (on a call entry). */
  match: Entry | null;
  prev: Entry | null;
  next: Entry | null;
}

/** What one key's search found. */
export type KeyResult =
  { valid: true } | { valid: false; explanation: Explanation } | { valid: 'unknown'; steps: number };

/**
 * Checks one key's operations: valid when some order of them, within their real-time bounds,
 * is a legal register history. Gives up (unknown) after `maxSteps` steps.
 */
function linearizable(ops: Operation[], maxSteps: number): KeyResult {
  // Events in time order; a call before a return at the same time (so touching operations
  // count as concurrent: the lenient reading of equal clock readings).
  const events: Entry[] = [];
  ops.forEach((op, i) => {
    const ret: Entry = { op: i, call: false, time: op.ret ?? Infinity, match: null, prev: null, next: null };
    events.push({ op: i, call: true, time: op.call, match: ret, prev: null, next: null }, ret);
  });
  events.sort((a, b) => a.time - b.time || (a.call === b.call ? 0 : a.call ? -1 : 1));
  const head: Entry = { op: -1, call: false, time: -Infinity, match: null, prev: null, next: null };
  let last = head;
  for (const entry of events) {
    last.next = entry;
    entry.prev = last;
    last = entry;
  }
  const lift = (entry: Entry) => {
    entry.prev!.next = entry.next;
    if (entry.next) entry.next.prev = entry.prev;
    const ret = entry.match!;
    ret.prev!.next = ret.next;
    if (ret.next) ret.next.prev = ret.prev;
  };
  const unlift = (entry: Entry) => {
    const ret = entry.match!;
    ret.prev!.next = ret;
    if (ret.next) ret.next.prev = ret;
    entry.prev!.next = entry;
    if (entry.next) entry.next.prev = entry;
  };
  // Lowe's memoisation: a (set of operations linearized, state) pair already explored cannot
  // lead anywhere new. The set is kept as a 64-bit Zobrist hash, updated per placement (a
  // random 64 bits per operation, XORed in and out): O(1) a step where writing the set out
  // would cost O(n). The pair is remembered as a number (53 bits of hash and state) with 32
  // more bits to confirm it, all drawn from the set's 64-bit hash and the state: two
  // different sets with one state are taken for one with probability 2^-64.
  const zobristA = Uint32Array.from(ops, (_, i) => mix32(i * 2 + 1));
  const zobristB = Uint32Array.from(ops, (_, i) => mix32(~(i * 2)));
  const stateIds = new Map<State, number>([[null, 0]]);
  const stateId = (value: State) => {
    let id = stateIds.get(value);
    if (id === undefined) stateIds.set(value, (id = stateIds.size));
    return id;
  };
  let hashA = 0;
  let hashB = 0;
  const seen = new Map<number, number>();
  /** Remembers a pair; false if it was remembered already. */
  const remember = (a: number, b: number, state: number): boolean => {
    const mixed = mix32(b ^ Math.imul(state, 0x9e3779b1));
    const key = (a >>> 0) * 2 ** 21 + (mixed & 0x1fffff);
    const check = mix32(mixed ^ state) ^ (b >>> 0);
    if (seen.get(key) === check) return false;
    // A different pair with the same 53 bits (rare) replaces it: that costs only work.
    seen.set(key, check);
    return true;
  };
  const calls: { entry: Entry; state: State }[] = [];
  let deepest: Explanation | null = null;
  let state: State = null;
  let entry = head.next;
  let steps = 0;
  while (head.next !== null) {
    if (++steps > maxSteps) return { valid: 'unknown', steps };
    if (entry!.call) {
      const i = entry!.op;
      const next = step(state, ops[i]!);
      if (next !== undefined) {
        if (remember(hashA ^ zobristA[i]!, hashB ^ zobristB[i]!, stateId(next))) {
          hashA ^= zobristA[i]!;
          hashB ^= zobristB[i]!;
          calls.push({ entry: entry!, state });
          state = next;
          lift(entry!);
          entry = head.next;
          continue;
        }
      }
      entry = entry!.next;
    } else {
      // A return whose call could not be placed: undo the last placement and try further on.
      if (deepest === null || calls.length > deepest.ordered.length) {
        deepest = { ordered: calls.map((c) => ops[c.entry.op]!), state, blocked: ops[entry!.op]! };
      }
      const top = calls.pop();
      if (top === undefined) return { valid: false, explanation: deepest };
      hashA ^= zobristA[top.entry.op]!;
      hashB ^= zobristB[top.entry.op]!;
      state = top.state;
      unlift(top.entry);
      entry = top.entry.next;
    }
  }
  return { valid: true };
}

/**
 * A key's operations with what the reads say of the indeterminate writes (every value is
 * written once, as the checker's workload writes them). An indeterminate write or create
 * whose value some read returned did happen, before that read returned: it gets the earliest
 * such return as its own (a create: as one that succeeded). One whose value no read returned
 * may be taken to have never happened, when no operation of the key succeeded or failed
 * because the key held some value (a refused create, a delete-if-present done): in any order
 * that has it, what follows it until the next write could only be reads of its value (none)
 * or such operations (none), so the order without it is legal too. Both leave the verdict as
 * it was and spare the search the orders of operations that never return, which grow
 * exponentially with their number.
 */
function tighten(ops: Operation[]): Operation[] {
  const firstRead = new Map<string, number>();
  for (const op of ops) {
    const value = op.output.value;
    if (op.input.kind === 'read' && typeof value === 'string' && op.ret !== null) {
      firstRead.set(value, Math.min(op.ret, firstRead.get(value) ?? Infinity));
    }
  }
  const needsSomeValue = ops.some(
    (op) =>
      op.ret !== null &&
      ((op.input.kind === 'create' && op.output.ok === false) ||
        (op.input.kind === 'delete-if-present' && op.output.ok === true)),
  );
  const out: Operation[] = [];
  for (const op of ops) {
    if (op.ret !== null || (op.input.kind !== 'write' && op.input.kind !== 'create')) {
      out.push(op);
      continue;
    }
    const seenBy = firstRead.get(op.input.value);
    if (seenBy !== undefined) out.push({ ...op, ret: Math.max(seenBy, op.call), output: { ok: true } });
    else if (needsSomeValue) out.push(op);
  }
  return out;
}

/**
 * Checks one key's operations (reads that did not complete already left out): valid, invalid
 * with where the search got furthest, or unknown past `maxSteps`.
 */
export function checkKey(operations: Operation[], maxSteps = DEFAULT_MAX_STEPS): KeyResult {
  return linearizable(tighten(operations), maxSteps);
}

/**
 * Checks a history key by key; the first key that is not linearizable makes it invalid. A
 * read that did not complete says nothing and is left out. `eachKey` hears each key's
 * verdict as it is found (none past the first invalid key).
 */
export function checkLinearizability(
  history: readonly Operation[],
  maxSteps = DEFAULT_MAX_STEPS,
  eachKey?: Map<string, KeyResult['valid']>,
): Verdict {
  const byKey = new Map<string, Operation[]>();
  for (const op of history) {
    if (op.input.kind === 'read' && op.ret === null) continue;
    let ops = byKey.get(op.key);
    if (ops === undefined) byKey.set(op.key, (ops = []));
    ops.push(op);
  }
  let unknown: Verdict | null = null;
  for (const [key, operations] of byKey) {
    const result = checkKey(operations, maxSteps);
    eachKey?.set(key, result.valid);
    if (result.valid === false) return { valid: false, key, operations, explanation: result.explanation };
    if (result.valid === 'unknown') unknown ??= { valid: 'unknown', key, steps: result.steps };
  }
  return unknown ?? { valid: true };
}
