import { readBatch, type BatchHandler } from '../wire/batch.js';
import type { BatchFailure } from '../wire/protocol.js';
import type { Direction, DropTrace, FaultSpec } from './network.js';

/** A message on a node's link: a batch (to the node), or a reply or a batch's failure (from it). */
export type TracedMessage = ArrayBuffer | SharedArrayBuffer | BatchFailure;

/** Why a message never arrived: a partition or random loss (the network), or its node was down. */
export type DropReason = 'partition' | 'loss' | 'down';

/**
 * What a node's link and the simulated network tell a trace of each message. Only the
 * deterministic mode's cluster has one; every caller holds it as `null` otherwise, so a
 * hot path pays one null check (per batch, never per operation).
 */
export interface MessageTrace {
  sent(node: number, direction: Direction, message: TracedMessage): void;
  delivered(node: number, direction: Direction, message: TracedMessage): void;
  dropped(node: number, direction: Direction, message: TracedMessage, why: DropReason): void;
}

/** What hinted handoff tells a trace: which node a hint waits for, and what became of it. */
export interface HintTrace {
  hinted(node: number, key: string, version: number, deleted: boolean): void;
  /** Not kept: the hint budget was spent. */
  hintDropped(node: number, key: string, version: number): void;
  /** Taken to be replayed to the node (a replay the node fails keeps it again: {@link hinted}). */
  handedOff(node: number, key: string, version: number): void;
}

/** What a node's store tells a trace: a write that was not stale (value null: a tombstone), a purge. */
export interface StoreTrace {
  applied(node: number, key: string, version: number, value: string | null): void;
  purged(node: number, key: string, version: number): void;
}

/** Everything a cluster tells a trace (see ClusterOptions.trace). */
export type ClusterTrace = MessageTrace & HintTrace & DropTrace;

/** The trace format's name and version, in its header line: a reader checks both. */
export const TRACE_FORMAT = 'thunderdb-trace';
export const TRACE_VERSION = 1;

/** The most characters of a value a trace keeps (values may be padded to --value-bytes). */
const VALUE_CHARS = 40;

/** A fault the trace numbered as it began, and the id the cluster gave it. */
export interface TracedFault {
  number: number;
  id: number | null;
}

/**
 * Records a deterministic run, one event a line, for the replay page (dashboard/replay.html):
 * every client call and return, every message on every link (sent, delivered, dropped and
 * why) with the keys its batch carries, every write, tombstone and purge a node's store
 * applies, every hint kept, dropped and handed off, and every fault, crash and restart.
 * Times are simulated ms since the run's start, to the µs; nothing here reads a clock of its
 * own or schedules anything, so a traced run is the same run (the same event-log hash) as
 * an untraced one, and the same seed writes the same bytes.
 *
 * The format (JSON lines; `t` is the time, `e` the event):
 * - the header (first line, written last, see {@link toJsonLines}): `format`, `version`,
 *   `seed`, `parameters`, `hash` (the event log's), `nodes`, `clients`, `keys`, `events`,
 *   `valid`, `violation` (null, or the linearizability failure's `key`, `client`, `call`,
 *   `ret` and `invoke`, the history index of the blocked call) and `faults` (the windows
 *   as the fault driver ran them);
 * - `call` {c client, f, k key, v value written?, i history index}, `ret` {c, f, k, r ok|fail|info, v?, err?, i};
 * - `send` {m message, n node, d to|from, k keys (a batch), x other operations (a batch), re the batch a reply answers};
 *   `deliver` {m}; `drop` {m, why partition|loss|down};
 * - `apply` {n, k, ver, v value or null for a tombstone}; `purge` {n, k, ver};
 * - `hint` {n the node it waits for, k, ver, del?}; `hint-drop` {n, k, ver}; `handoff` {n, k, ver};
 * - `fault` {f number, spec}; `heal` {f} (without f: every network fault); `crash` {n}; `restart` {n}.
 */
export class TraceRecorder implements ClusterTrace, StoreTrace {
  readonly #lines: string[] = [];
  readonly #now: () => number;
  /** The run's start on the clock: times are counted from it. */
  origin = 0;
  #messages = 0;
  /** The latest message per (link, direction, frame id), to name deliveries, drops and replies. */
  readonly #byFrame = new Map<number, number>();
  readonly #faults: TracedFault[] = [];

  /** `now`: the simulated clock. */
  constructor(now: () => number) {
    this.#now = now;
  }

  /** Events recorded so far. */
  get length(): number {
    return this.#lines.length;
  }

  #event(e: string, fields: Record<string, unknown>): void {
    const t = Math.round((this.#now() - this.origin) * 1000) / 1000;
    this.#lines.push(JSON.stringify({ t, e, ...fields }));
  }

  // Clients (History's listener).

  /** A history event: an operation's call, or its return. */
  client(event: {
    index: number;
    type: string;
    process: number;
    f: string;
    key: string;
    value?: string | null;
    error?: string;
  }): void {
    const { index: i, process: c, f, key: k } = event;
    if (event.type === 'invoke') this.#event('call', { c, f, k, ...valueField(event.value), i });
    else
      this.#event('ret', {
        c,
        f,
        k,
        r: event.type,
        ...valueField(event.value),
        ...(event.error === undefined ? {} : { err: event.error }),
        i,
      });
  }

  // Messages.

  sent(node: number, direction: Direction, message: TracedMessage): void {
    const m = ++this.#messages;
    const frame = frameId(message);
    if (direction === 'to') {
      this.#byFrame.set(laneKey(node, 'to', frame), m);
      const { keys, other } = contentsOf(message as ArrayBuffer);
      this.#event('send', { m, n: node, d: direction, k: keys, ...(other.length > 0 ? { x: other } : {}) });
    } else {
      const re = this.#byFrame.get(laneKey(node, 'to', frame)) ?? null;
      this.#byFrame.set(laneKey(node, 'from', frame), m);
      this.#event('send', {
        m,
        n: node,
        d: direction,
        re,
        ...('error' in message ? { err: message.error.code } : {}),
      });
    }
  }

  delivered(node: number, direction: Direction, message: TracedMessage): void {
    this.#event('deliver', { m: this.#byFrame.get(laneKey(node, direction, frameId(message))) ?? null });
  }

  dropped(node: number, direction: Direction, message: unknown, why: DropReason): void {
    this.#event('drop', { m: this.#byFrame.get(laneKey(node, direction, frameId(message))) ?? null, why });
  }

  // Stores.

  applied(node: number, key: string, version: number, value: string | null): void {
    this.#event('apply', { n: node, k: key, ver: version, v: value === null ? null : cut(value) });
  }

  purged(node: number, key: string, version: number): void {
    this.#event('purge', { n: node, k: key, ver: version });
  }

  // Hints.

  hinted(node: number, key: string, version: number, deleted: boolean): void {
    this.#event('hint', { n: node, k: key, ver: version, ...(deleted ? { del: 1 } : {}) });
  }

  hintDropped(node: number, key: string, version: number): void {
    this.#event('hint-drop', { n: node, k: key, ver: version });
  }

  handedOff(node: number, key: string, version: number): void {
    this.#event('handoff', { n: node, k: key, ver: version });
  }

  // Faults and node lives (see tracedTarget).

  /** A fault put in force; returns its number, to name it once the cluster gives its id. */
  faultBegan(spec: FaultSpec | { type: 'pause'; nodes: number[]; ms: number }): TracedFault {
    const fault = { number: this.#faults.length + 1, id: null };
    this.#faults.push(fault);
    this.#event('fault', { f: fault.number, spec });
    return fault;
  }

  healed(id: number | null): void {
    const fault = id === null ? undefined : this.#faults.find((f) => f.id === id);
    this.#event('heal', fault === undefined ? {} : { f: fault.number });
  }

  crashed(node: number): void {
    this.#event('crash', { n: node });
  }

  restarted(node: number): void {
    this.#event('restart', { n: node });
  }

  /** The trace: its header, then one event a line. */
  toJsonLines(header: Record<string, unknown>): string {
    const head = JSON.stringify({
      format: TRACE_FORMAT,
      version: TRACE_VERSION,
      ...header,
      events: this.#lines.length,
    });
    return head + '\n' + this.#lines.join('\n') + (this.#lines.length > 0 ? '\n' : '');
  }
}

/** A value field, cut to {@link VALUE_CHARS}; none when there is no value. */
function valueField(value: string | null | undefined): { v?: string | null } {
  return value === undefined ? {} : { v: value === null ? null : cut(value) };
}

function cut(value: string): string {
  return value.length > VALUE_CHARS ? value.slice(0, VALUE_CHARS) + '…' : value;
}

/** A frame's id: the u32 a batch and its reply start with, or a failure's `id`. */
function frameId(message: unknown): number {
  if (message instanceof ArrayBuffer || message instanceof SharedArrayBuffer)
    return new DataView(message).getUint32(0, true);
  return (message as BatchFailure).id;
}

/** One number per (node, direction, frame id). */
function laneKey(node: number, direction: Direction, frame: number): number {
  return frame * 512 + node * 2 + (direction === 'to' ? 0 : 1);
}

const NO_KEYS = { keys: [] as string[], other: [] as string[] };

/** The distinct keys a batch carries, in order, and the names of its other operations. */
function contentsOf(batch: ArrayBuffer | SharedArrayBuffer): { keys: string[]; other: string[] } {
  if (batch.byteLength < 8) return NO_KEYS;
  const keys = new Set<string>();
  const other: string[] = [];
  const named = (name: string) => () => void other.push(name);
  const handler: BatchHandler = {
    key: (_op, buf, start, length) => void keys.add(buf.toString('utf8', start, start + length)),
    list: named('list'),
    snapshot: named('snapshot'),
    scanRecords: named('scan'),
    dropPartitions: named('drop-partitions'),
    clearExpired: named('clear-expired'),
    stats: named('stats'),
    digests: named('digests'),
    partitionStats: named('partition-stats'),
    pause: (ms) => void other.push(`pause ${ms} ms`),
  };
  readBatch(batch, handler);
  return { keys: [...keys], other };
}
