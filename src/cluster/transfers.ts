import type { Copied } from './partition-copy.js';

/** A copy of partitions to a node, as `GET /cluster` shows it while it runs. */
export interface Transfer {
  /** The node being filled (a refill, a join) or emptied (a leave). */
  node: number;
  kind: 'refill' | 'join' | 'leave';
  partitions: number;
  /** Records copied so far (each source's copies counted), and their bytes. */
  keys: number;
  bytes: number;
  /** Sources done, of all. */
  sourcesDone: number;
  sources: number;
}

/** The copies under way, by node; their record counts read live from the copy's counter. */
export class Transfers {
  readonly #running = new Map<number, { transfer: Transfer; copied: Copied }>();

  /** Shows `transfer` until {@link end}; `copied` is the counter the copy adds to, slice by slice. */
  begin(transfer: Transfer, copied: Copied): void {
    this.#running.set(transfer.node, { transfer, copied });
  }

  end(node: number): void {
    this.#running.delete(node);
  }

  /** Partitions of the copies under way that concern `node` (it is filled or emptied). */
  partitionsOf(node: number): number {
    return this.#running.get(node)?.transfer.partitions ?? 0;
  }

  list(): Transfer[] {
    return [...this.#running.values()].map(({ transfer, copied }) => ({
      ...transfer,
      keys: copied.keys,
      bytes: copied.bytes,
    }));
  }
}
