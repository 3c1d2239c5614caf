import { Cluster } from '../../src/cluster/cluster.js';
import type { Topology } from './processes.js';

/** Per-operation cost through the engine (ring → port → node Map → reply), no HTTP, in µs. */
export interface EngineLatency {
  /** One operation at a time, each awaited: a full cross-thread round trip. */
  getSequentialUs: number;
  putSequentialUs: number;
  /** 1000 operations in flight: the cost per operation once batching amortises the trip. */
  getPipelinedUs: number;
  putPipelinedUs: number;
}

const KEYS = 10_000;

async function sequential(n: number, op: (i: number) => Promise<unknown>): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < n; i++) await op(i);
  return ((performance.now() - start) * 1000) / n;
}

async function pipelined(n: number, inFlight: number, op: (i: number) => Promise<unknown>): Promise<number> {
  const start = performance.now();
  let next = 0;
  const lane = async () => {
    while (next < n) await op(next++);
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  return ((performance.now() - start) * 1000) / n;
}

export async function engineLatency(topology: Topology, ops: number): Promise<EngineLatency> {
  const cluster = await Cluster.start({ nodes: topology.nodes, replicas: topology.replicas });
  try {
    const key = (i: number) => `engine:${i % KEYS}`;
    const value = 'e8c12114-674b-4f75-a753-c2e1c33ad4bd';
    await pipelined(KEYS, 1000, (i) => cluster.put(key(i), value)); // warm: every key present
    return {
      putSequentialUs: await sequential(ops / 10, (i) => cluster.put(key(i), value)),
      getSequentialUs: await sequential(ops / 10, (i) => cluster.get(key(i))),
      putPipelinedUs: await pipelined(ops, 1000, (i) => cluster.put(key(i), value)),
      getPipelinedUs: await pipelined(ops, 1000, (i) => cluster.get(key(i))),
    };
  } finally {
    await cluster.close();
  }
}
