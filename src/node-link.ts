import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { Batcher, type ReplySink } from './batcher.js';
import type { Clock } from './clock.js';
import { errorFromWire, NodeTimeoutError, NodeUnavailableError } from './errors.js';
import type { AttachTask, BatchFailure } from './protocol.js';
import type { Network } from './network.js';
import { transferListFor, type BatchWriter } from './wire.js';

/** A node's life: up once its thread has its port, down if the thread dies. */
export type NodeState = 'starting' | 'up' | 'down' | 'stopped';

const WORKER = new URL('../workers/node.js', import.meta.url);

/** How a {@link NodeLink} keeps time, and what its node is told when it starts. */
export interface LinkOptions {
  clock: Clock;
  /** A batch not answered within this many ms fails with NODE_TIMEOUT; its reply, if it comes, is ignored. */
  timeoutMs: number;
  /** The ring's partition count (the node keeps a digest per partition). */
  partitions: number;
  /** The simulated network every batch and reply passes through. */
  network: Network;
}

/**
 * The front end's handle on one node thread: a piscina pool of exactly one thread, the
 * MessagePort it was handed, and the {@link Batcher} that queues operations for it.
 * Piscina's own task channel is used once, to transfer the port; all data then goes over
 * the port, since `pool.run()` per operation is an order of magnitude slower. A crash
 * destroys the pool (so piscina starts no replacement thread behind our back); a restart
 * makes a new one.
 */
export class NodeLink {
  readonly id: number;
  #state: NodeState = 'starting';
  readonly #batcher = new Batcher();
  readonly #options: LinkOptions;
  readonly #onStateChange: () => void;
  /** Cancels the pending timeout check, when one is armed. */
  #disarm: (() => void) | null = null;
  #pool!: Piscina;
  #port!: MessagePort;
  #attached!: Promise<void>;

  /** `onStateChange` is called after each change of {@link state}. */
  constructor(id: number, options: LinkOptions, onStateChange: () => void = () => {}) {
    this.id = id;
    this.#options = options;
    this.#onStateChange = onStateChange;
    this.#start();
  }

  /** Starts a thread (a fresh, empty node) and hands it its port. */
  #start(): void {
    const id = this.id;
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
    this.#pool = pool;
    // An uncaught error in a node thread is an 'error' event on its pool; unheard, it would
    // kill the whole process. The port's 'close' below is what marks the node down.
    pool.on('error', (err: Error) => {
      process.emitWarning(`node ${id} thread failed: ${err.message}`);
    });
    const { port1, port2 } = new MessageChannel();
    this.#port = port1;
    const receive = (reply: ArrayBuffer | BatchFailure) => {
      if (reply instanceof ArrayBuffer) this.#batcher.settle(reply);
      else this.#batcher.fail(reply.id, errorFromWire(reply.error));
    };
    const { network } = this.#options;
    port1.on('message', (reply: ArrayBuffer | BatchFailure) => {
      if (network.quiet) receive(reply);
      else
        network.carry(id, 'from', reply, (message) => {
          if (this.#port === port1) receive(message);
        });
    });
    port1.on('close', () => {
      if (this.#port === port1) this.#down();
    });
    const task: AttachTask = { port: port2, node: id, partitions: this.#options.partitions };
    this.#attached = pool.run(task, { transferList: [port2] }).then(
      () => {
        if (this.#state === 'starting' && this.#pool === pool) this.#setState('up');
      },
      (err: Error) => {
        if (this.#pool === pool) this.#down();
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
    const { clock, timeoutMs } = this.#options;
    const batch = this.#batcher.take(clock.now());
    const { network } = this.#options;
    if (network.quiet) this.#port.postMessage(batch, transferListFor(batch));
    else {
      const port = this.#port;
      // Delivered later, maybe: a port closed meanwhile (a crash) takes nothing.
      network.carry(this.id, 'to', batch, (message) => {
        if (port === this.#port && this.#state !== 'down' && this.#state !== 'stopped') {
          port.postMessage(message, transferListFor(message));
        }
      });
    }
    this.#disarm ??= clock.setTimer(timeoutMs, this.#expire);
  }

  /** Fails the batches that waited past the timeout, and checks again when the next one is due. */
  readonly #expire = (): void => {
    const { clock, timeoutMs } = this.#options;
    const now = clock.now();
    const error = new NodeTimeoutError(`node ${this.id} did not answer within ${timeoutMs} ms`);
    const oldest = this.#batcher.expire(now - timeoutMs, error);
    this.#disarm = oldest === null ? null : clock.setTimer(oldest + timeoutMs - now, this.#expire);
  };

  /**
   * Kills the node's thread as a crash would: its memory is gone, and no thread is left
   * behind. Resolves with the node down.
   */
  async crash(): Promise<void> {
    if (this.#state === 'down' || this.#state === 'stopped') return;
    // Down first: what is waiting fails at once, and nothing new is sent to a dying thread.
    this.#down();
    this.#port.close();
    await this.#pool.destroy();
  }

  /** Starts a new, empty thread for a node that is down; resolves once it holds its port. */
  async restart(): Promise<void> {
    if (this.#state !== 'down') throw new RangeError(`node ${this.id} is ${this.#state}, not down`);
    this.#setState('starting');
    this.#start();
    await this.#attached;
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
    this.#disarm?.();
    this.#disarm = null;
    this.#batcher.failAll(new NodeUnavailableError(`node ${this.id} is down`));
  }
}
