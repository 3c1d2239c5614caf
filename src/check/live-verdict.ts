import { DEFAULT_MAX_STEPS } from '../config.js';
import type { HistoryEvent } from './history.js';
import { checkKey, type Explanation, type Operation } from './linearizability.js';

/** What is known of one key while the history grows. */
export type KeyVerdict = 'pending' | 'valid' | 'invalid' | 'unknown';

/** One key's verdict so far, as the live view shows it. */
export interface KeyState {
  key: string;
  /** Operations invoked on the key so far. */
  ops: number;
  verdict: KeyVerdict;
  /** Operations the verdict covers: those of the key's last quiescent point checked. */
  checked: number;
  /** Where the search got furthest, when invalid. */
  explanation?: Explanation;
}

interface KeyHistory {
  state: KeyState;
  /** The key's operations, in call order; `ret` undefined while in flight. */
  operations: (Operation & { pending?: true })[];
  inFlight: number;
  /** Operations ended since the key was last checked. */
  fresh: number;
}

/**
 * Each key's linearizability, decided as the history grows: a key is checked again whenever
 * it is quiescent (nothing of it in flight) and something of it ended since its last check.
 * At such a point every operation invoked on the key has returned or is indeterminate, and
 * any operation invoked later starts after them all, so a linearization of the whole history
 * orders the ones so far first: a key found not linearizable now stays so, and the verdict
 * at the end of the run agrees with the judge's (`checkLinearizability` over the whole
 * history). A key whose search runs past `maxSteps` is unknown and not searched again until
 * the history is whole: a longer history would only cost more.
 *
 * Fed the history's events in order; {@link checkQuiescent} does the searching, so the caller
 * chooses how often (the live check: once per progress report).
 */
export class LiveVerdict {
  readonly #keys = new Map<string, KeyHistory>();
  /** Each client's operation in flight (a client has one at a time, as `pair` takes it). */
  readonly #open = new Map<number, { key: KeyHistory; op: Operation & { pending?: true } }>();
  readonly #maxSteps: number;

  constructor(maxSteps = DEFAULT_MAX_STEPS) {
    this.#maxSteps = maxSteps;
  }

  /** Takes one event of the history (invocations before their outcomes, as History records them). */
  add(event: HistoryEvent): void {
    if (event.type === 'invoke') {
      let key = this.#keys.get(event.key);
      if (key === undefined) {
        key = {
          state: { key: event.key, ops: 0, verdict: 'pending', checked: 0 },
          operations: [],
          inFlight: 0,
          fresh: 0,
        };
        this.#keys.set(event.key, key);
      }
      const op: Operation & { pending?: true } = {
        client: event.process,
        key: event.key,
        input: inputOf(event),
        call: event.time,
        ret: null,
        output: {},
        pending: true,
      };
      key.operations.push(op);
      key.state.ops++;
      key.inFlight++;
      this.#open.set(event.process, { key, op });
      return;
    }
    const open = this.#open.get(event.process);
    if (open === undefined) throw new Error(`history event ${event.index}: an outcome with no invocation`);
    this.#open.delete(event.process);
    const { key, op } = open;
    delete op.pending;
    key.inFlight--;
    key.fresh++;
    // The operations the judge takes (toOperations): a read without an answer and a write
    // that certainly did not happen leave; a conditional write refused by its precondition
    // happened, as a "no"; anything else without a definite outcome is indeterminate.
    const conditional = op.input.kind === 'create' || op.input.kind === 'delete-if-present';
    const refused = event.type === 'fail' && event.error === 'PRECONDITION_FAILED';
    if ((op.input.kind === 'read' && event.type !== 'ok') || (event.type === 'fail' && !refused)) {
      key.operations.splice(key.operations.lastIndexOf(op), 1);
      return;
    }
    if (event.type === 'info') return;
    op.ret = event.time;
    if (op.input.kind === 'read') op.output = { value: event.value ?? null };
    else if (conditional) op.output = { ok: event.type === 'ok' };
  }

  /**
   * Searches every quiescent key with something new; returns the keys whose verdict changed.
   * `final`: the history is whole; unknown keys are searched once more over all of it, so the
   * verdicts end as the judge's do.
   */
  checkQuiescent(final = false): KeyState[] {
    const changed: KeyState[] = [];
    for (const key of this.#keys.values()) {
      const { state } = key;
      if (key.inFlight > 0 || state.verdict === 'invalid') continue;
      if (
        final
          ? state.verdict !== 'unknown' && key.fresh === 0
          : key.fresh === 0 || state.verdict === 'unknown'
      )
        continue;
      key.fresh = 0;
      const result = checkKey(key.operations.slice(), this.#maxSteps);
      const verdict: KeyVerdict =
        result.valid === true ? 'valid' : result.valid === false ? 'invalid' : 'unknown';
      state.checked = key.operations.length;
      if (result.valid === false) state.explanation = result.explanation;
      if (verdict !== state.verdict) {
        state.verdict = verdict;
        changed.push(state);
      }
    }
    return changed;
  }

  /** Every key's state, in the order first invoked. */
  get keys(): KeyState[] {
    return [...this.#keys.values()].map((key) => key.state);
  }

  /** A key's operations so far (in flight ones left out): what a witness is cut from. */
  operationsOf(key: string): Operation[] {
    return (this.#keys.get(key)?.operations ?? []).filter((op) => op.pending !== true);
  }
}

/** What the invocation asked, as the search takes it. */
function inputOf(event: HistoryEvent): Operation['input'] {
  switch (event.f) {
    case 'read':
      return { kind: 'read' };
    case 'write':
      return { kind: 'write', value: event.value! };
    case 'create':
      return { kind: 'create', value: event.value! };
    case 'delete':
      return { kind: 'delete' };
    case 'delete-if-present':
      return { kind: 'delete-if-present' };
  }
}
