import { getHeapStatistics } from 'node:v8';

import { ByteMap } from './byte-map.js';
import { INDEX_SCRAMBLE } from './scramble.js';

import { REFUSED_FOR_MEMORY, Written, type WriteOutcome } from '../wire/protocol.js';

import { KeyOrder } from './key-order.js';

import { LogOp, type Journal, type LogRecord, type Recovered } from '../storage/journal.js';
import { holdsValues, type ValueBackend } from '../storage/values.js';

import { HASH_SPACE } from '../ring/murmur3.js';

import { hasPartition } from '../ring/partition-set.js';

import { bytesToText } from '../bytes.js';

import { ENVELOPE_BYTES } from '../expiry.js';

import { systemClock, type Clock } from '../time/clock.js';

import { versionWall } from '../time/hlc.js';

import type { ListPage, NodeStats, SnapshotSlice, StorageStats } from '../wire/protocol.js';
import type { PartitionSet } from '../ring/partition-set.js';
import { RECORD_SLICE_HEADER } from '../wire/slices.js';
import { DEFAULT_MERGE_SLACK_BYTES } from '../config.js';

/**
 * How long a shard keeps its order of keys (src/node/key-order.ts) after the last listing
 * message: long enough for a client paging by hand, short enough that writes soon stop
 * paying to note new keys for it and its memory (8 bytes a key) comes back.
 */
export const LIST_IDLE_MS = 60_000;
/** A log's bytes beyond its records' keys and values (see src/storage/log.ts). */
const RECORD_OVERHEAD = 27;

/** Index slots one snapshot slice reads; the slice is also cut by bytes. */
export const SNAPSHOT_SLICE_SLOTS = 4_096;

/**
 * One node's data and its rules: a {@link ByteMap} of key → versioned record (last writer
 * wins, by version; deletes as tombstones; values that expire), the order of its keys for
 * listings, and the journal every change is appended to and replayed from. Knows nothing of
 * batches or replies: {@link NodeRuntime} (src/node/runtime.ts) applies a batch to it. Input
 * was validated at the front end, so nothing here re-checks sizes or types. Lives in `src/`
 * rather than the worker so it runs and is tested in a single thread.
 */
export class NodeStore {
  readonly #map: ByteMap;
  /** Keys in byte order, built while listings come and released once they stop. */
  readonly #order: KeyOrder;
  readonly #clock: Pick<Clock, 'now' | 'setTimer'>;
  /** When the last listing message came (clock ms), and whether a timer watches for idleness. */
  #listedAt = 0;
  #idleTimer = false;
  /** The node's journal (`--storage log` or `redis`): every change is appended to it. */
  #log: Journal | null = null;
  /** The journal, when it also keeps the values (`--storage redis`): records hold none. */
  #values: ValueBackend | null = null;
  /**
   * Keys (as byte strings) whose value a read found lost, and the version: a write of that very
   * version is then a repair, written to the backend again (any other is stale, as always).
   */
  readonly #lost = new Map<string, number>();
  #recovered: Recovered | null = null;
  /** Past this many bytes of records and order of keys, writes that add to them are refused. */
  readonly #maxStoreBytes: number;
  /** A merge runs once the log is this much larger than twice the live data. */
  #mergeSlackBytes = DEFAULT_MERGE_SLACK_BYTES;

  /**
   * `partitions`: the ring's partition count, for the per-partition digests (default 1024);
   * `scramble`: the index's multiplier, one per node (see scrambleFor in src/node/scramble.ts);
   * `clock`: the timer that releases the order of keys {@link LIST_IDLE_MS} after the last
   * listing (default: the system's; the simulated loop for a node run inline);
   * `externalValues`: values will live in the journal (a {@link ValueBackend}, see
   * {@link useLog}), so records keep only their lengths; `maxStoreBytes`: this node's share of
   * `--max-memory` (default unbounded), past which writes that add to the store are refused.
   */
  constructor(
    options: {
      partitions?: number;
      scramble?: number;
      clock?: Pick<Clock, 'now' | 'setTimer'>;
      externalValues?: boolean;
      maxStoreBytes?: number;
    } = {},
  ) {
    this.#maxStoreBytes = options.maxStoreBytes ?? Infinity;
    this.#map = new ByteMap({
      partitions: options.partitions ?? 1024,
      scramble: options.scramble ?? INDEX_SCRAMBLE,
      external: options.externalValues ?? false,
    });
    this.#order = new KeyOrder(this.#map);
    this.#clock = options.clock ?? systemClock;
  }

  /**
   * The records, to read (a record's version, value, key bytes at a location): the runtime
   * copies them into replies from here. Never written through: every write goes through a
   * method of the store, so the journal, the digests and the order of keys follow it.
   */
  get records(): ByteMap {
    return this.#map;
  }

  get(key: string): string | undefined {
    return this.#map.get(key);
  }

  /** Stores a value whatever the stored version (for tests and local tools). */
  put(key: string, value: string): void {
    this.#map.set(key, value);
  }

  /** Removes a key's record, leaving no tombstone (for tests and local tools). */
  delete(key: string): boolean {
    return this.#map.delete(key);
  }

  /**
   * A listing message: the first `limit` keys starting with `prefix` and greater than
   * `after`, in UTF-8 byte order, whose value has not expired at `asOf` (Unix ms); or not
   * ready, after one bounded step of building the shard's order of keys: ask again. Once
   * built, a page costs a binary search in each of a few sorted runs and a merge of about
   * `limit` entries, whatever the shard holds.
   */
  listPage(prefix: string, after: string, limit: number, asOf = 0): ListPage {
    const found = this.pageOf(prefix, after, limit, asOf);
    return { ready: found !== null, keys: found?.map((location) => this.#map.keyAt(location)) ?? [] };
  }

  /** A page's record locations, valid until the next write, or null when not ready (see {@link listPage}). */
  pageOf(prefix: string, after: string, limit: number, asOf: number): number[] | null {
    this.#listedAt = this.#clock.now();
    if (!this.#idleTimer) this.#watchIdle(LIST_IDLE_MS);
    if (!this.#order.advance()) return null;
    return this.#order.page(Buffer.from(prefix, 'utf8'), Buffer.from(after, 'utf8'), limit, asOf);
  }

  /** Bytes the order of keys holds now (0 when released). */
  get listOrderBytes(): number {
    return this.#order.bytes;
  }

  /** Releases the order of keys once no listing message has come for {@link LIST_IDLE_MS}. */
  #watchIdle(ms: number): void {
    this.#idleTimer = true;
    this.#clock.setTimer(ms, () => {
      const idle = this.#clock.now() - this.#listedAt;
      if (idle < LIST_IDLE_MS) return this.#watchIdle(LIST_IDLE_MS - idle);
      this.#idleTimer = false;
      this.#order.release();
    });
  }

  /**
   * One slice of a snapshot: `"k":"v"` pairs (values decoded as UTF-8 text) for the keys whose
   * hash lies in `[from, next)` (and, with `only`, whose partition it includes) and whose
   * value has not expired at `asOf` (Unix ms), in hash order, cut at the first hash
   * boundary after the text passes `maxBytes`. So its size is bounded by `maxBytes` plus
   * one pair. With values in the backend, `valueOf` gives each value (null: lost, left out),
   * and the cut counts key and value bytes ({@link snapshotLocations}), ending at `before` at
   * the latest.
   */
  snapshotSlice(
    from: number,
    maxBytes: number,
    only: PartitionSet | null = null,
    asOf = 0,
    valueOf?: (location: number) => Buffer | null,
    before = HASH_SPACE,
  ): SnapshotSlice {
    const parts: string[] = [];
    const pair = (location: number, value: string) =>
      JSON.stringify(this.#map.keyAt(location)) + ':' + JSON.stringify(bytesToText(value));
    if (this.#values !== null) {
      const { next, found } = this.snapshotLocations(from, maxBytes, only, asOf, before);
      for (let i = 0; i < found.length; i += 2) {
        const value = valueOf?.(found[i]!) ?? null;
        if (value !== null) parts.push(pair(found[i]!, value.toString('latin1')));
      }
      return { next, json: parts.join(',') };
    }
    let bytes = 0;
    const next = this.#walk(
      from,
      only,
      asOf,
      HASH_SPACE,
      () => bytes >= maxBytes,
      (location) => {
        const part = pair(location, this.#map.valueAt(location));
        parts.push(part);
        bytes += part.length + 1;
      },
    );
    return { next, json: parts.join(',') };
  }

  /**
   * The records a snapshot slice takes when values live in the backend: its cut is counted in
   * key and value bytes, known before the values are read, so the values to read are known
   * first. `found`: location, ring hash, location, ring hash…; `before`: see {@link recordSlice}.
   */
  snapshotLocations(
    from: number,
    maxBytes: number,
    only: PartitionSet | null,
    asOf: number,
    before = HASH_SPACE,
  ): { next: number; found: number[] } {
    const map = this.#map;
    const found: number[] = [];
    let bytes = 0;
    const next = this.#walk(
      from,
      only,
      asOf,
      before,
      () => bytes >= maxBytes,
      (location, hash) => {
        found.push(location, map.ringHashOf(hash));
        bytes += map.keyLengthAt(location) + map.valueLengthAt(location) + 6;
      },
    );
    return { next, found };
  }

  /**
   * One slice of a record scan: the records (tombstones and expired values too) of the
   * partitions in `only` whose hash lies in `[from, next)`, cut as a snapshot slice is: their
   * locations and ring hashes, in pairs, valid until the next write, and the bytes they take
   * as a RecordSlice (src/wire/slices.ts). `before`: a hash the slice ends at, at the latest
   * (with values in the backend: where the same slice ended when its values were read, so it
   * takes no record whose value was not read, however this batch's writes moved its cut).
   */
  recordSlice(
    from: number,
    maxBytes: number,
    only: PartitionSet,
    before = HASH_SPACE,
  ): { next: number; found: number[]; bytes: number } {
    const map = this.#map;
    const found: number[] = []; // location, ring hash, location, ring hash…
    let bytes = 0;
    const next = this.#walk(
      from,
      only,
      null,
      before,
      () => bytes >= maxBytes,
      (location, hash) => {
        found.push(location, map.ringHashOf(hash));
        bytes += RECORD_SLICE_HEADER + map.keyLengthAt(location) + map.valueLengthAt(location);
      },
    );
    return { next, found, bytes };
  }

  /**
   * Visits, in hash order, the records whose hash lies in `[from, end)` (about
   * {@link SNAPSHOT_SLICE_SLOTS} index slots): with `liveAsOf` (Unix ms) only values not
   * expired then, with null every record, tombstones too; and with `only` only those of its
   * partitions, taking each until `full()` or a hash of `before` or more; returns where the
   * next slice starts. Keys of one hash stay in one slice, so the cursor can be a hash.
   */
  #walk(
    from: number,
    only: PartitionSet | null,
    liveAsOf: number | null,
    before: number,
    full: () => boolean,
    take: (location: number, visitedHash: number) => void,
  ): number {
    const map = this.#map;
    const found: number[] = []; // hash, location, hash, location…
    const span = only === null ? 0 : HASH_SPACE / only.partitions;
    let next = map.visitRange(from, SNAPSHOT_SLICE_SLOTS, (hash, location) => {
      if (liveAsOf !== null && !map.isLiveAt(location, liveAsOf)) return;
      if (only !== null) {
        if (!hasPartition(only, Math.floor(map.ringHashOf(hash) / span))) return;
      }
      found.push(hash, location);
    });
    const order = Array.from({ length: found.length / 2 }, (_, i) => 2 * i).sort(
      (a, b) => found[a]! - found[b]!,
    );
    for (let i = 0; i < order.length; i++) {
      const at = order[i]!;
      const hash = found[at]!;
      if (hash >= before || (i > 0 && hash !== found[order[i - 1]!] && full())) {
        next = hash;
        break;
      }
      take(found[at + 1]!, hash);
    }
    return next;
  }

  /** What the node reports about itself; `ops`: the operations its runtime applied. */
  statistics(ops: number): NodeStats {
    return {
      keys: this.#map.size,
      expiring: this.#map.expiring,
      tombstones: this.#map.tombstones,
      bytes: this.#map.bytes,
      storeBytes: this.#map.allocatedBytes,
      ops,
      heapUsed: getHeapStatistics().used_heap_size,
      storage: this.#storageStats(),
    };
  }

  #storageStats(): StorageStats {
    const log = this.#log;
    const recovered = this.#recovered;
    if (log === null || recovered === null) return { backend: 'memory' };
    return log.stats(recovered, this.#recoveredKeys);
  }

  #recoveredKeys = 0;

  /**
   * Makes `log` this shard's journal, once its records have been replayed into the shard
   * (see {@link replay}); `mergeSlackBytes`: how far a log may outgrow twice the live
   * data before a merge rewrites it.
   */
  useLog(log: Journal, recovered: Recovered, mergeSlackBytes = DEFAULT_MERGE_SLACK_BYTES): void {
    if (holdsValues(log) !== this.#map.external) {
      throw new Error(
        'a store keeps its values in memory unless its journal keeps them, and the other way round',
      );
    }
    this.#log = log;
    this.#values = holdsValues(log) ? log : null;
    this.#recovered = recovered;
    this.#recoveredKeys = this.#map.size;
    this.#mergeSlackBytes = mergeSlackBytes;
  }

  /** Applies one record of the log at start-up, as the operation that wrote it did. */
  replay(record: LogRecord): void {
    const { op, hash, version, bytes, keyStart, keyLength, valueStart, valueLength } = record;
    const map = this.#map;
    switch (op) {
      case LogOp.Put:
        map.store(bytes, keyStart, keyLength, hash, bytes, valueStart, valueLength, version);
        break;
      case LogOp.PutExpiring:
        map.store(
          bytes,
          keyStart,
          keyLength,
          hash,
          bytes,
          valueStart + ENVELOPE_BYTES,
          valueLength - ENVELOPE_BYTES,
          version,
          false,
          bytes.readDoubleLE(valueStart),
        );
        break;
      case LogOp.Tombstone:
        map.store(bytes, keyStart, keyLength, hash, null, 0, 0, version);
        break;
      case LogOp.Purge:
        map.remove(bytes, keyStart, keyLength, hash, version);
        break;
      case LogOp.Drop:
        map.remove(bytes, keyStart, keyLength, hash);
    }
  }

  /**
   * Calls `done` once what the batches applied so far is as durable as the storage
   * promises (or with the error that kept it from being so): at once in memory, after the
   * journal's commit otherwise (a log's write, and with `fsync always` its fsync; Redis's
   * acknowledgement). Merges a log when it has grown well past the live data.
   */
  commit(done: (error?: Error) => void): void {
    const log = this.#log;
    if (log === null) return done();
    log.commit(done);
    if (log.bytes === undefined) return;
    const map = this.#map;
    // With values kept elsewhere a record's log entry holds its key and a reference (the
    // expiry and the length, 12 bytes), not its value.
    const live = map.external
      ? map.keyBytes + (map.size + map.tombstones) * (RECORD_OVERHEAD + 12)
      : map.bytes + (map.size + map.tombstones) * RECORD_OVERHEAD;
    if (log.bytes > 2 * live + this.#mergeSlackBytes) this.merge();
  }

  /**
   * Rewrites the log as the live records (tombstones still held among them), dropping the
   * rest; with values kept elsewhere, their references (src/storage/memcached-values.ts).
   */
  merge(): void {
    const map = this.#map;
    let key = Buffer.allocUnsafe(256);
    let value = Buffer.allocUnsafe(4096);
    this.#log?.merge?.((append) => {
      for (let from = 0; from < HASH_SPACE;) {
        from = map.visitRange(from, SNAPSHOT_SLICE_SLOTS, (hash, location) => {
          const keyLength = map.keyLengthAt(location);
          const expiresAt = map.expiresAtOf(location);
          // A value that expires is written as its envelope: the expiry, then the bytes.
          const start = expiresAt === 0 ? 0 : ENVELOPE_BYTES;
          const valueLength = start + map.valueLengthAt(location);
          if (key.length < keyLength) key = Buffer.allocUnsafe(keyLength * 2);
          // Values kept elsewhere are not here: the journal writes their references (their
          // expiry, in the envelope, and their length).
          if (!map.external && value.length < valueLength) value = Buffer.allocUnsafe(valueLength * 2);
          map.copyKeyAt(location, key, 0);
          if (!map.external) map.copyValueAt(location, value, start);
          if (start !== 0) value.writeDoubleLE(expiresAt, 0);
          const op = map.isTombstoneAt(location)
            ? LogOp.Tombstone
            : start === 0
              ? LogOp.Put
              : LogOp.PutExpiring;
          append(op, map.ringHashOf(hash), map.versionAt(location), key, 0, keyLength, value, 0, valueLength);
        });
      }
    });
  }

  /**
   * A read found that the backend lost the value of `name` (a key as a byte string) at
   * `version`: a write of that version repairs it. Bounded: past 65,536 unrepaired keys the
   * oldest are forgotten, and a later read finds them lost again.
   */
  noteLost(name: string, version: number): void {
    if (this.#lost.size >= 65_536) this.#lost.delete(this.#lost.keys().next().value!);
    this.#lost.set(name, version);
  }

  /**
   * Whether the store is at its share of `--max-memory` and this write would add to it: a new
   * key, or (values in memory) a longer value. Overwrites no longer than the value they
   * replace go on, as deletes do.
   */
  #full(batch: Buffer, start: number, length: number, hash: number, valueLength: number): boolean {
    const map = this.#map;
    if (map.allocatedBytes + this.#order.bytes < this.#maxStoreBytes) return false;
    const location = map.locate(batch, start, length, hash);
    if (location === 0 || map.isTombstoneAt(location)) return true;
    return !map.external && valueLength > map.valueLengthAt(location);
  }

  /** This node's share of `--max-memory` (Infinity: unbounded). */
  get maxStoreBytes(): number {
    return this.#maxStoreBytes;
  }

  /** The backend that keeps the values, when records hold none (`--storage redis`). */
  get values(): ValueBackend | null {
    return this.#values;
  }

  /** Closes the journal, if any, after making what is pending durable. */
  async close(): Promise<void> {
    const log = this.#log;
    this.#log = null;
    await log?.close();
  }

  /**
   * Stores a value at `version` unless the key holds a newer record (last writer wins); the
   * value operand is `batch[valueStart, +valueLength)`, for a value that expires an envelope
   * (the expiry, then the bytes; src/expiry.ts), kept as it came in the journal.
   */
  putValue(
    batch: Buffer,
    start: number,
    length: number,
    hash: number,
    version: number,
    valueStart: number,
    valueLength: number,
    expiring: boolean,
  ): WriteOutcome | typeof REFUSED_FOR_MEMORY {
    const envelope = expiring ? ENVELOPE_BYTES : 0;
    if (this.#maxStoreBytes !== Infinity && this.#full(batch, start, length, hash, valueLength - envelope)) {
      return REFUSED_FOR_MEMORY;
    }
    const outcome = this.#map.store(
      batch,
      start,
      length,
      hash,
      batch,
      valueStart + envelope,
      valueLength - envelope,
      version,
      false,
      expiring ? batch.readDoubleLE(valueStart) : 0,
      versionWall(version),
    );
    const op = expiring ? LogOp.PutExpiring : LogOp.Put;
    if (outcome !== Written.Stale) {
      this.#log?.append(op, hash, version, batch, start, length, batch, valueStart, valueLength);
    } else if (this.#values !== null && this.#lost.size > 0) {
      // The version held, written again after a read found its value lost: the repair.
      const name = batch.toString('latin1', start, start + length);
      if (this.#lost.get(name) === version) {
        this.#lost.delete(name);
        this.#values.append(op, hash, version, batch, start, length, batch, valueStart, valueLength);
      }
    }
    return outcome;
  }

  /**
   * Writes a tombstone at `version` unless the key holds a newer record. A value past its
   * expiry counts as absent (a DELETE answers 404), judged at the delete's own time: its
   * version's wall-clock part, the coordinator's clock.
   */
  tombstone(batch: Buffer, start: number, length: number, hash: number, version: number): WriteOutcome {
    const asOf = versionWall(version);
    const outcome = this.#map.store(batch, start, length, hash, null, 0, 0, version, false, 0, asOf);
    if (outcome !== Written.Stale) this.#log?.append(LogOp.Tombstone, hash, version, batch, start, length);
    return outcome;
  }

  /**
   * Drops the key's record if it is a tombstone, or a value that expires, of exactly
   * `version` (one every replica holds): never a newer write. True if it was dropped.
   */
  purge(batch: Buffer, start: number, length: number, hash: number, version: number): boolean {
    const removed = this.#map.remove(batch, start, length, hash, version);
    if (removed) this.#log?.append(LogOp.Purge, hash, version, batch, start, length);
    return removed;
  }

  /** Removes the records (tombstones too) of the partitions in `only` in one slice; returns where the next starts. */
  dropPartitions(from: number, only: PartitionSet): number {
    const map = this.#map;
    const doomed: Buffer[] = [];
    const hashes: number[] = [];
    const next = this.#walk(
      from,
      only,
      null,
      HASH_SPACE,
      () => false,
      (location, hash) => {
        const key = Buffer.allocUnsafe(map.keyLengthAt(location));
        map.copyKeyAt(location, key, 0);
        doomed.push(key);
        hashes.push(map.ringHashOf(hash));
      },
    );
    // Removed after the walk: removing shifts index entries the walk may still visit.
    for (let i = 0; i < doomed.length; i++) {
      if (map.remove(doomed[i]!, 0, doomed[i]!.length, hashes[i]!)) {
        this.#log?.append(LogOp.Drop, hashes[i]!, 0, doomed[i]!, 0, doomed[i]!.length);
      }
    }
    return next;
  }

  /**
   * Clears the values that expired at or before `cutoff` (Unix ms) among the keys whose hash
   * lies in `[from, next)` into tombstones of the same version: their bytes go; the version
   * stays, so an older write this replica or another holds cannot come back (the tombstone
   * is purged once every replica holds it, src/cluster/purger.ts). Returns where the next
   * slice starts and how many were cleared. Every replica holds the same expiry with the
   * version, so each clears the same records with no coordination.
   */
  clearExpired(from: number, cutoff: number): { next: number; cleared: number } {
    const map = this.#map;
    const keys: Buffer[] = [];
    const hashes: number[] = [];
    const versions: number[] = [];
    let next = HASH_SPACE;
    // Nothing expires by then in most stores: answer without walking.
    if (map.earliestExpiry <= cutoff) {
      if (from === 0) {
        map.beginExpiryScan();
        this.#scanEarliest = Infinity;
      }
      next = map.visitRange(from, SNAPSHOT_SLICE_SLOTS, (hash, location) => {
        const expiresAt = map.expiresAtOf(location);
        if (expiresAt === 0) return;
        if (expiresAt > cutoff) {
          this.#scanEarliest = Math.min(this.#scanEarliest, expiresAt);
          return;
        }
        const key = Buffer.allocUnsafe(map.keyLengthAt(location));
        map.copyKeyAt(location, key, 0);
        keys.push(key);
        hashes.push(map.ringHashOf(hash));
        versions.push(map.versionAt(location));
      });
      if (next === HASH_SPACE) map.endExpiryScan(this.#scanEarliest);
    }
    // Cleared after the walk: a record's new length moves it, which the walk must not see.
    let cleared = 0;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      const outcome = map.store(key, 0, key.length, hashes[i]!, null, 0, 0, versions[i]!);
      if (outcome === Written.Stale) continue;
      this.#log?.append(LogOp.Tombstone, hashes[i]!, versions[i]!, key, 0, key.length);
      cleared++;
    }
    return { next, cleared };
  }

  /** The earliest expiry the expiry scan under way left in place, so far. */
  #scanEarliest = Infinity;
}
