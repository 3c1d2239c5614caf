import { ThunderClient } from '../client/index.js';
import { clientWatch, type Target } from './target.js';

/**
 * A cluster at a URL, driven through the client as any program would: reads and writes
 * with `r`/`w`/`repair`, faults, crashes and restarts. `consistency` absent: the cluster's
 * defaults. Failures reject with the client's errors, whose `code` (and `details.applied`)
 * the workload reads as it reads the in-process cluster's.
 */
export function httpTarget(
  url: string,
  consistency: { r?: number; w?: number; repair?: 'sync' | 'async' } = {},
): Target {
  const client = new ThunderClient(url);
  const read = { r: consistency.r, repair: consistency.repair };
  const write = { w: consistency.w };
  return {
    async describe() {
      const { nodes, ring } = await client.cluster();
      return { nodes: nodes.map((node) => node.id), replicas: ring.replicas, r: ring.r, w: ring.w };
    },
    read: (key) => client.getText(key, read),
    write: async (key, value) => void (await client.put(key, value, write)),
    // Absent already: the delete still wrote its tombstone, which is all it is for here.
    delete: async (key) => void (await client.delete(key, write)),
    create: async (key, value) => void (await client.put(key, value, { ...write, ifAbsent: true })),
    deleteIfPresent: async (key) => void (await client.delete(key, { ...write, ifMatch: '*' })),
    addFault: async (fault) => (await client.addFault(fault)).id,
    healFault: (id) => client.clearFault(id),
    healAll: async () => void (await client.clearFaults()),
    crash: async (node) => void (await client.crash(node)),
    restart: async (node) => void (await client.restart(node)),
    antiEntropy: async () => void (await client.antiEntropy()),
    versions: async (key) => (await client.locate(key)).versions,
    watch: (prefix, seen) => clientWatch(client, prefix, seen),
  };
}
