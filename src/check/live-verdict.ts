import { DEFAULT_MAX_STEPS } from '../config.js';
import { operationOf, type HistoryEvent } from './history.js';
import { checkKey, type KeyResult, type Operation } from './linearizability.js';

/** What is known of one key while the history grows. */
export type KeyVerdict = 'pending' | 'valid' | 'invalid' | 'unknown';

/** One key's verdict so far, as the live view shows it. */
export interface KeyState {
  key: string;
  /** Operations invoked on the key so far. */
  ops: number;
  verdict: KeyVerdict;
  /** Operations the verdict covers (reads that got no answer, and writes that certainly failed, left out). */
  checked: number;
}

interface KeyHistory {
  state: KeyState;
  /**
   * The key's operations in the order invoked, as the judge takes them (null: in flight, or
   * one the judge leaves out). The order matters: the search breaks ties of time by it, so
   * only the judge's order gives the judge's verdict where a search runs out of steps.
   */
  slots: (Operation | null)[];
  inFlight: number;
  /** When the last of its operations to end ended (ms of the run). */
  lastEnd: number;
  /** Operations ended since the key was last searched. */
  fresh: number;
  /** Its verdict is the judge's: searched no more. */
  adopted: boolean;
}

/**
 * Each key's linearizability, decided as the history grows: a key is searched again when it
 * is quiescent — nothing of it in flight, and the run's clock past its last outcome — and
 * enough of it ended since its last search. At such a point every operation invoked on the
 * key later starts after all of its earlier ones (strictly: the search counts a call at the
 * very time of a return as concurrent with it), so a linearization of the whole history
 * orders the earlier ones first: a key found not linearizable stays so. Once the history is
 * whole, the judge's verdicts are taken ({@link adopt}), and every other key with anything
 * new, and every unknown one, is searched once more over all of it with the judge's budget,
 * so the verdicts end as the judge's (`checkLinearizability`) would be.
 *
 * While the run goes, a key is searched again only once its ended operations grew by a
 * quarter (amortised: a long run's keys are not searched from scratch every second), on a
 * smaller step budget; one that runs past it is unknown until the end.
 *
 * Fed the history's events in order; {@link checkQuiescent} does the searching, so the caller
 * chooses how often (the live check: once per summary).
 */
export class LiveVerdict {
  readonly #keys = new Map<string, KeyHistory>();
  /** Each client's operation in flight (a client has one at a time, as `pair` takes it). */
  readonly #open = new Map<number, { key: KeyHistory; invoke: HistoryEvent; slot: number }>();
  readonly #liveSteps: number;
  readonly #finalSteps: number;

  /** `liveSteps`: a search's budget while the run goes; `finalSteps`: once it is whole (the judge's). */
  constructor(liveSteps = LIVE_STEPS, finalSteps = DEFAULT_MAX_STEPS) {
    this.#liveSteps = liveSteps;
    this.#finalSteps = finalSteps;
  }

  /** Takes one event of the history (invocations before their outcomes, as History records them). */
  add(event: HistoryEvent): void {
    if (event.type === 'invoke') {
      let key = this.#keys.get(event.key);
      if (key === undefined) {
        key = {
          state: { key: event.key, ops: 0, verdict: 'pending', checked: 0 },
          slots: [],
          inFlight: 0,
          lastEnd: -Infinity,
          fresh: 0,
          adopted: false,
        };
        this.#keys.set(event.key, key);
      }
      key.state.ops++;
      key.inFlight++;
      this.#open.set(event.process, { key, invoke: event, slot: key.slots.push(null) - 1 });
      return;
    }
    const open = this.#open.get(event.process);
    if (open === undefined) throw new Error(`history event ${event.index}: an outcome with no invocation`);
    this.#open.delete(event.process);
    const { key, invoke, slot } = open;
    key.inFlight--;
    key.lastEnd = event.time;
    const op = operationOf(invoke, event);
    if (op === null) return;
    key.slots[slot] = op;
    key.fresh++;
  }

  /**
   * Searches the keys quiescent at `now` (ms of the run) with enough new; returns the keys
   * whose verdict changed. `final`: the history is whole (see the class).
   */
  checkQuiescent(now: number, final = false): KeyState[] {
    const changed: KeyState[] = [];
    for (const key of this.#keys.values()) {
      const { state } = key;
      if (!this.#due(key, now, final)) continue;
      key.fresh = 0;
      const operations = this.#operations(key);
      const result = checkKey(operations, final ? this.#finalSteps : this.#liveSteps);
      const verdict: KeyVerdict =
        result.valid === true ? 'valid' : result.valid === false ? 'invalid' : 'unknown';
      state.checked = operations.length;
      if (verdict !== state.verdict) {
        state.verdict = verdict;
        changed.push(state);
      }
    }
    return changed;
  }

  #due(key: KeyHistory, now: number, final: boolean): boolean {
    const { state } = key;
    if (key.inFlight > 0 || key.adopted) return false;
    if (final) return key.fresh > 0 || state.verdict === 'unknown' || state.verdict === 'pending';
    if (key.lastEnd >= now || key.fresh === 0) return false;
    if (state.verdict === 'invalid' || state.verdict === 'unknown') return false;
    return state.verdict === 'pending' || key.fresh * 4 >= state.checked;
  }

  /**
   * Takes the judge's verdicts (the history whole, searched in the same order with the same
   * budget): those keys need no search of their own at the end.
   */
  adopt(judged: ReadonlyMap<string, KeyResult['valid']>): void {
    for (const [name, valid] of judged) {
      const key = this.#keys.get(name);
      if (key === undefined || key.inFlight > 0) continue;
      key.state.verdict = valid === true ? 'valid' : valid === false ? 'invalid' : 'unknown';
      key.state.checked = this.#operations(key).length;
      key.fresh = 0;
      key.adopted = true;
    }
  }

  /** Every key's state, in the order first invoked. */
  get keys(): KeyState[] {
    return [...this.#keys.values()].map((key) => key.state);
  }

  /** A key's operations that ended, in the order invoked: what a witness is cut from. */
  operationsOf(key: string): Operation[] {
    const history = this.#keys.get(key);
    return history === undefined ? [] : this.#operations(history);
  }

  #operations(key: KeyHistory): Operation[] {
    return key.slots.filter((op) => op !== null);
  }
}

/** A search's step budget while the run goes: about a tenth of the judge's, so a summary never waits long. */
export const LIVE_STEPS = 2_000_000;
