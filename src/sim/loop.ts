import type { Clock } from '../time/clock.js';
import { mix32 } from '../time/rng.js';

/** A scheduled event: fires at `at`, after every event scheduled earlier for the same time. */
interface Event {
  at: number;
  seq: number;
  fire: (() => void) | null;
}

/** The wall clock's reading at simulated time 0 (2027-01-15): fixed, so versions repeat too. */
const WALL_AT_ZERO = Date.UTC(2027, 0, 15);

/** Resolves after Node has run every microtask pending now. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * The deterministic mode's event loop (as FoundationDB's simulator and TigerBeetle's VOPR
 * run theirs): simulated time, and one queue of events ordered by (time, order scheduled).
 * Everything the simulator drives — timers, the coordinator's flushes, messages to and
 * from nodes run inline (src/transport/inline-runner.ts), the workload's clients — is an event
 * here, so one seed gives one order of events, whatever the machine's speed.
 *
 * {@link run} fires one event, then lets every promise continuation that event started run
 * before the next: the same code that runs on threads runs here unchanged, async and all.
 * Every event, and whatever its handler {@link record}s, is folded into {@link hash}: two
 * runs with the same seed must give the same hash (FoundationDB's determinism check).
 */
export class SimLoop implements Clock {
  #now = 0;
  #seq = 0;
  /** A binary min-heap of events by (at, seq). */
  readonly #heap: Event[] = [];
  #fired = 0;
  #hashA = 0x6a09e667;
  #hashB = 0xbb67ae85;

  now(): number {
    return this.#now;
  }

  wall(): number {
    return WALL_AT_ZERO + this.#now;
  }

  setTimer(ms: number, fire: () => void): () => void {
    const event: Event = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fire };
    this.#push(event);
    return () => {
      event.fire = null;
    };
  }

  defer(fire: () => void): void {
    this.setTimer(0, fire);
  }

  /** Events fired so far. */
  get fired(): number {
    return this.#fired;
  }

  /** Folds `text` into the event log's hash (a node's message, a client's answer). */
  record(text: string): void {
    for (let i = 0; i < text.length; i++) this.#fold(text.charCodeAt(i));
  }

  /** Folds bytes into the event log's hash. */
  recordBytes(bytes: Uint8Array): void {
    for (let i = 0; i < bytes.length; i++) this.#fold(bytes[i]!);
  }

  /** The event log's hash so far, as 16 hex digits. */
  get hash(): string {
    return (
      (this.#hashA >>> 0).toString(16).padStart(8, '0') + (this.#hashB >>> 0).toString(16).padStart(8, '0')
    );
  }

  /**
   * Fires events in order until `work` settles; resolves or rejects as it does. Throws if
   * nothing is left to fire while `work` still waits (it never could finish), or if
   * simulated time passes `limitMs`.
   */
  async run<T>(work: Promise<T>, limitMs = Infinity): Promise<T> {
    let settled = false;
    const done = work.then(
      () => (settled = true),
      () => (settled = true),
    );
    await turn();
    while (!settled) {
      const event = this.#pop();
      if (event === undefined) {
        throw new Error(`simulation stalled at ${this.#now} ms: no event left, and the work is not done`);
      }
      if (event.fire === null) continue;
      if (event.at > limitMs) throw new Error(`simulation passed its limit of ${limitMs} ms`);
      this.#now = event.at;
      this.#fired++;
      this.#fold(Math.round(event.at * 1000));
      event.fire();
      await turn();
    }
    await done;
    return work;
  }

  #fold(n: number): void {
    this.#hashA = mix32(this.#hashA ^ n);
    this.#hashB = mix32(this.#hashB + Math.imul(n | 0, 0x9e3779b1));
  }

  #push(event: Event): void {
    const heap = this.#heap;
    let i = heap.push(event) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(event, heap[parent]!)) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = event;
  }

  #pop(): Event | undefined {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && before(heap[right]!, heap[left]!) ? right : left;
      if (!before(heap[child]!, last)) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = last;
    return top;
  }
}

function before(a: Event, b: Event): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
