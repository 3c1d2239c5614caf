import { checkFault, type Fault, type Network } from '../sim/network.js';
import { checkPause, type PauseFault } from '../sim/pause-fault.js';
import type { Clock } from '../time/clock.js';
import type { NodeSet } from './nodes.js';

/**
 * The fault controls: the simulated network's faults (partitions, latency, loss,
 * duplicates), which last until healed, and node pauses, which end by themselves.
 */
export class Faults {
  readonly #nodes: NodeSet;
  readonly #network: Network;
  readonly #clock: Clock;
  /** Node pauses in force, by fault id. */
  readonly #pauses = new Map<number, PauseFault>();

  constructor(nodes: NodeSet, network: Network, clock: Clock) {
    this.#nodes = nodes;
    this.#network = network;
    this.#clock = clock;
  }

  /** The faults in force: the network's, and node pauses not yet over. */
  list(): (Fault | PauseFault)[] {
    return [...this.#network.list(), ...this.#pauses.values()];
  }

  /**
   * Puts a fault in force (checked first: a bad one is a BadRequestError). A `pause` stops
   * each named node processing for `ms`, as a long GC pause would (its queue waits), and
   * ends by itself; the others last until healed.
   */
  add(spec: unknown): Fault | PauseFault {
    const members = this.#nodes.ring.members;
    if (typeof spec === 'object' && spec !== null && (spec as { type?: unknown }).type === 'pause') {
      const pause = checkPause(spec, members, this.#network.reserveId());
      this.#pauses.set(pause.id, pause);
      // Listed for its `ms` on the cluster's clock: the node's answer may come later (its
      // queue waits behind the pause) or be lost (a NODE_TIMEOUT), and neither ends it.
      for (const node of pause.nodes) this.pause(node, pause.ms).catch(() => {});
      this.#clock.setTimer(pause.ms, () => this.#pauses.delete(pause.id));
      return pause;
    }
    return this.#network.add(checkFault(spec, members));
  }

  /** Heals one network fault (a pause runs its course); false if none has that id. */
  heal(id: number): boolean {
    return this.#network.remove(id);
  }

  /** Heals every network fault. */
  healAll(): void {
    this.#network.clear();
  }

  /**
   * Stops one node processing for `ms`, as a long GC pause would; its queue waits. Resolves
   * when the node answers again (or rejects with NODE_TIMEOUT if that takes longer than
   * the timeout).
   */
  async pause(node: number, ms: number): Promise<void> {
    await this.#nodes.callNode(node, (w) => w.pause(ms));
  }
}
