import { Batcher, type ReplySink } from './batcher.js';
import type { Clock } from '../time/clock.js';
import { LatencyHistogram } from '../time/latency-histogram.js';
import { errorFromWire, NodeTimeoutError, NodeUnavailableError } from '../errors.js';
import type { BatchFailure } from '../wire/protocol.js';
import type { Network } from '../sim/network.js';
import type { MessageTrace } from '../sim/trace.js';
import type { NodeProcess, NodeRunner } from './node-runner.js';
import type { BatchWriter } from '../wire/batch.js';

/** A node's life: up once it takes batches, down if it crashes or dies. */
export type NodeState = 'starting' | 'up' | 'down' | 'stopped';

/** How a {@link NodeLink} keeps time, and what its node is told when it starts. */
export interface LinkOptions {
  clock: Clock;
  /** A batch not answered within this many ms fails with NODE_TIMEOUT; its reply, if it comes, is ignored. */
  timeoutMs: number;
  /** The ring's partition count (the node keeps a digest per partition). */
  partitions: number;
  /** The simulated network every batch and reply passes through. */
  network: Network;
  /** Where the node runs: its own thread, or inline on the simulated loop. */
  runner: NodeRunner;
  /** Told of every message (the deterministic mode's trace); absent otherwise. */
  trace?: MessageTrace | undefined;
}

/**
 * The front end's handle on one node: the node's current run ({@link NodeProcess}, a thread
 * or an inline node as {@link LinkOptions.runner} makes it) and the {@link Batcher} that
 * queues operations for it. Every batch and reply passes through the simulated network. A
 * crash kills the run; a restart starts a fresh, empty one.
 */
export class NodeLink {
  readonly id: number;
  /**
   * How long this node's batches took, sent to answered (the hop both ways, the queue
   * and the node's work): its latency as `/metrics` and the dashboard show it.
   */
  readonly roundTrips = new LatencyHistogram();
  #state: NodeState = 'starting';
  readonly #batcher = new Batcher();
  readonly #options: LinkOptions;
  readonly #onStateChange: () => void;
  /** Cancels the pending timeout check, when one is armed. */
  #disarm: (() => void) | null = null;
  #process!: NodeProcess;
  #attached!: Promise<void>;
  /** The most operations this node has had queued or in flight at once (counted at each flush). */
  #backlogPeak = 0;
  /** Callers waiting for {@link pending} to come down to a mark (see {@link whenPendingAtMost}). */
  #drainWaiters: { mark: number; then: () => void }[] = [];

  /** `onStateChange` is called after each change of {@link state}. */
  constructor(id: number, options: LinkOptions, onStateChange: () => void = () => {}, start = true) {
    this.id = id;
    this.#options = options;
    this.#onStateChange = onStateChange;
    if (start) this.#start();
    else {
      this.#state = 'stopped';
      this.#attached = Promise.resolve();
    }
  }

  /**
   * The link of a node that left the ring before this process started (a ring stored after
   * a leave): stopped from the start, with no thread; it takes nothing and is never restarted.
   */
  static departed(id: number, options: LinkOptions): NodeLink {
    return new NodeLink(id, options, () => {}, false);
  }

  /** Starts a fresh, empty node. */
  #start(): void {
    const { id } = this;
    const { network, runner, partitions, trace } = this.#options;
    const receive = (reply: ArrayBuffer | SharedArrayBuffer | BatchFailure) => {
      trace?.delivered(id, 'from', reply);
      if (reply instanceof ArrayBuffer || reply instanceof SharedArrayBuffer) {
        const sentAt = this.#batcher.settle(reply);
        if (sentAt >= 0) this.roundTrips.observe(this.#options.clock.now() - sentAt);
      } else this.#batcher.fail(reply.id, errorFromWire(reply.error));
      if (this.#drainWaiters.length > 0) this.#drained();
    };
    const run: NodeProcess = runner(id, partitions, {
      reply: (reply) => {
        if (this.#process !== run) return;
        trace?.sent(id, 'from', reply);
        if (network.quiet) receive(reply);
        else
          network.carry(id, 'from', reply, (message) => {
            // Delivered later, maybe: a reply from a run since killed settles nobody.
            if (this.#process === run) receive(message);
            else trace?.dropped(id, 'from', message, 'down');
          });
      },
      died: () => {
        if (this.#process === run) this.#down();
      },
    });
    this.#process = run;
    this.#attached = run.ready.then(
      () => {
        if (this.#state === 'starting' && this.#process === run) this.#setState('up');
      },
      (err: Error) => {
        if (this.#process === run) this.#down();
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

  /** The most operations queued or in flight to this node at once, since it was added. */
  get backlogPeak(): number {
    return this.#backlogPeak;
  }

  /**
   * Calls `then` once {@link pending} is at most `mark`, or the node is down or stopped (its
   * queue is then failed, so nothing waits on it): at once if it is already.
   */
  whenPendingAtMost(mark: number, then: () => void): void {
    if (this.#batcher.pending <= mark || this.#state === 'down' || this.#state === 'stopped') then();
    else this.#drainWaiters.push({ mark, then });
  }

  /** Calls the drain waiters whose mark the queue has come down to. */
  #drained(): void {
    const gone = this.#state === 'down' || this.#state === 'stopped';
    const pending = this.#batcher.pending;
    const due = this.#drainWaiters.filter((waiter) => gone || pending <= waiter.mark);
    if (due.length === 0) return;
    this.#drainWaiters = this.#drainWaiters.filter((waiter) => !due.includes(waiter));
    for (const waiter of due) waiter.then();
  }

  /** Resolves once the node takes batches. */
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
    if (this.#batcher.pending > this.#backlogPeak) this.#backlogPeak = this.#batcher.pending;
    const { clock, timeoutMs } = this.#options;
    // Shared only when delivered exactly once: a faulty network may duplicate or hold it.
    const batch = this.#batcher.take(clock.now(), this.#options.network.quiet && this.#process.sharesMemory);
    const { network, trace } = this.#options;
    trace?.sent(this.id, 'to', batch);
    if (network.quiet) {
      trace?.delivered(this.id, 'to', batch);
      this.#process.post(batch);
    } else {
      const run = this.#process;
      // Delivered later, maybe: a run killed meanwhile (a crash) takes nothing.
      network.carry(this.id, 'to', batch, (message) => {
        if (run === this.#process && this.#state !== 'down' && this.#state !== 'stopped') {
          trace?.delivered(this.id, 'to', message);
          run.post(message);
        } else trace?.dropped(this.id, 'to', message, 'down');
      });
    }
    this.#disarm ??= clock.setTimer(timeoutMs, this.#due);
  }

  /**
   * The timeout check is due; it is judged once the events already due have been handled
   * (`defer`). A timer runs before the replies waiting for this thread: when it was busy past
   * the timeout (a large batch parsed, a loaded machine), a reply the node sent in time may
   * be waiting behind the timer, and the node did answer.
   */
  readonly #due = (): void => {
    let cancelled = false;
    this.#disarm = () => (cancelled = true);
    this.#options.clock.defer(() => {
      if (!cancelled) this.#expire();
    });
  };

  /** Fails the batches that waited past the timeout, and checks again when the next one is due. */
  #expire(): void {
    const { clock, timeoutMs } = this.#options;
    const now = clock.now();
    const error = new NodeTimeoutError(`node ${this.id} did not answer within ${timeoutMs} ms`);
    const oldest = this.#batcher.expire(now - timeoutMs, error);
    if (this.#drainWaiters.length > 0) this.#drained();
    this.#disarm = oldest === null ? null : clock.setTimer(oldest + timeoutMs - now, this.#due);
  }

  /**
   * Kills the node as a crash would: its memory is gone, and no thread is left behind.
   * Resolves with the node down.
   */
  async crash(): Promise<void> {
    if (this.#state === 'down' || this.#state === 'stopped') return;
    // Down first: what is waiting fails at once, and nothing new is sent to a dying node.
    this.#down();
    await this.#process.kill();
  }

  /** Starts a new, empty node for one that is down; resolves once it takes batches. */
  async restart(): Promise<void> {
    if (this.#state !== 'down') throw new RangeError(`node ${this.id} is ${this.#state}, not down`);
    this.#setState('starting');
    this.#start();
    await this.#attached;
  }

  /** Stops the node; anything still waiting fails with NODE_UNAVAILABLE. */
  async stop(): Promise<void> {
    if (this.#state === 'stopped') return;
    this.#setState('stopped');
    this.#disarm?.();
    this.#disarm = null;
    this.#batcher.failAll(new NodeUnavailableError(`node ${this.id} stopped`));
    this.#drained();
    await this.#process.stop();
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
    this.#drained();
  }
}
