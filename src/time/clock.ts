// From the module, not the global: `performance` on globalThis is a getter, run on every
// use, and the system clock is read for every batch.
import { performance } from 'node:perf_hooks';

/**
 * Time as the front end sees it: milliseconds from an arbitrary start, and timers. Injected
 * rather than read from globals, so tests and the deterministic simulator (src/sim/) decide
 * what time it is and when a timer fires.
 */
export interface Clock {
  /** Milliseconds on a monotonic scale from an arbitrary start: for timeouts. */
  now(): number;
  /** Milliseconds since the Unix epoch: the physical part of a write's version. */
  wall(): number;
  /** Runs `fire` after `ms`; returns a function that cancels it. */
  setTimer(ms: number, fire: () => void): () => void;
  /**
   * Runs `fire` once the events already due have been handled: how the coordinator gathers
   * every request of one event-loop turn into one message per node.
   */
  defer(fire: () => void): void;
}

/**
 * The longest wait Node's timers take: 2^31 − 1 ms (24.8 days). A longer one is taken as
 * 1 ms, with a TimeoutOverflowWarning; a timer re-armed that way fires every millisecond.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Node's timers, never early and never overflowing: they count from the event loop's cached
 * time, so one can fire a fraction of a millisecond before `performance.now()` has advanced
 * by `ms`; callers (the fault driver's windows, timeouts) are promised no earlier, so an
 * early one waits out the rest. A wait past {@link MAX_TIMER_MS} (a 30-day TTL's purge) is
 * taken in steps of at most that. `hold`: whether a pending timer keeps the process alive.
 */
function systemTimer(ms: number, fire: () => void, hold: boolean): () => void {
  const due = performance.now() + ms;
  let timer: NodeJS.Timeout;
  const arm = (wait: number) => {
    timer = setTimeout(
      () => {
        const left = due - performance.now();
        if (left > 0) arm(left);
        else fire();
      },
      Math.min(Math.max(wait, 0), MAX_TIMER_MS),
    );
    if (!hold) timer.unref();
  };
  arm(ms);
  return () => clearTimeout(timer);
}

/** The process's monotonic and wall clocks and Node's timers; a pending timer does not keep the process alive. */
export const systemClock: Clock = {
  now: () => performance.now(),
  wall: () => Date.now(),
  setTimer: (ms, fire) => systemTimer(ms, fire, false),
  // setImmediate runs after the poll phase has handed over every socket event of this turn;
  // a microtask would run after each request.
  defer: (fire) => void setImmediate(fire),
};

/**
 * The system clock, but a pending timer keeps the process alive: for the checker against a
 * cluster at a URL, where its own waits may be all that is pending.
 */
export const holdingClock: Clock = { ...systemClock, setTimer: (ms, fire) => systemTimer(ms, fire, true) };
