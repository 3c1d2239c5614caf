import type { ByteMap } from './byte-map.js';
import { HASH_SPACE } from '../ring/murmur3.js';

/** Index slots one build step reads, sorting their keys into a run: about a millisecond's work. */
export const BUILD_SLOTS = 4_096;
/** Entries one merge step writes, and most new keys one step sorts into a run. */
export const STEP_ENTRIES = 4_096;
/**
 * How many runs of a tier are merged into one of the next: a run of up to
 * {@link STEP_ENTRIES} entries is of tier 0, up to FAN_IN times that of tier 1, and so on.
 */
export const FAN_IN = 16;
/**
 * Most runs a page is read from; past it, a listing waits for merges first. A tier holds
 * fewer than {@link FAN_IN} runs once its merges are done, so four tiers (runs of up to
 * 4,096 × 16³, about 16.7 million entries) stay below it.
 */
export const MAX_RUNS = 64;

/** A run's tier: its size's order of magnitude, base {@link FAN_IN}, counted from {@link STEP_ENTRIES}. */
function tierOf(run: Run): number {
  const n = run.hashes.length;
  return n <= STEP_ENTRIES ? 0 : Math.ceil(Math.log(n / STEP_ENTRIES) / Math.log(FAN_IN));
}

/**
 * Some of a shard's keys in UTF-8 byte order. An entry is a key's index hash and fingerprint
 * (see ByteMap's `locateEntry`): 8 bytes whatever the key's length, and still valid after the
 * record has moved (compaction, a rewrite of another length), which a location would not be.
 * An entry whose key has since been removed finds no record, and is passed over.
 */
interface Run {
  readonly hashes: Uint32Array;
  readonly checks: Uint32Array;
}

/** The record an entry names, or 0 if its key has been removed. */
function resolve(map: ByteMap, run: Run, at: number): number {
  return map.locateEntry(run.hashes[at]!, run.checks[at]!);
}

/** A run of the records at `locations` (valid during this call), whose index hashes are `hashes`. */
function runOf(map: ByteMap, hashes: number[], locations: number[]): Run {
  const order = Array.from(locations.keys()).sort((a, b) => map.compareKeysAt(locations[a]!, locations[b]!));
  const run = { hashes: new Uint32Array(order.length), checks: new Uint32Array(order.length) };
  for (let n = 0; n < order.length; n++) {
    const i = order[n]!;
    run.hashes[n] = hashes[i]!;
    run.checks[n] = map.fingerprintAt(locations[i]!);
  }
  return run;
}

/**
 * The next entry of each of some runs, smallest key first: a binary heap of cursors, each
 * resolved to its record's location. Locations are valid while the map is not written, so
 * a heap lives for one step, within one message.
 */
class Heads {
  readonly #map: ByteMap;
  readonly #runs: readonly Run[];
  /** Per heap slot: the run's index in #runs, its entry, and that entry's location. */
  readonly #run: Int32Array;
  readonly #at: Int32Array;
  readonly #location: Float64Array;
  #size = 0;

  constructor(map: ByteMap, runs: readonly Run[]) {
    this.#map = map;
    this.#runs = runs;
    this.#run = new Int32Array(runs.length);
    this.#at = new Int32Array(runs.length);
    this.#location = new Float64Array(runs.length);
  }

  get size(): number {
    return this.#size;
  }

  /** The smallest head's record. */
  get top(): number {
    return this.#location[0]!;
  }

  /** The smallest head's run (its index) and entry. */
  get topRun(): number {
    return this.#run[0]!;
  }

  get topAt(): number {
    return this.#at[0]!;
  }

  /** Adds run `run` from its entry `at`, or from the first after it whose key is still held. */
  add(run: number, at: number): void {
    const entries = this.#runs[run]!;
    for (; at < entries.hashes.length; at++) {
      const location = resolve(this.#map, entries, at);
      if (location === 0) continue;
      const i = this.#size++;
      this.#run[i] = run;
      this.#at[i] = at;
      this.#location[i] = location;
      this.#up(i);
      return;
    }
  }

  /** Moves the smallest head on to its run's next entry whose key is still held. */
  advance(): void {
    const entries = this.#runs[this.#run[0]!]!;
    for (let at = this.#at[0]! + 1; at < entries.hashes.length; at++) {
      const location = resolve(this.#map, entries, at);
      if (location === 0) continue;
      this.#at[0] = at;
      this.#location[0] = location;
      this.#down(0);
      return;
    }
    // That run is used up: the last head takes its place.
    const last = --this.#size;
    this.#run[0] = this.#run[last]!;
    this.#at[0] = this.#at[last]!;
    this.#location[0] = this.#location[last]!;
    this.#down(0);
  }

  /** Calls `visit(run, at)` for the entry each run still in the heap is at. */
  forEach(visit: (run: number, at: number) => void): void {
    for (let i = 0; i < this.#size; i++) visit(this.#run[i]!, this.#at[i]!);
  }

  #less(i: number, j: number): boolean {
    return this.#map.compareKeysAt(this.#location[i]!, this.#location[j]!) < 0;
  }

  #swap(i: number, j: number): void {
    const run = this.#run[i]!;
    const at = this.#at[i]!;
    const location = this.#location[i]!;
    this.#run[i] = this.#run[j]!;
    this.#at[i] = this.#at[j]!;
    this.#location[i] = this.#location[j]!;
    this.#run[j] = run;
    this.#at[j] = at;
    this.#location[j] = location;
  }

  #up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(i, parent)) return;
      this.#swap(i, parent);
      i = parent;
    }
  }

  #down(i: number): void {
    const n = this.#size;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) return;
      const child = left + 1 < n && this.#less(left + 1, left) ? left + 1 : left;
      if (!this.#less(child, i)) return;
      this.#swap(i, child);
      i = child;
    }
  }
}

/** Several runs merged into one, a bounded step at a time; keys removed meanwhile drop out. */
class Merge {
  readonly inputs: readonly Run[];
  /** Per input, its next entry. */
  readonly #at: number[];
  readonly #out: Run;
  #written = 0;

  constructor(inputs: readonly Run[]) {
    this.inputs = inputs;
    this.#at = inputs.map(() => 0);
    const total = inputs.reduce((sum, run) => sum + run.hashes.length, 0);
    this.#out = { hashes: new Uint32Array(total), checks: new Uint32Array(total) };
  }

  /** Bytes of the merged run being written. */
  get bytes(): number {
    return this.#out.hashes.byteLength * 2;
  }

  /** Writes up to `budget` entries; answers the merged run once every input is used up, else null. */
  step(map: ByteMap, budget: number): Run | null {
    const heads = new Heads(map, this.inputs);
    this.inputs.forEach((run, i) => {
      heads.add(i, this.#at[i]!);
      this.#at[i] = run.hashes.length; // used up unless the heap still holds it (below)
    });
    const out = this.#out;
    // The last entry written, so a key in two inputs is written once, across steps too.
    let last = this.#written === 0 ? 0 : resolve(map, out, this.#written - 1);
    for (let n = 0; n < budget && heads.size > 0; n++) {
      const location = heads.top;
      if (location !== last) {
        const run = this.inputs[heads.topRun]!;
        out.hashes[this.#written] = run.hashes[heads.topAt]!;
        out.checks[this.#written] = run.checks[heads.topAt]!;
        this.#written++;
        last = location;
      }
      heads.advance();
    }
    heads.forEach((run, at) => (this.#at[run] = at));
    if (heads.size > 0) return null;
    return { hashes: out.hashes.slice(0, this.#written), checks: out.checks.slice(0, this.#written) };
  }
}

/**
 * One shard's keys in UTF-8 byte order, for listings: a page is read from a few sorted runs
 * by a binary search in each and a merge of as many entries as the page takes, not by a pass
 * over the shard. It costs nothing until a listing asks for it, and is built then in bounded
 * steps, one per listing message ({@link advance}), so key operations queued behind a
 * listing wait for one step, never for a whole sort:
 *
 * 1. each step sorts the keys of {@link BUILD_SLOTS} index slots (walked in hash order, as
 *    a snapshot is) into a run;
 * 2. keys that take a new slot in the part already walked are noted as they are written
 *    (ByteMap's `watchInserts`), and sorted into runs of their own before a page is read;
 * 3. whenever a tier holds {@link FAN_IN} runs, they are merged into one of the next,
 *    {@link STEP_ENTRIES} entries a step (a step per listing message), so a shard of n keys
 *    ends in a few runs, each entry merged about log₁₆(n / 4,096) times; a page waits only
 *    while more than {@link MAX_RUNS} runs exist, and is read beside a merge under way.
 *
 * Entries hold no locations, so records may move, and a key removed drops out when met.
 * Tombstones and expired values keep their entries (a later write reuses their slot, which
 * no watcher hears); a page checks each key's record as it reads it.
 */
export class KeyOrder {
  readonly #map: ByteMap;
  #runs: Run[] = [];
  /** Where the next build step starts: index hashes below it are in runs or noted. */
  #builtTo = 0;
  /** Index hashes of keys that took a new slot below {@link #builtTo} since. */
  #pending = new Uint32Array(0);
  #pendingLength = 0;
  /** Entries in runs: how many noted keys are worth keeping rather than building afresh. */
  #entries = 0;
  #merge: Merge | null = null;

  constructor(map: ByteMap) {
    this.#map = map;
  }

  /** Bytes the order holds: its runs, the merge under way and the noted keys. */
  get bytes(): number {
    const runs = this.#runs.reduce((sum, run) => sum + run.hashes.byteLength * 2, 0);
    return runs + (this.#merge?.bytes ?? 0) + this.#pending.byteLength;
  }

  /**
   * Does one bounded step of building, if one is due; true when a page can be read now.
   * Call it until it answers true, then {@link page}.
   */
  advance(): boolean {
    if (this.#builtTo < HASH_SPACE) {
      this.#build();
      return false;
    }
    if (this.#pendingLength > STEP_ENTRIES) {
      this.#sortNoted();
      return false;
    }
    this.#merge ??= this.#dueMerge();
    if (this.#merge !== null) {
      const merged = this.#merge.step(this.#map, STEP_ENTRIES);
      if (merged !== null) {
        const inputs = this.#merge.inputs;
        this.#runs = this.#runs.filter((run) => !inputs.includes(run));
        for (const run of inputs) this.#entries -= run.hashes.length;
        this.#merge = null;
        this.#add(merged);
      }
    }
    if (this.#runs.length > MAX_RUNS) return false;
    // A merge step, the last few new keys sorted and a page: still a few milliseconds.
    if (this.#pendingLength > 0) this.#sortNoted();
    return true;
  }

  /**
   * The merge due, if any: {@link FAN_IN} runs of the lowest tier holding that many, the
   * smallest of it; or, past {@link MAX_RUNS}, the smallest runs whatever their tiers.
   */
  #dueMerge(): Merge | null {
    const bySize = [...this.#runs].sort((a, b) => a.hashes.length - b.hashes.length);
    for (let i = 0; i + FAN_IN <= bySize.length; i++) {
      if (tierOf(bySize[i]!) === tierOf(bySize[i + FAN_IN - 1]!)) {
        return new Merge(bySize.slice(i, i + FAN_IN));
      }
    }
    return bySize.length > MAX_RUNS ? new Merge(bySize.slice(0, FAN_IN)) : null;
  }

  /**
   * Up to `limit` keys that start with `prefix` and sort after `after` (both UTF-8), in byte
   * order, whose records hold a value not expired at `asOf` (Unix ms). Only after
   * {@link advance} answered true, with no write in between.
   */
  page(prefix: Buffer, after: Buffer, limit: number, asOf: number): string[] {
    const map = this.#map;
    // The page starts at the first key past `after`, or at `prefix` when that comes later.
    const atPrefix = Buffer.compare(prefix, after) > 0;
    const bound = atPrefix ? prefix : after;
    const heads = new Heads(map, this.#runs);
    this.#runs.forEach((run, i) => heads.add(i, this.#firstFrom(run, bound, atPrefix)));
    const keys: string[] = [];
    let last = 0;
    while (heads.size > 0 && keys.length < limit) {
      const location = heads.top;
      // Keys with the prefix are contiguous from it: the first without ends them.
      if (map.compareKeyAt(location, prefix, true) !== 0) break;
      // A key in two runs (written again since the first was made) comes up twice in a row.
      if (location !== last && map.isLiveAt(location, asOf)) keys.push(map.keyAt(location));
      last = location;
      heads.advance();
    }
    return keys;
  }

  /** Drops the order and stops noting writes: the next listing builds it afresh. */
  release(): void {
    this.#map.watchInserts(null);
    this.#runs = [];
    this.#merge = null;
    this.#builtTo = 0;
    this.#pending = new Uint32Array(0);
    this.#pendingLength = 0;
    this.#entries = 0;
  }

  /**
   * The first entry of `run` whose key is at or past `bound` (`inclusive`) or past it; a
   * binary search that passes over entries whose keys have been removed.
   */
  #firstFrom(run: Run, bound: Buffer, inclusive: boolean): number {
    const map = this.#map;
    let lo = 0;
    let hi = run.hashes.length;
    // Entries before lo that are held sort before the bound; those from hi on, not.
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      let at = mid;
      let location = 0;
      while (at < hi && (location = resolve(map, run, at)) === 0) at++;
      if (location === 0) {
        hi = mid;
        continue;
      }
      const order = map.compareKeyAt(location, bound);
      if (order < 0 || (order === 0 && !inclusive)) lo = at + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Sorts the keys of the next {@link BUILD_SLOTS} index slots into a run. */
  #build(): void {
    const map = this.#map;
    if (this.#builtTo === 0) map.watchInserts((hash) => this.#note(hash));
    const hashes: number[] = [];
    const locations: number[] = [];
    this.#builtTo = map.visitRange(this.#builtTo, BUILD_SLOTS, (hash, location) => {
      hashes.push(hash);
      locations.push(location);
    });
    this.#add(runOf(map, hashes, locations));
  }

  /** Sorts up to {@link STEP_ENTRIES} noted keys into a run. */
  #sortNoted(): void {
    const map = this.#map;
    const start = Math.max(0, this.#pendingLength - STEP_ENTRIES);
    const noted = this.#pending.subarray(start, this.#pendingLength).sort();
    this.#pendingLength = start;
    const hashes: number[] = [];
    const locations: number[] = [];
    for (let i = 0; i < noted.length; i++) {
      const hash = noted[i]!;
      if (i > 0 && hash === noted[i - 1]) continue;
      // Every key of that hash: one nearly always, none if it has been removed since.
      map.visitIndexHash(hash, (location) => {
        hashes.push(hash);
        locations.push(location);
      });
    }
    this.#add(runOf(map, hashes, locations));
  }

  #add(run: Run): void {
    if (run.hashes.length === 0) return;
    this.#runs.push(run);
    this.#entries += run.hashes.length;
  }

  /** A key took a new slot: noted if its hash lies in the part already built. */
  #note(hash: number): void {
    if (hash >= this.#builtTo) return; // a later build step will find it
    if (this.#pendingLength === this.#pending.length) {
      // More new keys than the order holds (and no listing to sort them in): building
      // afresh costs less than sorting them all, and holds nothing meanwhile.
      if (this.#pendingLength >= Math.max(FAN_IN * STEP_ENTRIES, this.#entries)) return this.release();
      const grown = new Uint32Array(Math.max(1024, 2 * this.#pending.length));
      grown.set(this.#pending);
      this.#pending = grown;
    }
    this.#pending[this.#pendingLength++] = hash;
  }
}
