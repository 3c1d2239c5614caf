/** Histories written by hand, for the checker's tests. */
import { History, type HistoryEvent } from '../src/check/history.js';
import type { Input, Operation } from '../src/check/linearizability.js';

/** An operation on key `key` by client `c`, called at `call`, returned at `ret` (null: indeterminate). */
export function op(
  c: number,
  input: Input,
  call: number,
  ret: number | null,
  output: Operation['output'] = {},
  key = 'k',
): Operation {
  return { client: c, key, input, call, ret, output };
}
export const write = (value: string): Input => ({ kind: 'write', value });
export const read: Input = { kind: 'read' };
export const create = (value: string): Input => ({ kind: 'create', value });
export const del: Input = { kind: 'delete' };

/** A history's events written by hand: each step at the time set last with `at`. */
export function handWritten(steps: (h: History, at: (ms: number) => void) => void): HistoryEvent[] {
  let now = 0;
  const history = new History({ now: () => now, wall: () => now, setTimer: () => () => {}, defer: () => {} });
  steps(history, (ms) => (now = ms));
  return history.events;
}
