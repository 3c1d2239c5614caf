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

/** The process's monotonic and wall clocks and Node's timers; a pending timer does not keep the process alive. */
export const systemClock: Clock = {
  now: () => performance.now(),
  wall: () => Date.now(),
  setTimer(ms, fire) {
    const timer = setTimeout(fire, ms);
    timer.unref();
    return () => clearTimeout(timer);
  },
  // setImmediate runs after the poll phase has handed over every socket event of this turn;
  // a microtask would run after each request.
  defer: (fire) => void setImmediate(fire),
};
