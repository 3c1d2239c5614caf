import { NodeStore } from '../node/store.js';
import type { StoreTrace } from '../sim/trace.js';
import type { InlineStores } from '../transport/inline-runner.js';
import { REFUSED_FOR_MEMORY, Written, type WriteOutcome } from '../wire/protocol.js';

/** How many broken invariants are kept to report: the first say what went wrong. */
const KEPT = 10;

/**
 * Invariants between replicas, checked as each node applies a batch in the deterministic
 * mode (as TigerBeetle's simulator checks its replicas after every step), so a broken one is
 * caught at the write that broke it, with the simulated time, not at the end as a wrong read:
 * - no replica stores a version newer than the coordinator's clock has stamped or seen (a
 *   version garbled on the wire, or made up by a node, shows here);
 * - a purge of a key's tombstone or expired value at version v leaves no node holding an
 *   older version of that key: purged while another copy lagged, the older value would come
 *   back through repair.
 * Nodes run inline, so every node's store is in reach; the checks cost nothing on threads.
 */
export class ReplicaInvariants implements InlineStores {
  readonly #stores = new Map<number, NodeStore>();
  readonly #now: () => number;
  /** Told of every write, tombstone and purge a store applies (the replay's trace), or null. */
  readonly trace: StoreTrace | null;
  #newestVersion: () => number = () => Number.POSITIVE_INFINITY;
  #broken: string[] = [];
  #count = 0;
  #writes = 0;
  #purges = 0;

  /** `now`: the simulated time, for the reports; `trace`: told of every write and purge (default none). */
  constructor(now: () => number, trace?: StoreTrace) {
    this.#now = now;
    this.trace = trace ?? null;
  }

  /** Where the coordinator's newest version comes from, once the cluster is up. */
  watch(newestVersion: () => number): void {
    this.#newestVersion = newestVersion;
  }

  /** How many times an invariant broke, and the first few, each saying when and where. */
  get broken(): { count: number; first: readonly string[] } {
    return { count: this.#count, first: this.#broken };
  }

  /** How many writes and purges were checked: a check that saw no purge proved little. */
  get checked(): { writes: number; purges: number } {
    return { writes: this.#writes, purges: this.#purges };
  }

  /** A store for `node` that checks every write and purge against the others. */
  storeFor(node: number, options: ConstructorParameters<typeof NodeStore>[0]): NodeStore {
    const store = new CheckedStore(options, node, this);
    this.#stores.set(node, store);
    return store;
  }

  /** The node was killed: its store is gone, so its copies count no longer. */
  forget(node: number, store: NodeStore): void {
    if (this.#stores.get(node) === store) this.#stores.delete(node);
  }

  /** Called by a node's store after a write at `version` that was not stale. */
  wrote(node: number, key: () => string, version: number): void {
    this.#writes++;
    const newest = this.#newestVersion();
    if (version > newest)
      this.#break(node, `stored ${key()} at version ${version}, newer than the coordinator's ${newest}`);
  }

  /** Called by a node's store after it purged a record of `version`. */
  purged(node: number, batch: Buffer, start: number, length: number, hash: number, version: number): void {
    this.#purges++;
    for (const [other, store] of this.#stores) {
      const location = store.records.locate(batch, start, length, hash);
      if (location === 0) continue;
      const held = store.records.versionAt(location);
      if (held < version) {
        const key = batch.toString('utf8', start, start + length);
        this.#break(
          node,
          `purged ${key} at version ${version} while node ${other} still held version ${held}`,
        );
      }
    }
  }

  #break(node: number, what: string): void {
    this.#count++;
    if (this.#broken.length < KEPT)
      this.#broken.push(`at ${this.#now().toFixed(1)} ms, node ${node} ${what}`);
  }
}

/** A node's store that reports its writes and purges to the invariants. */
class CheckedStore extends NodeStore {
  readonly #node: number;
  readonly #invariants: ReplicaInvariants;

  constructor(
    options: ConstructorParameters<typeof NodeStore>[0],
    node: number,
    invariants: ReplicaInvariants,
  ) {
    super(options);
    this.#node = node;
    this.#invariants = invariants;
  }

  override putValue(
    batch: Buffer,
    start: number,
    length: number,
    hash: number,
    version: number,
    valueStart: number,
    valueLength: number,
    expiring: boolean,
  ): WriteOutcome | typeof REFUSED_FOR_MEMORY {
    const outcome = super.putValue(batch, start, length, hash, version, valueStart, valueLength, expiring);
    if (outcome !== Written.Stale && outcome !== REFUSED_FOR_MEMORY) {
      this.#wrote(batch, start, length, version);
      this.#invariants.trace?.applied(
        this.#node,
        batch.toString('utf8', start, start + length),
        version,
        // A trace keeps a value's first characters only (see src/sim/trace.ts).
        batch.toString('utf8', valueStart, valueStart + Math.min(valueLength, 64)),
      );
    }
    return outcome;
  }

  override tombstone(
    batch: Buffer,
    start: number,
    length: number,
    hash: number,
    version: number,
  ): WriteOutcome {
    const outcome = super.tombstone(batch, start, length, hash, version);
    if (outcome !== Written.Stale) {
      this.#wrote(batch, start, length, version);
      this.#invariants.trace?.applied(
        this.#node,
        batch.toString('utf8', start, start + length),
        version,
        null,
      );
    }
    return outcome;
  }

  override purge(batch: Buffer, start: number, length: number, hash: number, version: number): boolean {
    const removed = super.purge(batch, start, length, hash, version);
    if (removed) {
      this.#invariants.purged(this.#node, batch, start, length, hash, version);
      this.#invariants.trace?.purged(this.#node, batch.toString('utf8', start, start + length), version);
    }
    return removed;
  }

  #wrote(batch: Buffer, start: number, length: number, version: number): void {
    this.#invariants.wrote(this.#node, () => batch.toString('utf8', start, start + length), version);
  }
}
