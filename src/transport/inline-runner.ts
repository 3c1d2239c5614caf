import { scrambleFor } from '../node/scramble.js';
import type { NodeRunner } from './node-runner.js';
import { answer, NodeRuntime } from '../node/runtime.js';
import { NodeStore } from '../node/store.js';
import { HAND_OFF_BYTES } from '../wire/frame.js';
import type { SimLoop } from '../sim/loop.js';

/**
 * Where an inline node's store comes from, when a caller wants to watch the stores (the
 * checker's replica invariants, src/check/replica-invariants.ts).
 */
export interface InlineStores {
  storeFor(node: number, options: ConstructorParameters<typeof NodeStore>[0]): NodeStore;
  /** The node was killed: its store is gone. */
  forget(node: number, store: NodeStore): void;
}

/**
 * Runs nodes inline on a simulated loop, for the deterministic mode: each node is the same
 * {@link NodeRuntime} and {@link NodeStore} a node thread holds, and each batch and reply is an event of the loop rather
 * than a message between threads. A pause holds the node's queue for that much simulated
 * time (a thread would block), so what arrives meanwhile waits, as it does on a thread.
 * Every batch a node receives is folded into the loop's hash: the coordinator's decisions
 * (which node, which versions, when) all show there. Given `stores`, each node's store comes
 * from it.
 */
export function inlineRunner(loop: SimLoop, stores?: InlineStores): NodeRunner {
  return (node, partitions, events) => {
    /** Until when the node is paused, in simulated ms. */
    let busyUntil = 0;
    const options = { partitions, scramble: scrambleFor(node), clock: loop };
    const store = stores?.storeFor(node, options) ?? new NodeStore(options);
    let runtime: NodeRuntime | null = new NodeRuntime(store, {
      pause: (ms) => (busyUntil = Math.max(busyUntil, loop.now()) + ms),
    });
    /** Runs `fire` once the node is free (now, unless paused), unless it has been killed since. */
    const whenFree = (fire: (live: NodeRuntime) => void): void => {
      loop.setTimer(busyUntil - loop.now(), () => {
        if (runtime === null) return;
        if (loop.now() < busyUntil) whenFree(fire);
        else fire(runtime);
      });
    };
    const kill = (): Promise<void> => {
      runtime = null;
      stores?.forget(node, store);
      return Promise.resolve();
    };
    return {
      ready: Promise.resolve(),
      post(batch) {
        loop.record(`>${node}:`);
        // A batch past HAND_OFF_BYTES is its writer's whole buffer, whose tail was never
        // written: only bytes every run writes the same go into the hash.
        loop.recordBytes(new Uint8Array(batch, 0, Math.min(batch.byteLength, HAND_OFF_BYTES)));
        whenFree((live) => {
          const reply = answer(live, batch);
          // A pause in this batch holds its reply until the pause is over.
          whenFree(() => events.reply(reply));
        });
      },
      // The loop keeps batches (a pause holds them): each must stay as it was sent.
      sharesMemory: false,
      kill,
      stop: kill,
    };
  };
}
