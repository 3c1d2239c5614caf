import { INLINE_VALUE_BYTES, type Change, type ChangeType } from './change.js';
import { ChangeRing, State } from './change-ring.js';
import type { Clock } from '../time/clock.js';

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
  /** Changes at or below this version are not told (they were asked for, or replayed, already). */
  since: number;
  close: () => void;
}

/** Tells one subscriber of a change; one whose listener throws is closed, the feed goes on. */
function tell(subscriber: Subscriber, change: Change): void {
  if (change.version <= subscriber.since || subscriber.closed) return;
  try {
    subscriber.listener.change(change);
  } catch {
    subscriber.close();
  }
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
  /** Every change: the history kept, then the writes stamped and waiting (src/watch/change-ring.ts). */
  readonly #ring: ChangeRing;
  /**
   * Every change of a version at or below this has been released or has failed: a watcher
   * told of everything up to it has missed nothing.
   */
  #through = 0;
  /** The version the feed began at, and whether no change came before it (no storage replayed). */
  #floor = 0;
  #fromStart: boolean;
  /**
   * Keeping changes: from the first subscription on (a watch, a blocking read). Until then a
   * write costs the feed one test: kept for nobody, the history cost a bulk load a fifth of
   * its rate (bench/RESULTS.md). A `since` from before is refused, as one too old is.
   */
  #active = false;
  readonly #subscribers = new Set<Subscriber>();
  readonly #byKey = new Map<string, Set<Subscriber>>();
  readonly #byPrefix = new Map<string, Set<Subscriber>>();
  /** The lengths of the prefixes watched, longest first. */
  #prefixLengths: number[] = [];
  /** Puts whose value expires, by key, once released. */
  readonly #expiring = new Map<string, Expiring>();
  /** The same puts by expiry, soonest first (a binary heap; entries since replaced are skipped). */
  #expiries: Expiring[] = [];
  /** Expire changes stamped and waiting, by version: the put each expires. */
  readonly #expireOf = new Map<number, Expiring>();
  #closed = false;
  #expiryTimer: (() => void) | null = null;
  #expiryDue = Infinity;
  #releasedCount = 0;
  /** The index of the change settled last: where the next one settled is likely to be. */
  #lastSettled = 0;

  /**
   * `stamp`: a fresh version, newer than every one before (the coordinator's clock): where
   * the feed begins, and each expiry's. `fromStart`: no change came before this feed (no
   * storage was replayed), so `since=0` may ask for everything kept.
   */
  constructor(clock: Clock, stamp: () => number, options: FeedOptions, fromStart: boolean) {
    this.#clock = clock;
    this.#stamp = stamp;
    this.#options = options;
    this.#fromStart = fromStart;
    this.#ring = new ChangeRing(options.maxChanges, options.maxBytes ?? DEFAULT_HISTORY_BYTES);
  }

  /** The version every released change is at or below, with nothing before it waiting. */
  get through(): number {
    // Whoever asks where the feed is means to watch from there: nothing after may be lost.
    if (!this.#active) this.#activate();
    return this.#through;
  }

  /** The oldest `since` a watcher may resume from: every change after it is kept. */
  get oldest(): number {
    this.#dropAged();
    return this.#compactedThrough();
  }

  /** Changes at or below this version are not kept (or came before the feed began). */
  #compactedThrough(): number {
    return Math.max(this.#floor, this.#ring.droppedThrough);
  }

  /** Changes released since the feed began (for metrics). */
  get released(): number {
    return this.#releasedCount;
  }

  /** Watchers subscribed now. */
  get watchers(): number {
    return this.#subscribers.size;
  }

  /** Changes kept for resuming watchers. */
  get kept(): number {
    this.#dropAged();
    return this.#ring.kept;
  }

  /**
   * A write was stamped `version` (greater than every version stamped before). `value`: a
   * put's bytes (a byte string is one char per byte) from `valueStart`, `expiresAt` its
   * expiry (0: none); the value is kept if it travels in events.
   */
  stamped(
    version: number,
    type: ChangeType,
    keyBytes: Buffer,
    keyLength: number,
    value: Uint8Array | string | undefined,
    valueStart: number,
    expiresAt: number,
  ): void {
    if (!this.#active) {
      this.#fromStart = false;
      return;
    }
    const size = type === 'put' && value !== undefined ? value.length - valueStart : 0;
    const keep = type === 'put' && value !== undefined && size <= INLINE_VALUE_BYTES;
    this.#ring.stamp(version, type, keyBytes, keyLength, value, valueStart, keep, size, expiresAt);
  }

  /** The write stamped `version` was acknowledged (W replicas) or failed; a version settled already is ignored. */
  settled(version: number, acknowledged: boolean): void {
    const ring = this.#ring;
    const first = ring.released;
    if (first === ring.tail) return; // nothing waits (or the feed keeps nothing yet)
    // Writes settle nearly in the order they were stamped: the first waiting, the few after
    // the one settled last (a node answers its batch in order), else a search.
    let at = first;
    if (at < ring.tail && ring.versionAt(at) !== version) {
      const near = Math.max(first, this.#lastSettled + 1);
      for (let i = near; i < near + 8 && i < ring.tail; i++) {
        if (ring.versionAt(i) === version) {
          at = i;
          break;
        }
      }
    }
    if (at < ring.tail && ring.versionAt(at) !== version) {
      let hi = ring.tail;
      while (at < hi) {
        const mid = Math.floor((at + hi) / 2);
        if (ring.versionAt(mid) < version) at = mid + 1;
        else hi = mid;
      }
    }
    if (at >= ring.tail || ring.versionAt(at) !== version || ring.stateAt(at) !== State.Waiting) return;
    ring.settle(at, acknowledged ? State.Acknowledged : State.Failed);
    this.#lastSettled = at;
    if (at === first) this.#release();
  }

  /** Releases the settled writes at the head of those waiting, in version order. */
  #release(): void {
    const ring = this.#ring;
    const now = this.#clock.now();
    while (ring.released < ring.tail && ring.stateAt(ring.released) !== State.Waiting) {
      const i = ring.released;
      const version = ring.versionAt(i);
      let state = ring.stateAt(i);
      const expired = this.#expireOf.get(version);
      if (expired !== undefined) {
        this.#expireOf.delete(version);
        // An expiry stamped while a newer change of its key was on its way is not one: that
        // change, released first (a lower version), replaced the put that was to expire.
        if (this.#expiring.get(expired.key) !== expired) ring.settle(i, (state = State.Failed));
      }
      // Marked released first: a listener that throws or writes finds the feed whole.
      ring.release(now);
      this.#through = version;
      if (state === State.Acknowledged) this.#publish(i);
    }
    ring.dropOverCount();
  }

  /** Tells a released change's watchers, and notes its expiry. Builds objects only when someone needs them. */
  #publish(i: number): void {
    this.#releasedCount++;
    const ring = this.#ring;
    const expiresAt = ring.expiresAtOf(i);
    if (this.#subscribers.size === 0 && this.#expiring.size === 0 && expiresAt === 0) return;
    const key = ring.keyAt(i);
    if (this.#expiring.size > 0 || expiresAt !== 0) this.#noteExpiry(ring.at(i, key));
    if (this.#subscribers.size === 0) return;
    let change: Change | null = null;
    const exact = this.#byKey.get(key);
    if (exact !== undefined) for (const subscriber of exact) tell(subscriber, (change ??= ring.at(i, key)));
    for (const length of this.#prefixLengths) {
      if (length > key.length) continue;
      const watching = this.#byPrefix.get(length === key.length ? key : key.slice(0, length));
      if (watching !== undefined)
        for (const subscriber of watching) tell(subscriber, (change ??= ring.at(i, key)));
    }
  }

  /** Drops the kept changes past the age (when a watcher asks: the count and bytes bound memory meanwhile). */
  #dropAged(): void {
    const ring = this.#ring;
    const cutoff = this.#clock.now() - this.#options.maxAgeMs;
    while (ring.kept > 0 && ring.releasedAt(ring.head) < cutoff) ring.dropOldest();
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
    if (!this.#active) this.#activate();
    this.#dropAged();
    // 0 without earlier changes: everything kept, if nothing was dropped yet.
    const compacted = this.#compactedThrough();
    if (since === 0 && this.#fromStart && compacted === this.#floor) since = this.#floor;
    if (since !== undefined && since < compacted) return new HistoryCompacted(compacted);
    const ring = this.#ring;
    if (since !== undefined) {
      for (let i = this.#firstAfter(since); i < ring.released; i++) {
        if (ring.stateAt(i) !== State.Acknowledged) continue;
        const key = ring.keyAt(i);
        if (matches(filter, key)) listener.change(ring.at(i, key));
      }
    }
    // Changes at or below `since` are never told, whenever they are released (a write
    // waiting for a slow replica is released after newer ones were acknowledged).
    const subscriber: Subscriber = {
      filter,
      listener,
      closed: false,
      since: Math.max(since ?? this.#through, this.#through),
      close: () => {},
    };
    subscriber.close = () => {
      if (subscriber.closed) return;
      subscriber.closed = true;
      this.#subscribers.delete(subscriber);
      if ('key' in filter) removeFrom(this.#byKey, filter.key, subscriber);
      else {
        removeFrom(this.#byPrefix, filter.prefix, subscriber);
        this.#indexPrefixLengths();
      }
    };
    this.#subscribers.add(subscriber);
    if ('key' in filter) addTo(this.#byKey, filter.key, subscriber);
    else {
      addTo(this.#byPrefix, filter.prefix, subscriber);
      this.#indexPrefixLengths();
    }
    return { close: () => subscriber.close() };
  }

  /**
   * Starts keeping changes: from a fresh version on, newer than every write stamped so far
   * (those still waiting are before it, and never reported). `since=0` still asks for
   * everything if no write came before.
   */
  #activate(): void {
    this.#active = true;
    this.#floor = this.#stamp();
    this.#through = this.#floor;
  }

  /** The index of the first kept change newer than `version` (binary search: versions ascend). */
  #firstAfter(version: number): number {
    const ring = this.#ring;
    let lo = ring.head;
    let hi = ring.released;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (ring.versionAt(mid) <= version) lo = mid + 1;
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
      const put: Expiring = { key: change.key, version: change.version, expiresAt: change.expiresAt };
      this.#expiring.set(put.key, put);
      heapPush(this.#expiries, put);
      // Puts replaced before they expired leave the heap only at their expiry: a key
      // rewritten every second with an hour's TTL would keep 3,600. Past twice the live
      // ones, rebuild it from them.
      if (this.#expiries.length > 2 * this.#expiring.size + 1024) {
        this.#expiries = [];
        for (const live of this.#expiring.values()) heapPush(this.#expiries, live);
      }
      if (put.expiresAt < this.#expiryDue && !this.#closed) this.#armExpiry(put.expiresAt);
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
      const version = this.#stamp();
      const key = Buffer.from(put.key, 'utf8');
      this.stamped(version, 'expire', key, key.length, undefined, 0, 0);
      this.#expireOf.set(version, put);
      this.settled(version, true);
    }
    // Entries of keys changed since are dropped as they come to the top.
    while (heap.length > 0 && this.#expiring.get(heap[0]!.key) !== heap[0]) heapPop(heap);
    if (heap.length > 0 && !this.#closed) this.#armExpiry(heap[0]!.expiresAt);
  };

  /** Stops the expiry timer and every subscription (the cluster is closing). */
  close(): void {
    this.#closed = true;
    this.#expiryTimer?.();
    this.#expiryTimer = null;
    for (const subscriber of [...this.#subscribers]) subscriber.closed = true;
    this.#subscribers.clear();
  }
}

/** A put whose value expires, as the feed waits for it. */
interface Expiring {
  key: string;
  version: number;
  expiresAt: number;
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
function heapPush(heap: Expiring[], change: Expiring): void {
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
function heapPop(heap: Expiring[]): Expiring {
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
