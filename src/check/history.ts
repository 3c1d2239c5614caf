import type { Clock } from '../time/clock.js';
import type { Operation } from './linearizability.js';

/**
 * What a client of the checker's workload does to one key: `create` writes only if the key
 * holds nothing (`If-None-Match: *`), `delete-if-present` deletes only if it holds a value
 * (`If-Match: *`).
 */
export type Fn = 'read' | 'write' | 'delete' | 'create' | 'delete-if-present';

/**
 * One line of a history, as Jepsen writes them: an operation's `invoke`, then its outcome:
 * `ok`; `fail` when it certainly did not happen (a create refused by its precondition, a
 * write refused with `"applied": false`, a read that got no answer); `info` when it may or
 * may not have happened (a write that timed out or was answered 503 otherwise: some replicas
 * may have applied it).
 */
export interface HistoryEvent {
  index: number;
  type: 'invoke' | 'ok' | 'fail' | 'info';
  /** The client. */
  process: number;
  f: Fn;
  key: string;
  /** The value written (invoke of a write or create); the value read (ok of a read; null: absent). */
  value?: string | null;
  /** Milliseconds since the run's start (simulated in the deterministic mode), as fault windows are. */
  time: number;
  /** The error code of a fail or info. */
  error?: string;
}

/** An operation's invocation and its outcome (null: none came before the run ended). */
export interface Completed {
  invoke: HistoryEvent;
  end: HistoryEvent | null;
}

/**
 * Records a history as clients invoke and complete operations, in milliseconds since the
 * run's `start` on its clock: the fault driver times its windows from the same start, so
 * the report draws both on one axis.
 */
export class History {
  readonly events: HistoryEvent[] = [];
  readonly #clock: Clock;
  readonly #start: number;
  readonly #listen: ((event: HistoryEvent) => void) | null;

  /**
   * `start`: the run's start on `clock`; default now. `listen` hears each event as it is
   * recorded (the deterministic mode's trace); default none.
   */
  constructor(clock: Clock, start = clock.now(), listen?: (event: HistoryEvent) => void) {
    this.#clock = clock;
    this.#start = start;
    this.#listen = listen ?? null;
  }

  #now(): number {
    return this.#clock.now() - this.#start;
  }

  invoke(process: number, f: Fn, key: string, value?: string): HistoryEvent {
    const event: HistoryEvent = {
      index: this.events.length,
      type: 'invoke',
      process,
      f,
      key,
      time: this.#now(),
    };
    if (value !== undefined) event.value = value;
    this.events.push(event);
    this.#listen?.(event);
    return event;
  }

  complete(
    invoke: HistoryEvent,
    type: 'ok' | 'fail' | 'info',
    outcome: { value?: string | null; error?: string } = {},
  ): HistoryEvent {
    const { process, f, key } = invoke;
    const event: HistoryEvent = { index: this.events.length, type, process, f, key, time: this.#now() };
    if (outcome.value !== undefined) event.value = outcome.value;
    if (outcome.error !== undefined) event.error = outcome.error;
    this.events.push(event);
    this.#listen?.(event);
    return event;
  }

  /**
   * The history as JSON lines, one event each, times to the microsecond: the record the
   * checks judged, without the float noise of the clock's readings (`294.62912299999994`).
   */
  toJsonLines(): string {
    return (
      this.events
        .map((event) => JSON.stringify({ ...event, time: Math.round(event.time * 1000) / 1000 }))
        .join('\n') + '\n'
    );
  }
}

/** Pairs each invocation with its outcome: a client has one operation open at a time. */
export function pair(events: readonly HistoryEvent[]): Completed[] {
  const open = new Map<number, Completed>();
  const out: Completed[] = [];
  for (const event of events) {
    if (event.type === 'invoke') {
      const completed = { invoke: event, end: null };
      open.set(event.process, completed);
      out.push(completed);
    } else {
      const completed = open.get(event.process);
      if (completed === undefined)
        throw new Error(`history event ${event.index}: an outcome with no invocation`);
      completed.end = event;
      open.delete(event.process);
    }
  }
  return out;
}

/** Whether an operation may have changed its key: a write, delete or successful create not known to have failed. */
export function mayHaveWritten({ invoke, end }: Completed): boolean {
  return invoke.f !== 'read' && end?.type !== 'fail';
}

/**
 * The operation the linearizability checker takes for an invocation and its outcome (null:
 * none yet), or null when it says nothing: an operation without a definite outcome is
 * indeterminate (return time null); a read without an answer and an operation that
 * certainly did not happen (other than a conditional one refused by its precondition, which
 * says what the key held) are left out, since they changed nothing.
 */
export function operationOf(invoke: HistoryEvent, end: HistoryEvent | null): Operation | null {
  const { process: client, key, f } = invoke;
  const known = end !== null && end.type !== 'info';
  if (f === 'read') {
    if (end?.type !== 'ok') return null;
    return {
      client,
      key,
      input: { kind: 'read' },
      call: invoke.time,
      ret: end.time,
      output: { value: end.value ?? null },
    };
  }
  // A conditional operation refused by its precondition happened, as a "no".
  const refused = end?.type === 'fail' && end.error === 'PRECONDITION_FAILED';
  if (end?.type === 'fail' && !refused) return null;
  const conditional = f === 'create' || f === 'delete-if-present';
  return {
    client,
    key,
    input: f === 'write' || f === 'create' ? { kind: f, value: invoke.value as string } : { kind: f },
    call: invoke.time,
    ret: known ? end.time : null,
    output: conditional && known ? { ok: end.type === 'ok' } : {},
  };
}

/** The operations the linearizability checker takes of a history (see {@link operationOf}). */
export function toOperations(completed: readonly Completed[]): Operation[] {
  const out: Operation[] = [];
  for (const { invoke, end } of completed) {
    const op = operationOf(invoke, end);
    if (op !== null) out.push(op);
  }
  return out;
}
