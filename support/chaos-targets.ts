import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { HASH_SPACE } from '../src/ring/murmur3.js';
import { Cluster } from '../src/cluster/cluster.js';
import { SimLoop } from '../src/sim/loop.js';
import { holdingClock } from '../src/time/clock.js';
import { inlineRunner } from '../src/transport/inline-runner.js';
import { ReplicaInvariants } from '../src/check/replica-invariants.js';
import { ClusterUnreachableError, ThunderClient } from '../src/client/index.js';
import { forEachRecord } from '../src/wire/slices.js';
import { Chaos, type ChaosReport, type ChaosTarget, type ClusterView } from './chaos.js';

/**
 * Watches this process for what would end it (an unhandled rejection, an uncaught
 * exception) while a cluster runs in it: the first one is what {@link ChaosTarget.dead}
 * reports. Listening keeps them from ending the test run, so the run can report them.
 */
export function watchProcess(): { dead: () => string | null; stop: () => void } {
  let death: string | null = null;
  const note = (kind: string) => (err: unknown) => {
    death ??= `${kind}: ${err instanceof Error ? `${err.name} ${(err as { code?: string }).code ?? ''} ${err.message}\n${err.stack}` : String(err)}`;
  };
  const rejection = note('unhandled rejection');
  const exception = note('uncaught exception');
  process.on('unhandledRejection', rejection);
  process.on('uncaughtException', exception);
  return {
    dead: () => death,
    stop: () => {
      process.off('unhandledRejection', rejection);
      process.off('uncaughtException', exception);
    },
  };
}

/** The fuzzer's face on a cluster in this process (threads, or inline on a simulated loop). */
export function clusterChaosTarget(cluster: Cluster, dead: () => string | null): ChaosTarget {
  return {
    put: async (key, value) => void (await cluster.put(key, value)),
    get: async (key) => (await cluster.get(key))?.toString('latin1') ?? null,
    state: async (): Promise<ClusterView> => ({
      members: [...cluster.members],
      nodes: (await cluster.nodes()).map(({ id, state }) => ({ id, state })),
      transfers: cluster.coordinatorStats().transfers.length,
      faults: cluster.faults().length,
    }),
    addNode: () => cluster.addNode(),
    removeNode: (id) => cluster.removeNode(id),
    crash: (id) => cluster.crash(id),
    restart: (id) => cluster.restart(id),
    plan: (change) => cluster.plan(change),
    antiEntropy: () => cluster.antiEntropy(),
    addFault: async (spec) => cluster.addFault(spec),
    healFaults: async () => cluster.healAll(),
    exportAll: async () => {
      let keys = 0;
      for (const node of cluster.members) {
        for (let from = 0; from < HASH_SPACE;) {
          const slice = await cluster.primaryRecordSlice(node, from, 256 * 1024);
          forEachRecord(slice.records, () => keys++);
          from = slice.next;
        }
      }
      return keys;
    },
    dead,
  };
}

/** The fuzzer's face on a `thunderdb cluster` process, through its HTTP routes. */
export function httpChaosTarget(url: string, child: ChildProcess, output: () => string): ChaosTarget {
  const client = new ThunderClient(url);
  return {
    put: async (key, value) => void (await client.put(key, value)),
    get: (key) => client.getText(key),
    state: async (): Promise<ClusterView> => {
      const status = await client.cluster();
      return {
        members: status.nodes.map((n) => n.id),
        nodes: status.nodes.map(({ id, state }) => ({ id, state })),
        transfers: status.coordinator.transfers.length,
        faults: status.faults.length,
      };
    },
    addNode: () => client.addNode(),
    removeNode: (id) => client.removeNode(id),
    crash: (id) => client.crash(id),
    restart: (id) => client.restart(id),
    plan: (change) => client.plan(change as { add: 1 } | { remove: number }),
    antiEntropy: async () => (await client.antiEntropy()).partitionsRepaired,
    addFault: (spec) => client.addFault(spec as never),
    healFaults: () => client.clearFaults(),
    exportAll: async () => {
      let keys = 0;
      try {
        for await (const record of client.export()) if (record !== undefined) keys++;
      } catch (err) {
        // A node failing mid-export (a lost slice, a timeout) cuts the connection: the only
        // honest signal once the answer has begun. Expected while faults race, if the
        // process is still there to have cut it.
        if (err instanceof ClusterUnreachableError && child.exitCode === null && keys > 0)
          throw Object.assign(new Error('the export was cut'), { code: 'EXPORT_CUT', status: 503 });
        throw err;
      }
      return keys;
    },
    dead: () => {
      if (child.exitCode !== null || child.signalCode !== null)
        return `the cluster process ended (${child.exitCode ?? child.signalCode}): ${output().slice(-2000)}`;
      // The server survives an unhandled rejection, saying so: a bug all the same.
      const internal = output().indexOf('ThunderDB internal error');
      return internal < 0 ? null : output().slice(internal, internal + 2000);
    },
  };
}

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));

/**
 * Starts `thunderdb cluster --port 0 ARGS` as its own process, as users run it, and
 * resolves once it listens. It is killed after `timeoutMs` at the latest, so a run that
 * fails to stop it leaves nothing behind.
 */
export async function spawnCluster(
  args: string[],
  timeoutMs: number,
): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawn(process.execPath, [CLI, 'cluster', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: timeoutMs,
  });
  let out = '';
  child.stderr!.on('data', (d: Buffer) => (out += d));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match) resolve(match[1]!);
    });
    child.on('exit', (code) => reject(new Error(`the cluster exited with ${code} before listening: ${out}`)));
  });
  return { child, url, output: () => out };
}

/** How {@link runChaos} runs a seed. */
export interface ChaosRun {
  seed: number;
  steps: number;
  mode: 'threads' | 'deterministic';
  /** Nodes the cluster starts with. Default 4. */
  nodes?: number;
  log?: (line: string) => void;
}

/**
 * Runs one seed of the fuzzer on a fresh cluster: in the deterministic mode, nodes inline
 * on a simulated loop in this process (the event-log hash comes back: the same seed gives
 * the same hash); on threads, a `thunderdb cluster` process driven through its HTTP routes.
 */
export async function runChaos(run: ChaosRun): Promise<{ report: ChaosReport; hash: string | null }> {
  const nodes = run.nodes ?? 4;
  const options = { seed: run.seed, steps: run.steps, ...(run.log ? { log: run.log } : {}) };
  if (run.mode === 'threads') {
    const { child, url, output } = await spawnCluster(
      ['--nodes', String(nodes), '--anti-entropy-ms', '0', '--seed', String(run.seed)],
      30 * 60_000,
    );
    try {
      const chaos = new Chaos(httpChaosTarget(url, child, output), { ...options, clock: holdingClock });
      return { report: await chaos.run(), hash: null };
    } finally {
      child.kill();
    }
  }
  const loop = new SimLoop();
  const invariants = new ReplicaInvariants(() => loop.now());
  const watch = watchProcess();
  const cluster = await Cluster.start({
    nodes,
    seed: run.seed,
    clock: loop,
    runner: inlineRunner(loop, invariants),
    antiEntropyMs: 0,
    timeoutMs: 500,
  });
  invariants.watch(() => cluster.newestVersion);
  try {
    const chaos = new Chaos(clusterChaosTarget(cluster, watch.dead), { ...options, clock: loop });
    const report = await loop.run(chaos.run());
    for (const detail of invariants.broken.first) report.failures.push({ kind: 'replica-invariant', detail });
    loop.record(JSON.stringify(report.events));
    return { report, hash: loop.hash };
  } finally {
    watch.stop();
    await cluster.close();
  }
}
