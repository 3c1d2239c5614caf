import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { Batcher, type ReplySink } from './batcher.js';
import type { Clock } from './clock.js';
import { errorFromWire, NodeTimeoutError, NodeUnavailableError } from './errors.js';
import type { AttachTask, BatchFailure } from './protocol.js';
import { transferListFor, type BatchWriter } from './wire.js';

/** A node's life: up once its thread has its port, down if the thread dies. */
export type NodeState = 'starting' | 'up' | 'down' | 'stopped';

const WORKER = new URL('../workers/node.js', import.meta.url);

/**
 * The front end's handle on one node thread: a piscina pool of exactly one thread, the
 * MessagePort it was handed, and the {@link Batcher} that queues operations for it.
 * Piscina's own task channel is used once, to transfer the port; all data then goes over
 * the port, since `pool.run()` per operation is an order of magnitude slower.
 */
/** How a {@link NodeLink} keeps time. */
export interface LinkTiming {
  clock: Clock;
  /** A batch not answered within this many ms fails with NODE_TIMEOUT; its reply, if it comes, is ignored. */
  timeoutMs: number;
}

export class NodeLink {
  readonly id: number;
  #state: NodeState = 'starting';
  readonly #batcher = new Batcher();
  readonly #timing: LinkTiming;
  readonly #onStateChange: () => void;
  /** Cancels the pending timeout check, when one is armed. */
  #disarm: (() => void) | null = null;
  readonly #pool: Piscina;
  readonly #port: MessagePort;
  readonly #attached: Promise<void>;

  /** `onStateChange` is called after each change of {@link state}. */
  constructor(id: number, timing: LinkTiming, onStateChange: () => void = () => {}) {
    this.id = id;
    this.#timing = timing;
    this.#onStateChange = onStateChange;
    this.#pool = new Piscina({
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
    // kill the whole process. The port's 'close' below is what marks the node down.
    this.#pool.on('error', (err: Error) => {
      process.emitWarning(`node ${id} thread failed: ${err.message}`);
    });
    const { port1, port2 } = new MessageChannel();
    this.#port = port1;
    port1.on('message', (reply: ArrayBuffer | BatchFailure) => {
      if (reply instanceof ArrayBuffer) this.#batcher.settle(reply);
      else this.#batcher.fail(reply.id, errorFromWire(reply.error));
    });
    port1.on('close', () => this.#down());
    const task: AttachTask = { port: port2 };
    this.#attached = this.#pool.run(task, { transferList: [port2] }).then(
      () => {
        if (this.#state === 'starting') this.#setState('up');
      },
      (err: Error) => {
        this.#down();
        throw new NodeUnavailableError(`node ${id} failed to start: ${err.message}`);
      },
    );
    // Cluster.start awaits ready(); this only keeps a failure from also being "unhandled".
    this.#attached.catch(() => {});
  }

  get state(): NodeState {
    return this.#state;
  }

  /** Operations queued or in flight to this node. */
  get pending(): number {
    return this.#batcher.pending;
  }

  /** Resolves once the node's thread holds its port. */
  ready(): Promise<void> {
    return this.#attached;
  }

  /**
   * Where to write the next operation, or null (having failed `sink`) when the node is down.
   * After writing exactly one operation, call {@link add}.
   */
  writerFor(sink: ReplySink, tag: number): BatchWriter | null {
    if (this.#state === 'down' || this.#state === 'stopped') {
      sink.fail(tag, new NodeUnavailableError(`node ${this.id} is ${this.#state}`));
      return null;
    }
    return this.#batcher.writer;
  }

  /** Registers who waits for the operation just written. */
  add(sink: ReplySink, tag: number): void {
    this.#batcher.add(sink, tag);
  }

  /** Sends everything queued as one message (a large one transferred rather than copied). */
  flush(): void {
    if (!this.#batcher.dirty) return;
    const batch = this.#batcher.take(this.#timing.clock.now());
    this.#port.postMessage(batch, transferListFor(batch));
    this.#disarm ??= this.#timing.clock.setTimer(this.#timing.timeoutMs, this.#expire);
  }

  /** Fails the batches that waited past the timeout, and checks again when the next one is due. */
  readonly #expire = (): void => {
    const { clock, timeoutMs } = this.#timing;
    const now = clock.now();
    const error = new NodeTimeoutError(`node ${this.id} did not answer within ${timeoutMs} ms`);
    const oldest = this.#batcher.expire(now - timeoutMs, error);
    this.#disarm = oldest === null ? null : clock.setTimer(oldest + timeoutMs - now, this.#expire);
  };

  /** Kills the node's thread as a crash would: for fault tests. Resolves with the node down. */
  async crash(): Promise<void> {
    const thread = this.#pool.threads[0];
    if (thread) await thread.terminate();
    // The port's 'close' says so too, a moment later; requests sent in between would go to
    // a dead thread and wait for their timeout.
    this.#down();
  }

  /** Stops the node's thread; anything still waiting fails with NODE_UNAVAILABLE. */
  async stop(): Promise<void> {
    if (this.#state === 'stopped') return;
    this.#setState('stopped');
    this.#port.close();
    this.#disarm?.();
    this.#disarm = null;
    this.#batcher.failAll(new NodeUnavailableError(`node ${this.id} stopped`));
    await this.#pool.destroy();
  }

  #setState(state: NodeState): void {
    this.#state = state;
    this.#onStateChange();
  }

  #down(): void {
    if (this.#state === 'stopped' || this.#state === 'down') return;
    this.#setState('down');
    this.#batcher.failAll(new NodeUnavailableError(`node ${this.id} is down`));
  }
}
