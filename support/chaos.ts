import type { Clock } from '../src/time/clock.js';
import { Rng, subSeed } from '../src/time/rng.js';

/**
 * Racing cluster operations under a writer: a seeded fuzzer for the promise "no order or
 * overlap of add / remove / crash / restart / plan / anti-entropy / faults / export ends the
 * process or loses an acknowledged write" (replicas 3, W 2). The seed fixes every choice:
 * which operation starts at each step, on which node, with which fault. In the
 * deterministic mode (a cluster on a simulated loop) it fixes the whole run, so a failing
 * seed is reproduced exactly; on threads it fixes the operations while the interleaving is
 * the machine's.
 *
 * The writer's promise is the configuration's: W = 2 of 3 replicas survives one node losing
 * its memory at a time. So crashes are rationed (see {@link Chaos}): a second crash waits
 * until the cluster is whole again (every node up, nothing copying, no fault in force) and
 * an anti-entropy round has run since. Everything else races freely.
 */

/** What the fuzzer does to a cluster: the cluster's API or its HTTP routes, behind one face. */
export interface ChaosTarget {
  /** Writes a value; throws (a catalogue error) when the write was not acknowledged. */
  put(key: string, value: string): Promise<void>;
  /** Reads a value (null: absent); throws when the read failed. */
  get(key: string): Promise<string | null>;
  /** The ring's members, each node's state, and the copies under way. */
  state(): Promise<ClusterView>;
  addNode(): Promise<unknown>;
  removeNode(id: number): Promise<unknown>;
  crash(id: number): Promise<unknown>;
  restart(id: number): Promise<unknown>;
  plan(change: { add: number } | { remove: number }): Promise<unknown>;
  /** One anti-entropy round; resolves with the partitions that differed. */
  antiEntropy(): Promise<number>;
  addFault(spec: Record<string, unknown>): Promise<unknown>;
  healFaults(): Promise<unknown>;
  /** Reads every key once (an export); resolves with how many. */
  exportAll(): Promise<number>;
  /** Why the cluster cannot go on (its process ended), or null while it can. */
  dead(): string | null;
}

export interface ClusterView {
  members: number[];
  nodes: { id: number; state: string }[];
  transfers: number;
  faults: number;
}

/** How a fuzzing run goes. */
export interface ChaosOptions {
  seed: number;
  /** Operations started, one per step. */
  steps: number;
  /** Simulated or real ms between two steps. Default 40. */
  stepMs?: number;
  /** Operations in flight at most; a step finding this many waits. Default 3. */
  concurrency?: number;
  /** Keys the writer writes (one writer loop per `keysPerWriter` keys). Default 24. */
  keys?: number;
  /** Concurrent writer loops. Default 3. */
  writers?: number;
  /** Node ids the fuzzer may refer to beyond the members (to hit unknown ids). */
  clock: Clock;
  /** Where progress and the operation log go. */
  log?: (line: string) => void;
}

/** One operation the fuzzer ran, and how it ended. */
export interface ChaosEvent {
  step: number;
  op: string;
  /** `ok`, or the error's catalogue code. */
  outcome: string;
}

/** A failure the run found; the run goes on to gather more, unless the cluster is dead. */
export interface ChaosFailure {
  kind: 'unexpected-error' | 'lost-write' | 'dead' | 'stuck' | 'replica-invariant';
  detail: string;
}

export interface ChaosReport {
  seed: number;
  events: ChaosEvent[];
  /** Outcomes counted by operation kind, e.g. `{crash: {ok: 3, CONFLICT: 1}}`. */
  outcomes: Record<string, Record<string, number>>;
  writes: { ok: number; failed: number };
  failures: ChaosFailure[];
}

/**
 * The catalogue code of an error a client may see when operations race (a refusal, a node
 * down or slow, a quorum missed), or null for anything else: a 500, or an error that is not
 * the catalogue's (a TypeError, a RangeError), both bugs.
 */
function codeOf(err: unknown): string | null {
  const { code, status } = (err ?? {}) as { code?: unknown; status?: unknown };
  if (typeof code !== 'string' || typeof status !== 'number') return null;
  return status < 500 || status === 503 || status === 504 ? code : null;
}

type Op =
  | 'add'
  | 'remove'
  | 'crash'
  | 'restart'
  | 'plan'
  | 'anti-entropy'
  | 'partition'
  | 'latency'
  | 'loss'
  | 'pause'
  | 'heal'
  | 'export';

/** How often each operation is drawn (crashes are also rationed). */
const WEIGHTS: [Op, number][] = [
  ['add', 2],
  ['remove', 2],
  ['crash', 3],
  ['restart', 4],
  ['plan', 2],
  ['anti-entropy', 2],
  ['partition', 2],
  ['latency', 1],
  ['loss', 1],
  ['pause', 1],
  ['heal', 3],
  ['export', 1],
];

/** Every write of one key, in order: the value and whether it was acknowledged (null: in doubt). */
type KeyWrites = { value: string; acked: boolean | null }[];

/** Runs the fuzzer; resolves with what it found (it never throws for a failure it finds). */
export class Chaos {
  readonly #target: ChaosTarget;
  readonly #options: Required<Omit<ChaosOptions, 'log'>> & { log: (line: string) => void };
  readonly #rng: Rng;
  readonly #report: ChaosReport;
  readonly #writes = new Map<string, KeyWrites>();
  #inFlight = 0;
  /** Operations started and not ended, by step: what a run that does not end is waiting for. */
  readonly #running = new Map<number, string>();
  #writing = true;
  /**
   * Crash rationing: after a crash, none until the cluster is whole again and an
   * anti-entropy round begun after that has finished.
   */
  #crashAllowed = true;
  #wholeSince: number | null = null;

  constructor(target: ChaosTarget, options: ChaosOptions) {
    this.#target = target;
    this.#options = {
      stepMs: 40,
      concurrency: 3,
      keys: 24,
      writers: 3,
      log: () => {},
      ...options,
    };
    this.#rng = new Rng(subSeed(options.seed, 'chaos'));
    this.#report = {
      seed: options.seed,
      events: [],
      outcomes: {},
      writes: { ok: 0, failed: 0 },
      failures: [],
    };
  }

  /** The operations race for `steps` steps under the writers; then the cluster heals and every key is read back. */
  async run(): Promise<ChaosReport> {
    const { writers, keys } = this.#options;
    const keysOf = (w: number) =>
      Array.from({ length: Math.ceil(keys / writers) }, (_, i) => `chaos-${w}-${i}`);
    const writing = Array.from({ length: writers }, (_, w) => this.#writer(keysOf(w)));
    const racing: Promise<void>[] = [];
    for (let step = 0; step < this.#options.steps && this.#alive(); step++) {
      while (this.#inFlight >= this.#options.concurrency && this.#alive()) await this.#sleep(5);
      racing.push(this.#start(step));
      await this.#sleep(this.#options.stepMs);
    }
    // Faults healed while the last operations finish: a refill waits for a source cut off
    // (it must copy every source in full), so an operation may be unable to end before.
    let settled = false;
    const last = Promise.all(racing).then(() => (settled = true));
    for (let round = 0; !settled && this.#alive(); round++) {
      await this.#target.healFaults().catch(() => {});
      await Promise.race([last, this.#sleep(100)]);
      if (round % 50 === 49) {
        const view = await this.#target.state().catch((err: Error) => err.message);
        this.#options.log(
          `still running: ${[...this.#running.values()].join(', ')}; ${JSON.stringify(view)}`,
        );
      }
    }
    this.#writing = false;
    await Promise.all(writing);
    if (this.#alive()) await this.#heal();
    if (this.#alive()) await this.#verify();
    return this.#report;
  }

  #alive(): boolean {
    const dead = this.#target.dead();
    if (dead !== null && !this.#report.failures.some((f) => f.kind === 'dead')) {
      this.#report.failures.push({ kind: 'dead', detail: dead });
    }
    return dead === null;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.#options.clock.setTimer(ms, resolve));
  }

  /** One writer: writes its keys in turn, each key's values in order, recording every outcome. */
  async #writer(keys: string[]): Promise<void> {
    for (let n = 0; this.#writing && this.#alive(); n++) {
      const key = keys[n % keys.length]!;
      const value = `${key}=${n}`;
      let writes = this.#writes.get(key);
      if (writes === undefined) this.#writes.set(key, (writes = []));
      const entry: KeyWrites[number] = { value, acked: null };
      writes.push(entry);
      try {
        await this.#target.put(key, value);
        entry.acked = true;
        this.#report.writes.ok++;
      } catch (err) {
        // Failed or in doubt (a timeout may have written): either way not acknowledged.
        this.#report.writes.failed++;
        if (codeOf(err) === null) this.#unexpected(`put ${key}`, err);
      }
      await this.#sleep(2);
    }
  }

  /** Draws and starts one operation; resolves when it ends. */
  async #start(step: number): Promise<void> {
    const rng = this.#rng;
    const total = WEIGHTS.reduce((sum, [, w]) => sum + w, 0);
    let pick = rng.next() * total;
    let op: Op = 'plan';
    for (const [name, weight] of WEIGHTS) {
      if ((pick -= weight) < 0) {
        op = name;
        break;
      }
    }
    // Drawn now, whatever the cluster looks like when the operation starts: the seed fixes them.
    const nodeDraw = rng.next();
    const extraDraw = rng.next();
    this.#inFlight++;
    this.#running.set(step, op);
    try {
      const view = await this.#target.state();
      const member = view.members[Math.floor(nodeDraw * view.members.length)] ?? 0;
      const down = view.nodes.filter((n) => n.state === 'down').map((n) => n.id);
      const label = await this.#run(op, member, down, extraDraw, view, (what) =>
        this.#running.set(step, what),
      );
      this.#record(step, label, 'ok');
    } catch (err) {
      const code = codeOf(err);
      this.#record(step, op, code ?? 'UNEXPECTED');
      if (code === null) this.#unexpected(op, err);
    } finally {
      this.#inFlight--;
      this.#running.delete(step);
    }
  }

  /** Runs one operation; returns its label for the log. */
  async #run(
    op: Op,
    member: number,
    down: number[],
    extra: number,
    view: ClusterView,
    started: (label: string) => void,
  ): Promise<string> {
    const target = this.#target;
    started(`${op} ${member}`);
    switch (op) {
      case 'add':
        await target.addNode();
        return op;
      case 'remove':
        await target.removeNode(member);
        return `remove ${member}`;
      case 'crash': {
        if (!this.#crashAllowed) return 'crash (rationed: skipped)';
        this.#crashAllowed = false;
        this.#wholeSince = null;
        await target.crash(member);
        return `crash ${member}`;
      }
      case 'restart': {
        const node = down.length > 0 ? down[Math.floor(extra * down.length)]! : member;
        await target.restart(node);
        return `restart ${node}`;
      }
      case 'plan':
        await target.plan(extra < 0.5 ? { add: 1 } : { remove: member });
        return `plan ${extra < 0.5 ? 'add' : `remove ${member}`}`;
      case 'anti-entropy': {
        const whole = this.#isWhole(view);
        const began = this.#wholeSince;
        await target.antiEntropy();
        // A round that began with the cluster whole, and whole since the crash: a crash may come again.
        if (whole && began !== null && this.#wholeSince === began) this.#crashAllowed = true;
        return op;
      }
      case 'partition':
        await target.addFault({ type: 'partition', nodes: [member] });
        return `partition ${member}`;
      case 'latency':
        await target.addFault({ type: 'latency', ms: 1 + Math.floor(extra * 30), nodes: [member] });
        return `latency ${member}`;
      case 'loss':
        await target.addFault({ type: 'loss', probability: Math.round(extra * 30) / 100 });
        return 'loss';
      case 'pause':
        await target.addFault({ type: 'pause', nodes: [member], ms: 20 + Math.floor(extra * 200) });
        return `pause ${member}`;
      case 'heal':
        await target.healFaults();
        return op;
      case 'export':
        return `export (${await target.exportAll()} keys)`;
    }
  }

  /** Every member up, nothing copying, no fault in force; remembers since when. */
  #isWhole(view: ClusterView): boolean {
    const whole =
      view.transfers === 0 &&
      view.faults === 0 &&
      view.nodes.every((n) => n.state === 'up' || !view.members.includes(n.id));
    if (!whole) this.#wholeSince = null;
    else this.#wholeSince ??= this.#options.clock.now();
    return whole;
  }

  #record(step: number, op: string, outcome: string): void {
    this.#report.events.push({ step, op, outcome });
    const kind = op.split(' ')[0]!;
    const counts = (this.#report.outcomes[kind] ??= {});
    counts[outcome] = (counts[outcome] ?? 0) + 1;
    this.#options.log(`step ${step}: ${op} -> ${outcome}`);
  }

  #unexpected(what: string, err: unknown): void {
    const detail = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    this.#report.failures.push({ kind: 'unexpected-error', detail: `${what}: ${detail}` });
  }

  /** Heals every fault, restarts every node down, waits for the copies, runs anti-entropy to agreement. */
  async #heal(): Promise<void> {
    const target = this.#target;
    for (let attempt = 0; attempt < 200 && this.#alive(); attempt++) {
      try {
        await target.healFaults();
        const view = await target.state();
        const down = view.nodes.filter((n) => n.state === 'down' && view.members.includes(n.id));
        for (const node of down) await target.restart(node.id).catch(() => {});
        const after = await target.state();
        if (
          after.transfers === 0 &&
          after.nodes.every((n) => n.state === 'up' || !after.members.includes(n.id))
        )
          break;
      } catch {
        // A node timing out while things settle: look again.
      }
      await this.#sleep(50);
    }
    for (let round = 0; round < 20 && this.#alive(); round++) {
      try {
        if ((await target.antiEntropy()) === 0) return;
      } catch {
        // Try again.
      }
      await this.#sleep(50);
    }
    this.#report.failures.push({
      kind: 'stuck',
      detail: 'replicas still differ after 20 anti-entropy rounds',
    });
  }

  /** Every key holds its last acknowledged value, or a value written after it. */
  async #verify(): Promise<void> {
    for (const [key, writes] of this.#writes) {
      const last = writes.findLastIndex((w) => w.acked === true);
      let read: string | null;
      try {
        read = await this.#target.get(key);
      } catch (err) {
        this.#report.failures.push({
          kind: 'lost-write',
          detail: `${key}: the final read failed: ${String(err)}`,
        });
        continue;
      }
      const at = read === null ? -1 : writes.findIndex((w) => w.value === read);
      if (last >= 0 && at < last) {
        this.#report.failures.push({
          kind: 'lost-write',
          detail: `${key}: acknowledged ${writes[last]!.value}, read ${read === null ? 'nothing' : read}`,
        });
      }
    }
  }
}

/** The lines a failing run ends with: what failed, and how to run it again. */
export function describeFailures(report: ChaosReport, mode: 'threads' | 'deterministic'): string {
  const tail = report.events.slice(-15).map((e) => `  step ${e.step}: ${e.op} -> ${e.outcome}`);
  return [
    ...report.failures.slice(0, 10).map((f) => `${f.kind}: ${f.detail.slice(0, 500)}`),
    ...(report.failures.length > 10 ? [`… and ${report.failures.length - 10} more`] : []),
    'last operations:',
    ...tail,
    `reproduce with: npm run bench:chaos -- --seed ${report.seed} --mode ${mode}`,
  ].join('\n');
}
