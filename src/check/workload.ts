import type { Clock } from '../time/clock.js';
import { Rng, subSeed } from '../time/rng.js';
import type { Fn, History } from './history.js';
import type { Target } from './target.js';

/** The checker's workload: how many clients, on how many keys, for how long. */
export interface WorkloadOptions {
  seed: number;
  clients: number;
  /** The keys the clients share (see {@link keysOf}). */
  keys: readonly string[];
  /** Operations to invoke in all, at most. */
  ops: number;
  /** How long clients keep invoking, in ms of the run's clock. */
  durationMs: number;
  /** Each client waits up to this many ms (uniformly, seeded) before each operation. */
  thinkMs: number;
  /** Once aborted, no client invokes another operation (those in flight still end). */
  signal?: AbortSignal | undefined;
}

/**
 * The checker's keys: a small set, so that clients meet on each; `prefix` keeps a run's keys
 * apart from any other's on a cluster already in use.
 */
export function keysOf(count: number, prefix = ''): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}k${i}`);
}

/**
 * The mix of operations, as cumulative shares. Keys take turns: even keys are written
 * unconditionally (read, write, delete), odd keys only conditionally (read, create,
 * delete-if-present). A conditional write is checked and made alone among its key's
 * conditional writes, but an unconditional write may land between its check and its write
 * (README, "Conditional writes"), so mixing both on one key is not linearizable by design;
 * the split keeps the workload to what the cluster promises, on both kinds of key.
 */
const MIXES: [Fn, number][][] = [
  [
    ['read', 0.5],
    ['write', 0.85],
    ['delete', 1],
  ],
  [
    ['read', 0.5],
    ['create', 0.8],
    ['delete-if-present', 1],
  ],
];

/**
 * Runs concurrent clients, each invoking one operation at a time on a random key, and
 * records each invocation and outcome. Every choice comes from the client's own seeded
 * stream, so a client's operations are the same in every run of a seed, whatever order
 * answers come back in. Every value written is unique (`client-n`), so a read names the
 * write it saw.
 */
export async function runWorkload(
  target: Target,
  clock: Clock,
  history: History,
  options: WorkloadOptions,
): Promise<void> {
  const { keys } = options;
  const start = clock.now();
  let invoked = 0;
  const client = async (process: number): Promise<void> => {
    const rng = new Rng(subSeed(options.seed, `client-${process}`));
    for (let n = 0; ; n++) {
      const wait = rng.next() * options.thinkMs;
      if (wait > 0) await new Promise<void>((resolve) => clock.setTimer(wait, resolve));
      if (invoked >= options.ops || clock.now() - start >= options.durationMs || options.signal?.aborted)
        return;
      invoked++;
      const k = rng.int(0, keys.length - 1);
      const draw = rng.next();
      const f = MIXES[k % 2]!.find(([, upTo]) => draw < upTo)![0];
      await perform(target, history, process, f, keys[k]!, `${process}-${n}`);
    }
  };
  await Promise.all(Array.from({ length: options.clients }, (_, process) => client(process)));
}

/** Invokes one operation and records its outcome. */
export async function perform(
  target: Target,
  history: History,
  process: number,
  f: Fn,
  key: string,
  value: string,
): Promise<void> {
  const written = f === 'write' || f === 'create';
  const invoke = history.invoke(process, f, key, written ? value : undefined);
  try {
    switch (f) {
      case 'read':
        history.complete(invoke, 'ok', { value: await target.read(key) });
        return;
      case 'write':
        await target.write(key, value);
        break;
      case 'delete':
        await target.delete(key);
        break;
      case 'create':
        await target.create(key, value);
        break;
      case 'delete-if-present':
        await target.deleteIfPresent(key);
    }
    history.complete(invoke, 'ok');
  } catch (err) {
    const { code: error = 'INTERNAL', details } = err as { code?: string; details?: { applied?: boolean } };
    // A read changes nothing, and a write refused before any replica saw it (a precondition
    // that failed, a quorum known short) did not happen; any other write that failed may
    // have reached some replicas.
    const certain = f === 'read' || error === 'PRECONDITION_FAILED' || details?.applied === false;
    history.complete(invoke, certain ? 'fail' : 'info', { error });
  }
}
