import type { RecordMap } from './record-map.js';
import { HASH_SPACE } from '../ring/murmur3.js';

/** Index slots one build step reads, sorting their keys into a run: a millisecond or two of work. */
export const BUILD_SLOTS = 4_096;
/** Most new keys one step sorts into a run. */
export const NOTED_STEP_KEYS = 4_096;
/** Entries one merge step writes: a millisecond or two of work. */
export const MERGE_STEP_ENTRIES = 8_192;
/**
 * How many runs are merged into one: of the lowest tier that holds that many, where a run of
 * up to 4,096 entries is of tier 0, one up to FAN_IN times that of tier 1, and so on; so
 * runs merged are of about one size, and each entry is merged about log₁₆(n / 4,096) times.
 */
export const FAN_IN = 16;
/**
 * Most runs a page is read from: past it, runs are merged before the next page. Runs are
 * compared by their entries' first 8 bytes, and a page over 128 runs was measured no dearer
 * than over 2 (0.8 ms for 1,000 keys of a 1M-key shard), so merging is put off until it is
 * needed: a 1M-key shard's 512 first runs need 26 merges of 16 before its first page, and
 * keys written between pages, a merge now and then of their small runs.
 */
export const MAX_RUNS = 128;

/**
 * Words (u32) an entry takes in a run: the key's index hash and fingerprint (see RecordMap's
 * `locateEntry`), which find its record wherever it has moved to, and its first 8 bytes
 * (RecordMap's `describeKeyAt`), which order it against most other keys without finding it.
 */
const WORDS = 4;
const [HASH, CHECK, HIGH, LOW] = [0, 1, 2, 3];
/** A location the heap found no record for: the key has been removed. */
const GONE = -1;

/**
 * Some of a shard's keys in UTF-8 byte order, {@link WORDS} words each: 16 bytes whatever the
 * key's length, and still valid after the record has moved (compaction, a rewrite of another
 * length), which a location would not be. An entry whose key has since been removed finds
 * no record: it keeps its place (it was put there by its bytes) and is passed over.
 */
interface Run {
  readonly entries: Uint32Array;
  /** Whether its entries are part of a build's pool (see KeyOrder's #pool). */
  readonly pooled?: boolean;
}

const lengthOf = (run: Run): number => run.entries.length / WORDS;

/**
 * `words` u32s in memory of their own, which {@link free} gives back to the system at once.
 * A plain ArrayBuffer's memory goes only when the thread's heap is next collected, and a
 * node idle after a listing may not collect for a long time: 5M keys' orders were measured
 * still resident (226 MB over three nodes) a minute after their release. A resizable one
 * shrunk to nothing gives its pages back there and then.
 */
function ownEntries(words: number): Uint32Array {
  return new Uint32Array(new ArrayBuffer(words * 4, { maxByteLength: words * 4 }));
}

/** Gives back the memory of entries from {@link ownEntries}: every view of it reads empty after. */
function free(entries: Uint32Array): void {
  (entries.buffer as ArrayBuffer).resize(0);
}

/** The record entry `at` of `run` names, or {@link GONE}. */
function resolve(map: RecordMap, run: Run, at: number): number {
  const i = at * WORDS;
  return map.locateEntry(run.entries[i + HASH]!, run.entries[i + CHECK]!) || GONE;
}

/** The first 8 bytes of `key` as two big-endian words, bytes past its end as 0, as RecordMap's `describeKeyAt`. */
function wordsOf(key: Uint8Array): [number, number] {
  const word = (from: number) => {
    let value = 0;
    for (let i = from; i < from + 4; i++) value = value * 256 + (i < key.length ? key[i]! : 0);
    return value;
  };
  return [word(0), word(4)];
}

/**
 * A run of the records at `locations` (valid during this call), whose index hashes are
 * `hashes`, in their keys' byte order, its entries in what `allocate` gives. Sorting a few thousand keys with a comparator took
 * most of a build step; here a native sort of numbers, each a key's leading bits with its
 * index below them (exact in a double), does the bulk, and a comparator orders only the
 * keys whose leading bits tie.
 */
function runOf(
  map: RecordMap,
  hashes: number[],
  locations: number[],
  allocate: (words: number) => Uint32Array = ownEntries,
): Run {
  const n = locations.length;
  const described = new Uint32Array(n * 3); // fingerprint, first word, second word
  for (let i = 0; i < n; i++) map.describeKeyAt(locations[i]!, described, i * 3);
  const byBytes = (a: number, b: number) =>
    described[a * 3 + 1]! - described[b * 3 + 1]! ||
    described[a * 3 + 2]! - described[b * 3 + 2]! ||
    map.compareKeysAt(locations[a]!, locations[b]!);
  const indexBits = Math.ceil(Math.log2(n + 1));
  // Bits of the second word that fit beside the first word and the index (none past 2^20 keys).
  const lowBits = 53 - 32 - indexBits;
  let order: number[];
  if (lowBits < 1) order = Array.from(locations.keys()).sort(byBytes);
  else {
    const scale = 2 ** indexBits;
    const sortable = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const kept = described[i * 3 + 1]! * 2 ** lowBits + (described[i * 3 + 2]! >>> (32 - lowBits));
      sortable[i] = kept * scale + i;
    }
    sortable.sort();
    order = Array.from(sortable, (value) => value % scale);
    // Keys whose kept bits tie came out in index order: sort each such group by its bytes.
    for (let start = 0, end = 1; start < n; start = end, end = start + 1) {
      const kept = Math.floor(sortable[start]! / scale);
      while (end < n && Math.floor(sortable[end]! / scale) === kept) end++;
      if (end - start === 1) continue;
      const group = order.slice(start, end).sort(byBytes);
      for (let k = 0; k < group.length; k++) order[start + k] = group[k]!;
    }
  }
  const entries = allocate(n * WORDS);
  for (let k = 0; k < n; k++) {
    const i = order[k]!;
    entries[k * WORDS + HASH] = hashes[i]!;
    entries[k * WORDS + CHECK] = described[i * 3]!;
    entries[k * WORDS + HIGH] = described[i * 3 + 1]!;
    entries[k * WORDS + LOW] = described[i * 3 + 2]!;
  }
  return { entries };
}

function swap(column: Int32Array | Float64Array, i: number, j: number): void {
  const x = column[i]!;
  column[i] = column[j]!;
  column[j] = x;
}

/**
 * The next entry of each of some runs, smallest key first: a binary heap of cursors. Heads
 * are ordered by their first 8 bytes, and only where those tie by finding their records
 * (kept for the step: locations are valid while the map is not written, so a heap lives
 * for one step, within one message) and comparing their bytes. Of heads tied on 8 bytes,
 * one whose key has been removed comes first, to be dropped.
 */
class Heads {
  readonly #map: RecordMap;
  readonly #runs: readonly Run[];
  /** Per heap slot: the run's index in #runs, its entry, that entry's first 8 bytes, and its record (0: not looked up). */
  readonly #run: Int32Array;
  readonly #at: Int32Array;
  readonly #high: Float64Array;
  readonly #low: Float64Array;
  readonly #location: Float64Array;
  #size = 0;

  constructor(map: RecordMap, runs: readonly Run[]) {
    this.#map = map;
    this.#runs = runs;
    this.#run = new Int32Array(runs.length);
    this.#at = new Int32Array(runs.length);
    this.#high = new Float64Array(runs.length);
    this.#low = new Float64Array(runs.length);
    this.#location = new Float64Array(runs.length);
  }

  get size(): number {
    return this.#size;
  }

  /** The smallest head's run (its index) and entry. */
  get topRun(): number {
    return this.#run[0]!;
  }

  get topAt(): number {
    return this.#at[0]!;
  }

  /** The smallest head's first 8 bytes. */
  get topHigh(): number {
    return this.#high[0]!;
  }

  get topLow(): number {
    return this.#low[0]!;
  }

  /** The smallest head's record if it has been looked up (or {@link GONE}), else 0. */
  get topFound(): number {
    return this.#location[0]!;
  }

  /** The smallest head's record, or {@link GONE}. */
  findTop(): number {
    return this.#find(0);
  }

  /** Adds run `run` from its entry `at`, if it has one. */
  add(run: number, at: number): void {
    if (at >= lengthOf(this.#runs[run]!)) return;
    const i = this.#size++;
    this.#run[i] = run;
    this.#set(i, at);
    this.#up(i);
  }

  /** Moves the smallest head on to its run's next entry, or drops it at the run's end. */
  advance(): void {
    const at = this.#at[0]! + 1;
    if (at < lengthOf(this.#runs[this.#run[0]!]!)) this.#set(0, at);
    else {
      const last = --this.#size;
      this.#run[0] = this.#run[last]!;
      this.#at[0] = this.#at[last]!;
      this.#high[0] = this.#high[last]!;
      this.#low[0] = this.#low[last]!;
      this.#location[0] = this.#location[last]!;
    }
    this.#down(0);
  }

  /** Calls `visit(run, at)` for the entry each run still in the heap is at. */
  forEach(visit: (run: number, at: number) => void): void {
    for (let i = 0; i < this.#size; i++) visit(this.#run[i]!, this.#at[i]!);
  }

  #set(i: number, at: number): void {
    const entries = this.#runs[this.#run[i]!]!.entries;
    this.#at[i] = at;
    this.#high[i] = entries[at * WORDS + HIGH]!;
    this.#low[i] = entries[at * WORDS + LOW]!;
    this.#location[i] = 0;
  }

  #find(i: number): number {
    if (this.#location[i] === 0)
      this.#location[i] = resolve(this.#map, this.#runs[this.#run[i]!]!, this.#at[i]!);
    return this.#location[i]!;
  }

  #less(i: number, j: number): boolean {
    if (this.#high[i] !== this.#high[j]) return this.#high[i]! < this.#high[j]!;
    if (this.#low[i] !== this.#low[j]) return this.#low[i]! < this.#low[j]!;
    const a = this.#find(i);
    const b = this.#find(j);
    // One head a run: run order settles what the bytes cannot (two removed, or one key twice).
    const order = a === GONE || b === GONE ? a - b : this.#map.compareKeysAt(a, b);
    return order !== 0 ? order < 0 : this.#run[i]! < this.#run[j]!;
  }

  #swap(i: number, j: number): void {
    swap(this.#run, i, j);
    swap(this.#at, i, j);
    swap(this.#high, i, j);
    swap(this.#low, i, j);
    swap(this.#location, i, j);
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

/**
 * Several runs merged into one, a bounded step at a time. An entry is written without
 * finding its record unless its first 8 bytes tie with another's; a key met in two inputs
 * is written once, and one found removed is dropped.
 */
class Merge {
  readonly inputs: readonly Run[];
  /** Per input, its next entry. */
  readonly #at: number[];
  readonly #out: Uint32Array;
  #written = 0;

  constructor(inputs: readonly Run[]) {
    this.inputs = inputs;
    this.#at = inputs.map(() => 0);
    this.#out = ownEntries(inputs.reduce((sum, run) => sum + run.entries.length, 0));
  }

  /** Bytes of the merged run being written. */
  get bytes(): number {
    return this.#out.byteLength;
  }

  /** Gives back the merged run's memory: the merge is abandoned. */
  free(): void {
    free(this.#out);
  }

  /** Writes up to `budget` entries; answers the merged run once every input is used up, else null. */
  step(map: RecordMap, budget: number): Run | null {
    const heads = new Heads(map, this.inputs);
    this.inputs.forEach((run, i) => {
      heads.add(i, this.#at[i]!);
      this.#at[i] = lengthOf(run); // used up unless the heap still holds it (below)
    });
    const out = this.#out;
    // The last entry written's record, looked up once an entry ties with it: 0 until then.
    let last = 0;
    for (let n = 0; n < budget && heads.size > 0; n++, heads.advance()) {
      const at = this.#written * WORDS;
      let found = heads.topFound;
      if (at > 0 && heads.topHigh === out[at - WORDS + HIGH] && heads.topLow === out[at - WORDS + LOW]) {
        // Perhaps the same key from another input: compare records.
        found = heads.findTop();
        last ||= resolve(map, { entries: out }, this.#written - 1);
        if (found === last) continue;
      }
      if (found === GONE) continue;
      const entries = this.inputs[heads.topRun]!.entries;
      const from = heads.topAt * WORDS;
      for (let w = 0; w < WORDS; w++) out[at + w] = entries[from + w]!;
      this.#written++;
      last = found;
    }
    heads.forEach((run, at) => (this.#at[run] = at));
    if (heads.size > 0) return null;
    // What removed keys and duplicates left unwritten goes back.
    const buffer = out.buffer as ArrayBuffer;
    buffer.resize(this.#written * WORDS * 4);
    return { entries: new Uint32Array(buffer, 0, this.#written * WORDS) };
  }
}

/** A run's tier: its size's order of magnitude, base {@link FAN_IN}, counted from 4,096 entries. */
function tierOf(run: Run): number {
  const n = lengthOf(run);
  return n <= 4_096 ? 0 : Math.ceil(Math.log(n / 4_096) / Math.log(FAN_IN));
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
 *    (RecordMap's `watchInserts`), and sorted into runs of their own before a page is read;
 * 3. while more than {@link MAX_RUNS} runs exist, {@link FAN_IN} runs of about one size are
 *    merged into one, {@link MERGE_STEP_ENTRIES} entries a step (a step per message), and
 *    pages wait.
 *
 * Entries hold no locations, so records may move, and a key removed drops out when met.
 * Tombstones and expired values keep their entries (a later write reuses their slot, which
 * no watcher hears); a page checks each key's record as it reads it.
 */
export class KeyOrder {
  readonly #map: RecordMap;
  #runs: Run[] = [];
  /** Where the next build step starts: index hashes below it are in runs or noted. */
  #builtTo = 0;
  /** Index hashes of keys that took a new slot below {@link #builtTo} since. */
  #pending = new Uint32Array(0);
  #pendingLength = 0;
  /** Entries in runs: how many noted keys are worth keeping rather than building afresh. */
  #entries = 0;
  #merge: Merge | null = null;
  /**
   * Where a build's runs go: one allocation sized for the whole shard, of which each run
   * takes its part, given back at once when merges have consumed them all (thousands of
   * small allocations freed one by one leave holes the process keeps).
   */
  #pool: Uint32Array | null = null;
  /** Words of the pool taken, and runs whose entries are part of it. */
  #pooled = 0;
  #pooledRuns = 0;

  constructor(map: RecordMap) {
    this.#map = map;
  }

  /** Bytes the order holds: its runs (and the buffers they are parts of), the merge under way and the noted keys. */
  get bytes(): number {
    const buffers = new Set(this.#runs.map((run) => run.entries.buffer));
    if (this.#pool !== null) buffers.add(this.#pool.buffer);
    let total = (this.#merge?.bytes ?? 0) + this.#pending.byteLength;
    for (const buffer of buffers) total += buffer.byteLength;
    return total;
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
    if (this.#pendingLength > NOTED_STEP_KEYS) {
      this.#sortNoted();
      return false;
    }
    // Past MAX_RUNS a page waits for merges; runs left in a build's pool are merged beside
    // pages, a step a message, so that the pool can go.
    if (this.#runs.length > MAX_RUNS || this.#pooledRuns > 0) {
      this.#merge ??= this.#nextMerge();
      const merged = this.#merge.step(this.#map, MERGE_STEP_ENTRIES);
      if (merged !== null) {
        const inputs = this.#merge.inputs;
        this.#runs = this.#runs.filter((run) => !inputs.includes(run));
        for (const run of inputs) {
          this.#entries -= lengthOf(run);
          if (run.pooled !== true) free(run.entries);
          else if (--this.#pooledRuns === 0) {
            free(this.#pool!);
            this.#pool = null;
          }
        }
        this.#merge = null;
        this.#add(merged);
      }
      if (this.#runs.length > MAX_RUNS) return false;
    }
    // A merge step, the last few new keys sorted and a page: still a few milliseconds.
    if (this.#pendingLength > 0) this.#sortNoted();
    return true;
  }

  /**
   * The runs to merge next: {@link FAN_IN} of the lowest tier holding that many, the
   * smallest of it; or, if no tier does, the smallest runs whatever their tiers (a build's
   * first runs, of tier 0, go before any larger).
   */
  #nextMerge(): Merge {
    const bySize = [...this.#runs].sort((a, b) => lengthOf(a) - lengthOf(b));
    for (let i = 0; i + FAN_IN <= bySize.length; i++) {
      if (tierOf(bySize[i]!) === tierOf(bySize[i + FAN_IN - 1]!)) {
        return new Merge(bySize.slice(i, i + FAN_IN));
      }
    }
    return new Merge(bySize.slice(0, FAN_IN));
  }

  /**
   * The records of up to `limit` keys that start with `prefix` and sort after `after` (both
   * UTF-8), in byte order, holding a value not expired at `asOf` (Unix ms); valid until the
   * map is written. Only after {@link advance} answered true, with no write in between.
   */
  page(prefix: Buffer, after: Buffer, limit: number, asOf: number): number[] {
    const map = this.#map;
    // The page starts at the first key past `after`, or at `prefix` when that comes later.
    const atPrefix = Buffer.compare(prefix, after) > 0;
    const bound = atPrefix ? prefix : after;
    const heads = new Heads(map, this.#runs);
    this.#runs.forEach((run, i) => heads.add(i, this.#firstFrom(run, bound, atPrefix)));
    const found: number[] = [];
    let last = 0;
    for (; heads.size > 0 && found.length < limit; heads.advance()) {
      const location = heads.findTop();
      if (location === GONE) continue;
      // Keys with the prefix are contiguous from it: the first without ends them.
      if (map.compareKeyAt(location, prefix, true) !== 0) break;
      // A key in two runs (written again since the first was made) comes up twice in a row.
      if (location !== last && map.isLiveAt(location, asOf)) found.push(location);
      last = location;
    }
    return found;
  }

  /** Drops the order and stops noting writes: the next listing builds it afresh. */
  release(): void {
    this.#map.watchInserts(null);
    for (const run of this.#runs) if (run.pooled !== true) free(run.entries);
    if (this.#pool !== null) free(this.#pool);
    this.#merge?.free();
    this.#runs = [];
    this.#merge = null;
    this.#builtTo = 0;
    this.#pool = null;
    this.#pooledRuns = 0;
    this.#pending = new Uint32Array(0);
    this.#pendingLength = 0;
    this.#entries = 0;
  }

  /**
   * The first entry of `run` whose key is at or past `bound` (`inclusive`) or past it; a
   * binary search by first 8 bytes that finds records only where those tie, passing over
   * entries whose keys have been removed.
   */
  #firstFrom(run: Run, bound: Buffer, inclusive: boolean): number {
    const map = this.#map;
    const [high, low] = wordsOf(bound);
    const entries = run.entries;
    let lo = 0;
    let hi = lengthOf(run);
    // Entries before lo that are held sort before the bound; those from hi on, not.
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      let order = 0;
      let at = mid;
      for (; at < hi; at++) {
        order = entries[at * WORDS + HIGH]! - high || entries[at * WORDS + LOW]! - low;
        if (order !== 0) break;
        const location = resolve(map, run, at);
        if (location === GONE) continue;
        order = map.compareKeyAt(location, bound);
        break;
      }
      if (at === hi) hi = mid;
      else if (order < 0 || (order === 0 && !inclusive)) lo = at + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Sorts the keys of the next {@link BUILD_SLOTS} index slots into a run. */
  #build(): void {
    const map = this.#map;
    if (this.#builtTo === 0) {
      map.watchInserts((hash) => this.#note(hash));
      this.#pool = ownEntries(WORDS * (map.size + map.tombstones));
      this.#pooled = 0;
    }
    const hashes: number[] = [];
    const locations: number[] = [];
    this.#builtTo = map.visitRange(this.#builtTo, BUILD_SLOTS, (hash, location) => {
      hashes.push(hash);
      locations.push(location);
    });
    const run = runOf(map, hashes, locations, (words) => this.#fromPool(words));
    const pooled = run.entries.buffer === this.#pool!.buffer && run.entries.length > 0;
    if (pooled) this.#pooledRuns++;
    this.#add({ entries: run.entries, pooled });
  }

  /** `words` of the build's pool, or of their own once it is full (keys added meanwhile). */
  #fromPool(words: number): Uint32Array {
    const pool = this.#pool!;
    if (this.#pooled + words > pool.length) return ownEntries(words);
    this.#pooled += words;
    return pool.subarray(this.#pooled - words, this.#pooled);
  }

  /** Sorts up to {@link NOTED_STEP_KEYS} noted keys into a run. */
  #sortNoted(): void {
    const map = this.#map;
    const start = Math.max(0, this.#pendingLength - NOTED_STEP_KEYS);
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
    if (run.entries.length === 0) return;
    this.#runs.push(run);
    this.#entries += lengthOf(run);
  }

  /** A key took a new slot: noted if its hash lies in the part already built. */
  #note(hash: number): void {
    if (hash >= this.#builtTo) return; // a later build step will find it
    if (this.#pendingLength === this.#pending.length) {
      // More new keys than the order holds (and no listing to sort them in): building
      // afresh costs less than sorting them all, and holds nothing meanwhile.
      if (this.#pendingLength >= Math.max(FAN_IN * NOTED_STEP_KEYS, this.#entries)) return this.release();
      const grown = new Uint32Array(Math.max(1024, 2 * this.#pending.length));
      grown.set(this.#pending);
      this.#pending = grown;
    }
    this.#pending[this.#pendingLength++] = hash;
  }
}
