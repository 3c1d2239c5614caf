/**
 * Time as the front end sees it: milliseconds from an arbitrary start, and timers. Injected
 * rather than read from globals, so tests (and, later, the deterministic simulator) decide
 * what time it is and when a timer fires.
 */
export interface Clock {
  now(): number;
  /** Runs `fire` after `ms`; returns a function that cancels it. */
  setTimer(ms: number, fire: () => void): () => void;
}

/** The process's monotonic clock and Node's timers; a pending timer does not keep the process alive. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimer(ms, fire) {
    const timer = setTimeout(fire, ms);
    timer.unref();
    return () => clearTimeout(timer);
  },
};
