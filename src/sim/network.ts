import type { Clock } from '../time/clock.js';
import { BadRequestError } from '../errors.js';
import { fate, subSeed } from '../time/rng.js';

/** Which way a message goes on a node's link: from the coordinator to the node, or back. */
export type Direction = 'to' | 'from';

/**
 * A fault of the simulated network, as `POST /cluster/faults` takes it. `nodes` names the
 * links it acts on (absent: every node's). Each acts on every message of those links:
 * - `partition`: drops them (`direction` `to` or `from` for one way only; default both),
 *   as if the nodes were cut off from the coordinator;
 * - `latency`: delays each by `ms` plus a random part (so a round trip pays twice): up to
 *   `jitterMs`, uniformly, or with `distribution: 'exponential'` exponentially distributed
 *   with mean `jitterMs` (a long tail, as queueing gives);
 * - `loss`: drops each with `probability`;
 * - `duplicate`: delivers each twice with `probability` (writes carry versions and replies
 *   batch ids, so a duplicate changes nothing but the load).
 */
export type FaultSpec =
  | { type: 'partition'; nodes?: number[]; direction?: Direction | 'both' }
  | {
      type: 'latency';
      nodes?: number[];
      ms: number;
      jitterMs?: number;
      distribution?: 'uniform' | 'exponential';
    }
  | { type: 'loss'; nodes?: number[]; probability: number }
  | { type: 'duplicate'; nodes?: number[]; probability: number };

/** Told of each message a fault drops: the deterministic mode's trace (src/sim/trace.ts). */
export interface DropTrace {
  dropped(node: number, direction: Direction, message: unknown, why: 'partition' | 'loss'): void;
}

/** A fault in force, with its id. */
export type Fault = FaultSpec & { id: number };

const TYPES = ['partition', 'latency', 'loss', 'duplicate'] as const;

/** Checks a fault as a client sent it, naming what is wrong in a BadRequestError. */
export function checkFault(spec: unknown, nodes: readonly number[]): FaultSpec {
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) {
    throw new BadRequestError('a fault is a JSON object with a "type"');
  }
  const fault = spec as Record<string, unknown>;
  const type = fault.type as FaultSpec['type'];
  if (!TYPES.includes(type)) {
    // A pause is a fault too, checked by checkPause (Cluster.addFault sends it there).
    const types = `${TYPES.join(', ')} or pause`;
    throw new BadRequestError(
      fault.type === undefined
        ? `a fault needs a "type": ${types}`
        : `"type" must be one of ${types}, got ${JSON.stringify(fault.type)}`,
    );
  }
  const known = new Set([
    'type',
    'nodes',
    ...{
      partition: ['direction'],
      latency: ['ms', 'jitterMs', 'distribution'],
      loss: ['probability'],
      duplicate: ['probability'],
    }[type],
  ]);
  for (const name of Object.keys(fault)) {
    if (!known.has(name)) throw new BadRequestError(`a ${type} fault takes no ${JSON.stringify(name)}`);
  }
  if (fault.nodes !== undefined) {
    if (
      !Array.isArray(fault.nodes) ||
      fault.nodes.length === 0 ||
      !fault.nodes.every((n) => nodes.includes(n as number))
    ) {
      throw new BadRequestError(
        `"nodes" must be a non-empty list of nodes of the ring (${nodes.join(', ')}), got ${JSON.stringify(fault.nodes)}`,
      );
    }
  }
  const number = (name: string, min: number, max: number, fallback?: number): number => {
    const value = fault[name] ?? fallback;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
      const what = `a number from ${min} to ${max}`;
      throw new BadRequestError(
        fault[name] === undefined
          ? `a ${type} fault needs "${name}": ${what}`
          : `"${name}" must be ${what}, got ${JSON.stringify(fault[name])}`,
      );
    }
    return value;
  };
  const on = fault.nodes === undefined ? {} : { nodes: [...(fault.nodes as number[])] };
  switch (type) {
    case 'partition': {
      const direction = fault.direction ?? 'both';
      if (direction !== 'both' && direction !== 'to' && direction !== 'from') {
        throw new BadRequestError(
          `"direction" must be "both", "to" or "from", got ${JSON.stringify(direction)}`,
        );
      }
      return { type, ...on, direction };
    }
    case 'latency': {
      const distribution = fault.distribution ?? 'uniform';
      if (distribution !== 'uniform' && distribution !== 'exponential') {
        throw new BadRequestError(
          `"distribution" must be "uniform" or "exponential", got ${JSON.stringify(distribution)}`,
        );
      }
      return {
        type,
        ...on,
        ms: number('ms', 0, 60_000),
        jitterMs: number('jitterMs', 0, 60_000, 0),
        distribution,
      };
    }
    case 'loss':
    case 'duplicate':
      return { type, ...on, probability: number('probability', 0, 1) };
  }
}

/**
 * The simulated network between the coordinator and the nodes: every batch and every reply
 * passes through {@link carry}, which delivers it at once, later, twice or never, as the
 * faults in force say. A message's fate is fixed by (seed, link, direction, the link's
 * message count), so the same seed gives the same decisions however threads interleave.
 * With no fault in force, {@link quiet} is true and links skip it: the hot path pays one
 * boolean.
 */
export class Network {
  readonly seed: number;
  readonly #clock: Clock;
  #faults: Fault[] = [];
  #nextId = 1;
  /** Told of each message a fault drops (the deterministic mode's trace); null otherwise. */
  readonly trace: DropTrace | null;
  /** Messages carried so far, per link and direction: `node × 2 + (to ? 0 : 1)`. */
  readonly #sequence: number[] = [];

  /** `trace`: told of each message a fault drops (default none). */
  constructor(seed: number, clock: Clock, trace?: DropTrace) {
    this.seed = subSeed(seed, 'network');
    this.#clock = clock;
    this.trace = trace ?? null;
  }

  /** True when no fault is in force: messages go straight through. */
  get quiet(): boolean {
    return this.#faults.length === 0;
  }

  list(): Fault[] {
    return this.#faults.map((fault) => ({ ...fault }));
  }

  /** A fault id no fault has had: for faults kept elsewhere (node pauses), so ids never clash. */
  reserveId(): number {
    return this.#nextId++;
  }

  add(spec: FaultSpec): Fault {
    const fault = { ...spec, id: this.reserveId() } as Fault;
    this.#faults.push(fault);
    return fault;
  }

  /** Heals one fault; false if there was none of that id. */
  remove(id: number): boolean {
    const before = this.#faults.length;
    this.#faults = this.#faults.filter((fault) => fault.id !== id);
    return this.#faults.length < before;
  }

  /** Heals every fault. */
  clear(): void {
    this.#faults = [];
  }

  /**
   * Carries one message on `node`'s link: `deliver` is called zero, one or two times (a
   * duplicate gets a copy of an ArrayBuffer, since delivering may transfer it), now or later.
   */
  carry<M>(node: number, direction: Direction, message: M, deliver: (message: M) => void): void {
    const lane = node * 2 + (direction === 'to' ? 0 : 1);
    const seq = (this.#sequence[lane] ?? 0) + 1;
    this.#sequence[lane] = seq;
    let delayMs = 0;
    let copies = 1;
    for (const fault of this.#faults) {
      if (fault.nodes !== undefined && !fault.nodes.includes(node)) continue;
      switch (fault.type) {
        case 'partition':
          if (fault.direction === 'both' || fault.direction === direction) {
            this.trace?.dropped(node, direction, message, 'partition');
            return;
          }
          break;
        case 'loss':
          if (fate(this.seed, lane, seq, fault.id * 4) < fault.probability) {
            this.trace?.dropped(node, direction, message, 'loss');
            return;
          }
          break;
        case 'duplicate':
          if (fate(this.seed, lane, seq, fault.id * 4 + 1) < fault.probability) copies = 2;
          break;
        case 'latency': {
          const draw = fate(this.seed, lane, seq, fault.id * 4 + 2);
          const jitter = fault.jitterMs ?? 0;
          delayMs +=
            fault.ms + (fault.distribution === 'exponential' ? -Math.log(1 - draw) * jitter : jitter * draw);
        }
      }
    }
    const send = () => {
      if (copies === 2) deliver(message instanceof ArrayBuffer ? (message.slice(0) as M) : message);
      deliver(message);
    };
    if (delayMs > 0) this.#clock.setTimer(delayMs, send);
    else send();
  }
}
