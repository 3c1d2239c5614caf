/**
 * Per-key linearizability of a key-value history: the Wing–Gong–Lowe search with Lowe's
 * memoisation, split by key, as Porcupine does it (github.com/anishathalye/porcupine,
 * checker.go). No JavaScript checker exists on npm (design.md §7), so this is one.
 *
 * Each key is a register holding a value or nothing. An operation that ended without an
 * answer (a timeout, a 503: it may or may not have happened) is *indeterminate*: its return
 * time is infinite, and it may take effect at any point after its call, or never.
 */

/** What a client asked of one key. */
export type Input =
  | { kind: 'read' }
  | { kind: 'write'; value: string }
  | { kind: 'delete' }
  /** `If-None-Match: *`: writes `value` only if the key holds nothing. */
  | { kind: 'create'; value: string };

/** What it answered: a read's value (null: absent); whether a create succeeded. */
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

/** The verdict for a history: valid, or the first key whose operations admit no order. */
export type Verdict = { valid: true } | { valid: false; key: string; operations: Operation[] };

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

/** Checks one key's operations: true when some order of them, within their real-time bounds, is a legal register history. */
function linearizable(ops: Operation[]): boolean {
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
  const linearized = new Uint8Array(ops.length);
  const seen = new Set<string>();
  const calls: { entry: Entry; state: State }[] = [];
  let state: State = null;
  let entry = head.next;
  while (head.next !== null) {
    if (entry!.call) {
      const next = step(state, ops[entry!.op]!);
      if (next !== undefined) {
        linearized[entry!.op] = 1;
        // Lowe's memoisation: a (set of operations done, state) pair already explored
        // cannot lead anywhere new.
        const key = `${linearized.join('')}|${next === null ? '∅' : `=${next}`}`;
        if (!seen.has(key)) {
          seen.add(key);
          calls.push({ entry: entry!, state });
          state = next;
          lift(entry!);
          entry = head.next;
          continue;
        }
        linearized[entry!.op] = 0;
      }
      entry = entry!.next;
    } else {
      // A return whose call could not be placed: undo the last placement and try further on.
      const top = calls.pop();
      if (top === undefined) return false;
      linearized[top.entry.op] = 0;
      state = top.state;
      unlift(top.entry);
      entry = top.entry.next;
    }
  }
  return true;
}

/** Checks a history key by key; the first key that is not linearizable makes it invalid. */
export function checkLinearizability(history: readonly Operation[]): Verdict {
  const byKey = new Map<string, Operation[]>();
  for (const op of history) {
    let ops = byKey.get(op.key);
    if (ops === undefined) byKey.set(op.key, (ops = []));
    ops.push(op);
  }
  for (const [key, operations] of byKey) {
    if (!linearizable(operations)) return { valid: false, key, operations };
  }
  return { valid: true };
}
