import type { Clock } from '../time/clock.js';
import { Rng, subSeed } from '../time/rng.js';
import type { Target, TargetFault } from './target.js';

/** The kinds of fault a check's schedule can inject. */
export const FAULT_KINDS = ['crash', 'partition', 'latency', 'loss', 'pause'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/**
 * One fault of a schedule: in force from `at` for `ms` (milliseconds on the run's clock
 * from the workload's start), on `nodes`. A crash restarts its node at the end; a pause
 * ends by itself; the others are healed.
 */
export interface FaultWindow {
  kind: FaultKind;
  at: number;
  ms: number;
  nodes: number[];
  /** What is put in force (not for a crash). */
  fault?: TargetFault;
}

/**
 * A seeded fault schedule for a run of `durationMs`: the same seed, kinds, nodes and
 * duration give the same windows. Two lanes run side by side, so faults overlap as they do
 * in life: one for node faults (crash, pause), one for the network's (partition, latency,
 * loss); each lane has one window at a time, on one node or, for the network, sometimes all.
 * Every window ends before the run does, leaving time to see the cluster heal.
 */
export function planFaults(
  seed: number,
  kinds: readonly FaultKind[],
  nodes: readonly number[],
  durationMs: number,
): FaultWindow[] {
  const rng = new Rng(subSeed(seed, 'schedule'));
  const windows: FaultWindow[] = [];
  const end = durationMs * 0.85;
  const lanes = [
    kinds.filter((kind) => kind === 'crash' || kind === 'pause'),
    kinds.filter((kind) => kind === 'partition' || kind === 'latency' || kind === 'loss'),
  ];
  // Window lengths scale with the run, within bounds that let a timeout or a refill show.
  const longest = Math.max(300, Math.min(2000, durationMs / 4));
  for (const lane of lanes) {
    if (lane.length === 0) continue;
    for (let at = rng.int(50, 400); ;) {
      const ms = rng.int(150, longest);
      if (at + ms > end) break;
      const kind = rng.pick(lane);
      const one = [rng.pick(nodes)];
      const everyNode = rng.next() < 0.3;
      const on = everyNode ? {} : { nodes: one };
      let fault: TargetFault | undefined;
      switch (kind) {
        case 'partition':
          fault = {
            type: 'partition',
            nodes: one,
            direction: rng.pick(['both', 'both', 'to', 'from'] as const),
          };
          break;
        case 'latency':
          fault = { type: 'latency', ...on, ms: rng.int(5, 150), jitterMs: rng.int(0, 100) };
          break;
        case 'loss':
          fault = { type: 'loss', ...on, probability: Math.round(rng.next() * 40 + 5) / 100 };
          break;
        case 'pause':
          fault = { type: 'pause', nodes: one, ms };
          break;
        case 'crash':
      }
      const window: FaultWindow = { kind, at, ms, nodes: fault && 'nodes' in fault ? fault.nodes! : one };
      if (kind === 'latency' || kind === 'loss') window.nodes = everyNode ? [...nodes] : one;
      if (fault !== undefined) window.fault = fault;
      windows.push(window);
      at += ms + rng.int(100, 800);
    }
  }
  return windows.sort((a, b) => a.at - b.at);
}

/**
 * What happened to one window when it ran: when it began and ended, in milliseconds since
 * the run's start (the clock of the history's operations), and any error.
 */
export interface AppliedWindow extends FaultWindow {
  began: number;
  ended: number | null;
  error?: string;
  /** Why it was not put in force (a crash while another node is still recovering). */
  skipped?: string;
}

/**
 * Runs a schedule against a target: each window is put in force `at` its time after the
 * driver is made (the workload's start) and ended after its length. A restart that fails
 * (its replicas cut off) is tried again until it succeeds or {@link FaultDriver.finish}
 * gives up on it. Records each window as it goes, for the report, timed from the run's
 * `start` as the history is.
 */
export class FaultDriver {
  readonly applied: AppliedWindow[] = [];
  readonly #target: Target;
  readonly #clock: Clock;
  readonly #pending = new Set<Promise<void>>();
  readonly #cancels: (() => void)[] = [];
  readonly #crashed = new Set<number>();

  /** `start`: the run's start on `clock`, which `began` and `ended` count from; default now. */
  constructor(target: Target, clock: Clock, windows: readonly FaultWindow[], start = clock.now()) {
    this.#target = target;
    this.#clock = clock;
    for (const window of windows) {
      this.#cancels.push(clock.setTimer(window.at, () => this.#track(this.#run(window, start))));
    }
  }

  #track(work: Promise<void>): void {
    this.#pending.add(work);
    void work.finally(() => this.#pending.delete(work));
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.#clock.setTimer(ms, resolve));
  }

  async #run(window: FaultWindow, start: number): Promise<void> {
    const record: AppliedWindow = { ...window, began: this.#clock.now() - start, ended: null };
    this.applied.push(record);
    const target = this.#target;
    try {
      if (window.kind === 'crash') {
        const node = window.nodes[0]!;
        // Memory is all a node has: a second crash while another node is still down or
        // being refilled can take the last copies of a write W acknowledged, which no
        // replication setting promises to survive. So one crash at a time.
        if (this.#crashed.size > 0) {
          record.skipped = `node ${[...this.#crashed].join(', ')} still down or refilling`;
          return;
        }
        this.#crashed.add(node);
        await target.crash(node);
        await this.#sleep(window.ms);
        await this.#restart(node);
      } else {
        const id = await target.addFault(window.fault!);
        await this.#sleep(window.ms);
        if (window.kind !== 'pause') await target.healFault(id);
      }
      record.ended = this.#clock.now() - start;
    } catch (err) {
      record.error = (err as Error).message;
    }
  }

  /**
   * Restarts a crashed node, trying again every 200 ms while it fails (its sources cut off,
   * say); after 100 tries (20 s) the last error stands.
   */
  async #restart(node: number): Promise<void> {
    for (let tries = 1; ; tries++) {
      try {
        await this.#target.restart(node);
        this.#crashed.delete(node);
        return;
      } catch (err) {
        if (tries === 100) throw err;
        await this.#sleep(200);
      }
    }
  }

  /**
   * Cancels the windows not yet begun, heals every network fault, and waits for the windows
   * under way to end (crashed nodes restarted, pauses over).
   */
  async finish(): Promise<void> {
    for (const cancel of this.#cancels) cancel();
    await this.#target.healAll();
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
    await this.#target.healAll();
  }
}
