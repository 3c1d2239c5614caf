import type { Cluster, Consistency } from '../cluster/cluster.js';
import type { FaultSpec } from '../sim/network.js';
import type { PauseFault } from '../sim/pause-fault.js';
import type { ThunderClient } from '../client/index.js';
import { HistoryCompacted } from '../watch/change-feed.js';
import type { SeenChange } from './watch-check.js';

/** A fault as the checker's schedule asks for it: the network's, or a pause. */
export type TargetFault = FaultSpec | Omit<PauseFault, 'id'>;

/**
 * What the checker drives: a cluster in this process (either mode) or one at a URL. Each
 * operation rejects with an error carrying the catalogue `code` (e.g. QUORUM_NOT_MET,
 * NODE_TIMEOUT, PRECONDITION_FAILED) when the cluster refuses or fails it.
 */
export interface Target {
  /** The node ids of the ring, and the replication settings in force. */
  describe(): Promise<{ nodes: number[]; replicas: number; r: number; w: number }>;
  read(key: string): Promise<string | null>;
  write(key: string, value: string): Promise<void>;
  delete(key: string): Promise<void>;
  /** Writes only if the key holds nothing (`If-None-Match: *`). */
  create(key: string, value: string): Promise<void>;
  /** Deletes only if the key holds a value (`If-Match: *`). */
  deleteIfPresent(key: string): Promise<void>;
  /** Puts a fault in force; resolves to its id. */
  addFault(fault: TargetFault): Promise<number>;
  healFault(id: number): Promise<void>;
  healAll(): Promise<void>;
  crash(node: number): Promise<void>;
  restart(node: number): Promise<void>;
  antiEntropy(): Promise<void>;
  /** The version each replica of the key holds (negative: a tombstone; 0: nothing; null: no answer). */
  versions(key: string): Promise<(number | null)[]>;
  /** Watches the keys under `prefix` from now, telling `seen` of each change; resolves once watching. */
  watch(prefix: string, seen: (change: SeenChange) => void): Promise<TargetWatch>;
}

/** A watch of the checker's keys. */
export interface TargetWatch {
  /** Resolves once every change released up to now has been seen. */
  caughtUp(): Promise<void>;
  close(): void;
}

/** A cluster in this process, asked with the given consistency (r, w, repair). */
export function clusterTarget(cluster: Cluster, consistency: Consistency): Target {
  return {
    describe: () => Promise.resolve({ nodes: [...cluster.members], ...cluster.replication }),
    read: async (key) => (await cluster.get(key, consistency))?.toString('utf8') ?? null,
    write: async (key, value) => void (await cluster.put(key, value, consistency)),
    delete: async (key) => void (await cluster.delete(key, consistency)),
    create: async (key, value) => void (await cluster.putIf(key, value, { ifNoneMatch: '*' }, consistency)),
    deleteIfPresent: async (key) => void (await cluster.putIf(key, null, { ifMatch: '*' }, consistency)),
    addFault: (fault) => Promise.resolve(cluster.addFault(fault).id),
    healFault: (id) => Promise.resolve(void cluster.healFault(id)),
    healAll: () => Promise.resolve(cluster.healAll()),
    crash: (node) => cluster.crash(node),
    restart: async (node) => void (await cluster.restart(node)),
    antiEntropy: async () => void (await cluster.antiEntropy()),
    versions: async (key) => (await cluster.locate(key)).versions,
    // In this process the feed tells the watcher as it releases each change: always caught up.
    watch: (prefix, seen) => {
      const subscription = cluster.feed.subscribe({ prefix }, undefined, {
        change: ({ type, key, version, value }) =>
          seen(
            value === null ? { type, key, version } : { type, key, version, value: value.toString('utf8') },
          ),
      });
      if (subscription instanceof HistoryCompacted) throw new Error('a watch from now is never compacted');
      return Promise.resolve({ caughtUp: () => Promise.resolve(), close: () => subscription.close() });
    },
  };
}

/**
 * A watch through `client` (GET /watch), with progress events every 100 ms: `caughtUp` asks
 * a fresh stream where the feed is, then waits until this one has reached it.
 */
export async function clientWatch(
  client: ThunderClient,
  prefix: string,
  seen: (change: SeenChange) => void,
): Promise<TargetWatch> {
  const stop = new AbortController();
  let at = 0;
  let wake = (): void => {};
  let failure: Error | null = null;
  let started!: () => void;
  const watching = new Promise<void>((resolve) => (started = resolve));
  void (async () => {
    for await (const event of client.watch(prefix, {
      progress: true,
      progressMs: 100,
      signal: stop.signal,
    })) {
      at = event.version;
      started();
      if (event.type !== 'progress') {
        const change: SeenChange = { type: event.type, key: event.key!, version: event.version };
        if (event.value !== undefined) change.value = Buffer.from(event.value).toString('utf8');
        seen(change);
      }
      wake();
    }
  })().catch((err: unknown) => {
    failure = err instanceof Error ? err : new Error(String(err));
    started();
    wake();
  });
  await watching;
  return {
    async caughtUp() {
      const probe = new AbortController();
      let target = 0;
      for await (const event of client.watch(prefix, { progress: true, signal: probe.signal })) {
        target = event.version;
        break;
      }
      while (at < target && !stop.signal.aborted) {
        if (failure !== null) throw new Error(`the watch of the checker's keys failed: ${failure.message}`);
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
    close: () => stop.abort(),
  };
}

/**
 * `target` with every value written padded with dots to `bytes` bytes (the workload's values,
 * `client-n`, hold none), and every value read cut back to its name: the history names
 * writes as before, while the cluster stores values of the size asked for.
 */
export function paddedTarget(target: Target, bytes: number): Target {
  const pad = (value: string) => value.padEnd(bytes, '.');
  const unpad = (value: string | null) => {
    const end = value?.indexOf('.') ?? -1;
    return end < 0 ? value : value!.slice(0, end);
  };
  return {
    ...target,
    read: async (key) => unpad(await target.read(key)),
    write: (key, value) => target.write(key, pad(value)),
    create: (key, value) => target.create(key, pad(value)),
    watch: (prefix, seen) =>
      target.watch(prefix, (change) =>
        seen(change.value === undefined ? change : { ...change, value: unpad(change.value)! }),
      ),
  };
}
