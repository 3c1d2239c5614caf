import type { ReplySink } from '../transport/batcher.js';
import type { Result } from '../wire/reply.js';
import type { ThunderError } from '../errors.js';
import { HASH_SPACE } from '../ring/murmur3.js';
import { Op, type RecordSlice } from '../wire/protocol.js';
import type { PartitionSet } from '../ring/partition-set.js';
import { envelope } from '../expiry.js';
import { forEachRecord } from '../wire/slices.js';
import { Written } from '../wire/protocol.js';

/** What copying partitions needs of the cluster. */
export interface CopyChannel {
  /** One slice of `node`'s records (tombstones too) of the partitions in `only`. */
  scan(node: number, from: number, maxBytes: number, only: PartitionSet): Promise<RecordSlice>;
  /** Queues a versioned write of a key, as raw bytes with its ring hash, on a node; `sink` hears of it with `tag`. */
  write(
    node: number,
    sink: ReplySink,
    tag: number,
    op: typeof Op.Put | typeof Op.PutExpiring | typeof Op.Delete,
    key: Buffer,
    hash: number,
    version: number,
    value: Buffer | null,
  ): void;
}

/** What a copy moved: records (values and tombstones) and their key and value bytes. */
export interface Copied {
  keys: number;
  bytes: number;
}

/** What a copy moved, and the writes its targets failed (with the first error). */
export interface CopyCount extends Copied {
  failed: number;
  firstError: ThunderError | null;
  /**
   * When given, counts what the targets applied: the copies newer than the record a target
   * held (its write outcome was not stale). A refill copies from every replica, so `keys`
   * counts a key once per source; this counts what the node gained.
   */
  applied?: Copied;
}

/**
 * A promise awaited later, after other awaits: marked handled now, so that its rejection
 * meanwhile (the source crashing while this slice's writes are in flight) is not an
 * unhandled rejection, which ends the process. Awaiting it still throws.
 */
function ahead<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

/** Record bytes one scan slice carries: one slice is in memory at a time. */
const SLICE_BYTES = 256 * 1024;

/** Counts a slice's writes back in; resolves when all are acknowledged or failed. */
class SliceAcks implements ReplySink {
  waiting = 0;
  failed = 0;
  firstError: ThunderError | null = null;
  /** Each write's key and value bytes, by tag. */
  readonly bytes: number[] = [];
  readonly applied: Copied = { keys: 0, bytes: 0 };
  #done: (() => void) | null = null;

  settle(tag: number, outcome: Result): void {
    if (outcome !== Written.Stale) {
      this.applied.keys++;
      this.applied.bytes += this.bytes[tag]!;
    }
    this.#one();
  }

  fail(_tag: number, error: ThunderError): void {
    this.failed++;
    this.firstError ??= error;
    this.#one();
  }

  #one(): void {
    if (--this.waiting === 0) this.#done?.();
  }

  all(): Promise<void> {
    return this.waiting === 0 ? Promise.resolve() : new Promise((resolve) => (this.#done = resolve));
  }
}

/**
 * Copies the records of the partitions in `only` from `source` to the nodes
 * `targetsOf(partition)` names, as writes carrying each record's own version: a target keeps
 * whichever is newer, its own record or the copy, so copying never undoes a write and can
 * run while traffic goes on (a write arriving meanwhile is newer, or loses to a newer copy
 * as it would to any newer write). One slice's writes are in flight at a time (the next
 * slice is scanned meanwhile), so memory stays at two slices. A write a target fails (it went down) is
 * counted in `failed`, and the copy goes on to the other targets.
 */
export async function copyPartitions(
  channel: CopyChannel,
  source: number,
  only: PartitionSet,
  targetsOf: (partition: number) => readonly number[],
  copied: CopyCount = { keys: 0, bytes: 0, failed: 0, firstError: null },
): Promise<CopyCount> {
  const span = HASH_SPACE / only.partitions;
  // The next slice is asked for as soon as this one's writes are sent: one scan's round trip
  // overlaps the writes' (a sparse set of partitions makes many small slices).
  let scanning: Promise<RecordSlice> | null = channel.scan(source, 0, SLICE_BYTES, only);
  while (scanning !== null) {
    const slice: RecordSlice = await scanning;
    scanning = slice.next < HASH_SPACE ? ahead(channel.scan(source, slice.next, SLICE_BYTES, only)) : null;
    const acks = new SliceAcks();
    forEachRecord(slice.records, (key, hash, version, value, expiresAt) => {
      const bytes = key.length + (value?.length ?? 0);
      copied.keys++;
      copied.bytes += bytes;
      // A value that expires is copied with its expiry, as PutExpiring carries it.
      const op = version < 0 ? Op.Delete : expiresAt === 0 ? Op.Put : Op.PutExpiring;
      const operand = op === Op.PutExpiring ? envelope(expiresAt, value!) : value;
      for (const target of targetsOf(Math.floor(hash / span))) {
        acks.waiting++;
        channel.write(target, acks, acks.bytes.push(bytes) - 1, op, key, hash, Math.abs(version), operand);
      }
    });
    await acks.all();
    copied.failed += acks.failed;
    copied.firstError ??= acks.firstError;
    if (copied.applied) {
      copied.applied.keys += acks.applied.keys;
      copied.applied.bytes += acks.applied.bytes;
    }
  }
  return copied;
}
