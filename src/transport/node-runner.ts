import { MessageChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { scrambleFor } from '../node/scramble.js';
import type { AttachTask, BatchFailure } from '../wire/protocol.js';
import { nodeStorage, type StorageOptions } from '../storage/options.js';
import { transferListFor } from '../wire/frame.js';

/** What a running node tells its link. */
export interface NodeEvents {
  /** A reply to a batch, or the failure of one. */
  reply(reply: ArrayBuffer | SharedArrayBuffer | BatchFailure): void;
  /** The node died on its own (its thread exited). */
  died(): void;
}

/** One run of a node, from start to crash or stop: a fresh, empty node. */
export interface NodeProcess {
  /** Resolves once the node takes batches; rejects if it could not start. */
  readonly ready: Promise<void>;
  /** Hands the node one batch (a large one is transferred, not copied; a shared one is shared). */
  post(batch: ArrayBuffer | SharedArrayBuffer): void;
  /**
   * True when the node reads a shared batch in place (a thread), so the front end may send
   * batches in shared buffers it reuses; false when it keeps what it is handed.
   */
  readonly sharesMemory: boolean;
  /** Ends the node as a crash would: its memory is gone. Resolves once nothing of it is left. */
  kill(): Promise<void>;
  /** Ends the node cleanly: what it has not yet made durable is, then it is killed. */
  stop(): Promise<void>;
}

export type NodeRunner = (node: number, partitions: number, events: NodeEvents) => NodeProcess;

/** How long a clean stop waits for a node to close its log before killing it anyway. */
const STOP_WAIT_MS = 5000;

const WORKER = new URL('../../workers/node.js', import.meta.url);

/**
 * Runs each node in a piscina pool of exactly one thread, handed a MessagePort (and, with
 * `storage`, its journal, which it replays before it takes batches). Piscina's own
 * task channel is used once, to transfer the port; all data then goes over the port, since
 * `pool.run()` per operation is an order of magnitude slower. A kill destroys the pool, so
 * piscina starts no replacement thread behind our back.
 */
export function threadRunner(storage?: StorageOptions, salt = 0, maxStoreBytes?: number): NodeRunner {
  return (node, partitions, events) => {
    const pool = new Piscina({
      filename: WORKER.href,
      minThreads: 1,
      maxThreads: 1,
      idleTimeout: Infinity,
      // With 'sync' (the default) an idle piscina worker sleeps in Atomics.wait and never
      // sees messages on a transferred port.
      atomics: 'disabled',
      // A small young generation: batches die young, and a default-sized one per thread
      // is resident memory that holds no data (bench/RESULTS.md, memory).
      resourceLimits: { maxYoungGenerationSizeMb: 4 },
    });
    // An uncaught error in a node thread is an 'error' event on its pool; unheard, it would
    // kill the whole process. The port's 'close' below is what reports the node dead.
    pool.on('error', (err: Error) => {
      process.emitWarning(`node ${node} thread failed: ${err.message}`);
    });
    const { port1, port2 } = new MessageChannel();
    let killed: Promise<void> | null = null;
    let closed: (() => void) | null = null;
    port1.on('message', (reply: ArrayBuffer | SharedArrayBuffer | BatchFailure | 'closed') => {
      if (reply === 'closed') closed?.();
      else events.reply(reply);
    });
    port1.on('close', () => {
      if (killed === null) events.died();
    });
    const task: AttachTask = {
      port: port2,
      node,
      partitions,
      scramble: scrambleFor(node, salt),
      ...(storage === undefined ? {} : { storage: nodeStorage(storage, node) }),
      ...(maxStoreBytes === undefined ? {} : { maxStoreBytes }),
    };
    // Once, however often asked (a crash, then the stop of a failed join): a second
    // pool.destroy() finds no thread left, returns at once and lets piscina think it is no
    // longer destroying, so the first thread's exit then made it start a replacement that
    // nothing ever stopped.
    const kill = (): Promise<void> =>
      (killed ??= (async () => {
        port1.close();
        // Terminating the thread also closes the files it opened (Node closes a worker's
        // file descriptors when it ends): nothing of the node is left open.
        await pool.destroy();
      })());
    return {
      ready: pool.run(task, { transferList: [port2] }).then(() => {}),
      post: (batch) => port1.postMessage(batch, batch instanceof ArrayBuffer ? transferListFor(batch) : []),
      sharesMemory: true,
      kill,
      async stop() {
        if (storage !== undefined && killed === null) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, STOP_WAIT_MS);
            closed = () => {
              clearTimeout(timer);
              resolve();
            };
            port1.postMessage('close');
          });
        }
        await kill();
      },
    };
  };
}
