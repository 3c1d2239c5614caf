import { INLINE_VALUE_BYTES, type Change, type ChangeType } from './change.js';
import { ChangeRing } from './change-ring.js';
import type { Clock } from '../time/clock.js';

/**
 * A change as the feed keeps it: stamped and waiting for its write's outcome, then, once
 * released, kept for watchers that resume. One object a write (the hot path allocates it and
 * a copy of a small value, nothing else).
 */
class Entry implements Change {
  /** 0: waiting for its quorum; 1: acknowledged; 2: failed (never an event). */
  state: 0 | 1 | 2 = 0;
  constructor(
    readonly version: number,
    readonly type: ChangeType,
    readonly key: string,
    readonly size: number,
    readonly value: Buffer | null,
    readonly expiresAt: number,
  ) {}
}

/** Which keys a watcher wants: one key, or every key under a prefix ('' for all). */
export type KeyFilter = { key: string } | { prefix: string };

/** Told of each change its filter matches, in version order; and of progress. */
export interface ChangeListener {
  /** A change, in version order: nothing between the one before and this was left out. */
  change(change: Change): void;
}

/** How much of the past a feed keeps, for watchers that resume. */
export interface FeedOptions {
  /** Changes kept, at most (the newest). */
  maxChanges: number;
  /** Changes kept no longer than this many ms after they were released. */
  maxAgeMs: number;
  /** The bytes of keys and kept values the history holds, at most (default {@link DEFAULT_HISTORY_BYTES}). */
  maxBytes?: number;
}

/** The history's bytes of keys and values, at most: 10,000 changes of 400 bytes. */
export const DEFAULT_HISTORY_BYTES = 4 << 20;

/** A subscription: `close()` ends it; `through` is the version it has been told everything up to. */
export interface Subscription {
  close(): void;
}

/** Refusal of a `since` older than the history kept: resume from `oldest` (after re-reading). */
export class HistoryCompacted {
  constructor(readonly oldest: number) {}
}

interface Subscriber {
  filter: KeyFilter;
  listener: ChangeListener;
  closed: boolean;
}

/**
 * The cluster's acknowledged changes, in version order: what `GET /watch` streams and a
 * blocking read waits on. The coordinator tells it of each write as it stamps it
 * ({@link stamped}, in increasing versions: one hybrid clock) and of each write's outcome
 * ({@link settled}). A change is released to watchers once it and every write stamped
 * before it have settled, so watchers see changes in version order, each one once, and a
 * write that failed its quorum is never an event. Released changes are kept (the newest
 * `maxChanges`, none older than `maxAgeMs`) so a watcher can resume from a version; one older
 * than what is kept is refused ({@link HistoryCompacted}), never served with a gap.
 *
 * Expiries become changes too: when a put's value expires and no later change of its key
 * came, an `expire` change is stamped then (a fresh version, after every change before it).
 */
export class ChangeFeed {
  readonly #clock: Clock;
  readonly #stamp: () => number;
  readonly #options: FeedOptions;
  /** Writes stamped and not yet released, oldest (lowest version) first from `#pendingHead`. */
  #pending: Entry[] = [];
  #pendingHead = 0;
  /** Released changes kept for watchers that resume, oldest first. */
  readonly #history: ChangeRing;
  /**
   * Every change of a version at or below this has been released or has failed: a watcher
   * told of everything up to it has missed nothing.
   */
  #through: number;
  /** Changes of versions at or below this are no longer kept (0 at first: nothing was dropped). */
  #compactedThrough: number;
  readonly #subscribers = new Set<Subscriber>();
  readonly #byKey = new Map<string, Set<Subscriber>>();
  readonly #byPrefix = new Map<string, Set<Subscriber>>();
  /** The lengths of the prefixes watched, longest first. */
  #prefixLengths: number[] = [];
  /** Puts whose value expires, by key: the change that would expire, once released. */
  readonly #expiring = new Map<string, Change>();
  /** The same puts by expiry, soonest first (a binary heap; entries since replaced are skipped). */
  readonly #expiries: Change[] = [];
  #expiryTimer: (() => void) | null = null;
  #expiryDue = Infinity;
  /** Called once each time something was released, after the listeners (a server's flush). */
  #released = 0;

  /**
   * `stamp`: a fresh version, newer than every one before (the coordinator's clock), for
   * expiries. `floor`: the newest version stamped before this feed began (e.g. by a run of
   * the cluster before a restart): no change at or below it is known, so a `since` below it
   * is refused.
   */
  constructor(clock: Clock, stamp: () => number, options: FeedOptions, floor = 0) {
    this.#clock = clock;
    this.#stamp = stamp;
    this.#options = options;
    this.#through = floor;
    this.#compactedThrough = floor;
    this.#history = new ChangeRing(options.maxChanges, options.maxBytes ?? DEFAULT_HISTORY_BYTES);
  }

  /** The version every released change is at or below, with nothing before it pending. */
  get through(): number {
    return this.#through;
  }

  /** The oldest `since` a watcher may resume from: every change after it is kept. */
  get oldest(): number {
    this.#dropAged();
    return this.#compactedThrough;
  }

  /** Changes released since the feed began (for metrics). */
  get released(): number {
    return this.#released;
  }

  /** Watchers subscribed now. */
  get watchers(): number {
    return this.#subscribers.size;
  }

  /** Changes kept for resuming watchers. */
  get kept(): number {
    this.#dropAged();
    return this.#history.size;
  }

  /**
   * A write was stamped `version` (greater than every version stamped before). `value`: a
   * put's bytes (a byte string is one char per byte), `expiresAt` its expiry (0: none); the
   * value is copied now if it travels in events.
   */
  stamped(
    version: number,
    type: ChangeType,
    key: string,
    value: Uint8Array | string | undefined,
    valueStart: number,
    expiresAt: number,
  ): void {
    let size = 0;
    let bytes: Buffer | null = null;
    if (type === 'put' && value !== undefined) {
      size = value.length - valueStart;
      if (size <= INLINE_VALUE_BYTES)
        bytes =
          typeof value === 'string'
            ? Buffer.from(value.slice(valueStart), 'latin1')
            : Buffer.from(value.subarray(valueStart));
    }
    this.#pending.push(new Entry(version, type, key, size, bytes, expiresAt));
  }

  /** The write stamped `version` was acknowledged (W replicas) or failed; a version settled already is ignored. */
  settled(version: number, acknowledged: boolean): void {
    const pending = this.#pending;
    const head = this.#pendingHead;
    // Writes mostly settle in the order they were stamped: the head first, else a search.
    let at = head;
    if (pending[head]?.version !== version) {
      let hi = pending.length;
      while (at < hi) {
        const mid = (at + hi) >>> 1;
        if (pending[mid]!.version < version) at = mid + 1;
        else hi = mid;
      }
    }
    const entry = pending[at];
    if (entry === undefined || entry.version !== version || entry.state !== 0) return;
    entry.state = acknowledged ? 1 : 2;
    if (at === head) this.#release();
  }

  /** Releases the settled writes at the head, in version order. */
  #release(): void {
    const pending = this.#pending;
    let head = this.#pendingHead;
    const now = this.#clock.now();
    while (head < pending.length && pending[head]!.state !== 0) {
      const entry = pending[head]!;
      pending[head++] = undefined as unknown as Entry;
      this.#through = entry.version;
      if (entry.state === 1) this.#publish(entry, now);
    }
    if (head === pending.length) {
      this.#pending = [];
      head = 0;
    } else if (head > 1024 && head * 2 > pending.length) {
      this.#pending = pending.slice(head);
      head = 0;
    }
    this.#pendingHead = head;
  }

  /** Keeps a released change, tells its watchers, and schedules its expiry. */
  #publish(change: Entry, now: number): void {
    this.#released++;
    const dropped = this.#history.push(change, now);
    if (dropped > this.#compactedThrough) this.#compactedThrough = dropped;
    if (this.#expiring.size > 0 || change.expiresAt !== 0) this.#noteExpiry(change);
    if (this.#subscribers.size === 0) return;
    const exact = this.#byKey.get(change.key);
    if (exact !== undefined) for (const subscriber of exact) subscriber.listener.change(change);
    const key = change.key;
    for (const length of this.#prefixLengths) {
      if (length > key.length) continue;
      const watching = this.#byPrefix.get(length === key.length ? key : key.slice(0, length));
      if (watching !== undefined) for (const subscriber of watching) subscriber.listener.change(change);
    }
  }

  /** Drops the kept changes past the age (when a watcher asks: the count and bytes bound memory meanwhile). */
  #dropAged(): void {
    const history = this.#history;
    const cutoff = this.#clock.now() - this.#options.maxAgeMs;
    while (history.size > 0 && history.releasedAt(history.head) < cutoff)
      this.#compactedThrough = history.dropOldest();
  }

  /**
   * Subscribes `listener` to the changes `filter` matches with versions after `since`: the
   * kept ones at once (in order), then each as it is released. `since` undefined: from now.
   * A `since` older than what is kept is refused.
   */
  subscribe(
    filter: KeyFilter,
    since: number | undefined,
    listener: ChangeListener,
  ): Subscription | HistoryCompacted {
    this.#dropAged();
    if (since !== undefined && since < this.#compactedThrough)
      return new HistoryCompacted(this.#compactedThrough);
    if (since !== undefined) {
      const history = this.#history;
      for (let i = this.#firstAfter(since); i < history.tail; i++) {
        if (matches(filter, history.keyAt(i))) listener.change(history.at(i));
      }
    }
    const subscriber: Subscriber = { filter, listener, closed: false };
    this.#subscribers.add(subscriber);
    if ('key' in filter) addTo(this.#byKey, filter.key, subscriber);
    else {
      addTo(this.#byPrefix, filter.prefix, subscriber);
      this.#indexPrefixLengths();
    }
    return {
      close: () => {
        if (subscriber.closed) return;
        subscriber.closed = true;
        this.#subscribers.delete(subscriber);
        if ('key' in filter) removeFrom(this.#byKey, filter.key, subscriber);
        else {
          removeFrom(this.#byPrefix, filter.prefix, subscriber);
          this.#indexPrefixLengths();
        }
      },
    };
  }

  /** The index in the history of the first change newer than `version` (binary search: versions ascend). */
  #firstAfter(version: number): number {
    const history = this.#history;
    let lo = history.head;
    let hi = history.tail;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (history.versionAt(mid) <= version) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  #indexPrefixLengths(): void {
    this.#prefixLengths = [...new Set([...this.#byPrefix.keys()].map((prefix) => prefix.length))].sort(
      (a, b) => b - a,
    );
  }

  /** A released change: a put that expires waits for its expiry; any change of its key cancels one. */
  #noteExpiry(change: Change): void {
    if (change.type === 'put' && change.expiresAt !== 0) {
      this.#expiring.set(change.key, change);
      heapPush(this.#expiries, change);
      if (change.expiresAt < this.#expiryDue) this.#armExpiry(change.expiresAt);
    } else this.#expiring.delete(change.key);
  }

  #armExpiry(due: number): void {
    this.#expiryTimer?.();
    this.#expiryDue = due;
    this.#expiryTimer = this.#clock.setTimer(Math.max(0, due - this.#clock.wall()), this.#expire);
  }

  /** Turns the puts whose values have expired into expire changes, and waits for the next. */
  readonly #expire = (): void => {
    this.#expiryTimer = null;
    this.#expiryDue = Infinity;
    const now = this.#clock.wall();
    const heap = this.#expiries;
    while (heap.length > 0 && heap[0]!.expiresAt <= now) {
      const put = heapPop(heap);
      // Replaced by a later change of its key (or expired already): nothing expires.
      if (this.#expiring.get(put.key) !== put) continue;
      this.#expiring.delete(put.key);
      const version = this.#stamp();
      this.stamped(version, 'expire', put.key, undefined, 0, 0);
      this.settled(version, true);
    }
    // Entries of keys changed since are dropped as they come to the top.
    while (heap.length > 0 && this.#expiring.get(heap[0]!.key) !== heap[0]) heapPop(heap);
    if (heap.length > 0) this.#armExpiry(heap[0]!.expiresAt);
  };

  /** Stops the expiry timer (the cluster is closing). */
  close(): void {
    this.#expiryTimer?.();
    this.#expiryTimer = null;
    for (const subscriber of [...this.#subscribers]) subscriber.closed = true;
    this.#subscribers.clear();
  }
}

/** Whether `filter` takes changes of `key`. */
export function matches(filter: KeyFilter, key: string): boolean {
  return 'key' in filter ? filter.key === key : key.startsWith(filter.prefix);
}

function addTo<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  let set = map.get(key);
  if (set === undefined) map.set(key, (set = new Set()));
  set.add(value);
}

function removeFrom<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  const set = map.get(key);
  if (set === undefined) return;
  set.delete(value);
  if (set.size === 0) map.delete(key);
}

/** Adds a put to a heap of puts by expiry. */
function heapPush(heap: Change[], change: Change): void {
  heap.push(change);
  let i = heap.length - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (heap[parent]!.expiresAt <= change.expiresAt) break;
    heap[i] = heap[parent]!;
    i = parent;
  }
  heap[i] = change;
}

/** Takes the soonest put off a heap of puts by expiry. */
function heapPop(heap: Change[]): Change {
  const top = heap[0]!;
  const last = heap.pop()!;
  if (heap.length === 0) return top;
  let i = 0;
  for (;;) {
    const left = 2 * i + 1;
    if (left >= heap.length) break;
    const right = left + 1;
    const child = right < heap.length && heap[right]!.expiresAt < heap[left]!.expiresAt ? right : left;
    if (heap[child]!.expiresAt >= last.expiresAt) break;
    heap[i] = heap[child]!;
    i = child;
  }
  heap[i] = last;
  return top;
}
