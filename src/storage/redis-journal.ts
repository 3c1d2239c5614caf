import calculateSlot from 'cluster-key-slot';
import { Cluster, type Redis, type Result } from 'ioredis';
import { HASH_SPACE } from '../ring/murmur3.js';
import {
  LogOp,
  type Journal,
  type LogOpCode,
  type LogRecord,
  type Recovered,
  type StorageStats,
} from './journal.js';
import type { RedisTarget } from './options.js';
import { connectRedis, describeTarget, disconnectRedis } from './redis-client.js';

/**
 * A record's value in Redis: version f64, kind u8 ({@link Kind}), ring hash u32, then the
 * value's bytes (for a value that expires, its envelope: the expiry, then the bytes).
 */
const HEADER = 13;
const Kind = { Value: 0, Tombstone: 1, Expiring: 2 } as const;
/** The kind a journal operation stores. */
const KIND_OF: Partial<Record<LogOpCode, number>> = {
  [LogOp.Put]: Kind.Value,
  [LogOp.Tombstone]: Kind.Tombstone,
  [LogOp.PutExpiring]: Kind.Expiring,
};
const OP_OF = [LogOp.Put, LogOp.Tombstone, LogOp.PutExpiring] as const;
/** Partitions read at once at start. */
const READS_IN_FLIGHT = 16;

/** A write waiting for the next commit: a record to store, or a field to delete, in one partition. */
interface Queued {
  partition: number;
  key: Buffer;
  /** The record to store (put or tombstone); a purge's tombstone version; or a drop. */
  change: { store: Buffer } | { purge: number } | 'drop';
}

/**
 * The writes, as scripts that make their order not matter: ioredis resends a cluster
 * pipeline that met a dropped connection, so a commit's writes can land after the next
 * commit's, and a failed commit's writes are sent again with a later one. A record is
 * stored only over an older one (the version is the record's first 8 bytes, f64 LE, as
 * the node's own store compares them); a purge deletes only the tombstone, or the value
 * that expires, of its version.
 */
const SCRIPTS = {
  thunderdbStore: `local old = redis.call('HGET', KEYS[1], ARGV[1])
if old and struct.unpack('<d', old) > struct.unpack('<d', ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1`,
  thunderdbPurge: `local old = redis.call('HGET', KEYS[1], ARGV[1])
if old and string.byte(old, 9) ~= 0 and struct.unpack('<d', old) == tonumber(ARGV[2]) then
  return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0`,
};

declare module 'ioredis' {
  interface RedisCommander<Context> {
    thunderdbStore(hash: Buffer, field: Buffer, record: Buffer): Result<number, Context>;
    thunderdbPurge(hash: Buffer, field: Buffer, version: string): Result<number, Context>;
  }
}

/**
 * A node's journal in Redis or a Redis Cluster (ioredis): each partition of the node is one
 * Redis hash, `{<prefix>:p<partition>}`, whose fields are the partition's keys and whose
 * values hold the version, the kind (value, tombstone, value that expires), the ring hash and
 * the value. The braces are
 * a hash tag, so in a cluster the partitions spread over every master. A commit is one
 * pipeline per master its partitions live on (ioredis refuses a pipeline across masters),
 * acknowledged once Redis has acknowledged every command of it; how durable that is,
 * Redis's own persistence decides (`appendfsync`). Start-up reads each partition back with
 * one HGETALL.
 */
export class RedisJournal implements Journal {
  readonly #client: Redis | Cluster;
  readonly #target: RedisTarget;
  readonly #prefix: string;
  readonly #span: number;
  /** Each partition's hash name, and its cluster slot. */
  readonly #names: Buffer[];
  readonly #slots: number[];
  #queued: Queued[] = [];
  /** Writes of commits that failed, sent again with the next commit. */
  #failed: Queued[] = [];
  /** The commits under way, in order: each answers after the ones before it. */
  #tail: Promise<void> = Promise.resolve();

  private constructor(client: Redis | Cluster, target: RedisTarget, prefix: string, partitions: number) {
    this.#client = client;
    this.#target = target;
    this.#prefix = prefix;
    this.#span = HASH_SPACE / partitions;
    this.#names = Array.from({ length: partitions }, (_, p) => Buffer.from(`{${prefix}:p${p}}`));
    this.#slots = this.#names.map((name) => calculateSlot(name));
  }

  /** Connects, and replays every record kept under `prefix` through `apply`. */
  static async open(
    target: RedisTarget,
    prefix: string,
    partitions: number,
    apply: (record: LogRecord) => void,
  ): Promise<{ journal: RedisJournal; recovered: Recovered }> {
    const started = performance.now();
    const client = await connectRedis(target);
    for (const [name, lua] of Object.entries(SCRIPTS)) client.defineCommand(name, { numberOfKeys: 1, lua });
    const journal = new RedisJournal(client, target, prefix, partitions);
    const recovered: Recovered = { files: 0, records: 0, bytes: 0, ms: 0 };
    try {
      let next = 0;
      const reader = async () => {
        for (let p = next++; p < partitions; p = next++) {
          const fields = (await client.callBuffer('HGETALL', journal.#names[p]!)) as Buffer[];
          for (let i = 0; i < fields.length; i += 2) journal.#replay(fields[i]!, fields[i + 1]!, apply);
          recovered.records += fields.length / 2;
          for (const field of fields) recovered.bytes += field.length;
          if (fields.length > 0) recovered.files++;
        }
      };
      await Promise.all(Array.from({ length: READS_IN_FLIGHT }, reader));
    } catch (err) {
      await disconnectRedis(client);
      throw err;
    }
    recovered.ms = performance.now() - started;
    return { journal, recovered };
  }

  /** Hands one field of a partition's hash to `apply` as the record it stores. */
  #replay(key: Buffer, value: Buffer, apply: (record: LogRecord) => void): void {
    const op = OP_OF[value[8]!];
    if (op === undefined)
      throw new Error(
        `field ${JSON.stringify(key.toString())} of ${this.#prefix}: unknown record kind ${value[8]}`,
      );
    apply({
      op,
      version: value.readDoubleLE(0),
      hash: value.readUInt32LE(9),
      bytes: Buffer.concat([key, value.subarray(HEADER)]),
      keyStart: 0,
      keyLength: key.length,
      valueStart: key.length,
      valueLength: value.length - HEADER,
    });
  }

  append(
    op: LogOpCode,
    hash: number,
    version: number,
    key: Uint8Array,
    keyStart: number,
    keyLength: number,
    value: Uint8Array | null = null,
    valueStart = 0,
    valueLength = 0,
  ): void {
    const partition = Math.floor(hash / this.#span);
    const field = Buffer.from(key.subarray(keyStart, keyStart + keyLength));
    if (op === LogOp.Purge) {
      // The exact decimal of the f64, so the script compares the same number.
      this.#queued.push({ partition, key: field, change: { purge: version } });
      return;
    }
    const kind = KIND_OF[op];
    if (kind === undefined) {
      // A drop: the node no longer holds the partition (it moved away; with storage the
      // ring does not change, so this does not race a write of the same key).
      this.#queued.push({ partition, key: field, change: 'drop' });
      return;
    }
    const record = Buffer.allocUnsafe(HEADER + valueLength);
    record.writeDoubleLE(version, 0);
    record[8] = kind;
    record.writeUInt32LE(hash >>> 0, 9);
    if (value !== null && valueLength > 0)
      record.set(value.subarray(valueStart, valueStart + valueLength), HEADER);
    this.#queued.push({ partition, key: field, change: { store: record } });
  }

  commit(done: (error?: Error) => void): void {
    const queued = this.#failed.length === 0 ? this.#queued : this.#failed.concat(this.#queued);
    this.#queued = [];
    this.#failed = [];
    // Settles as the error, never rejects: a commit that fails before the one ahead of it
    // has answered must wait its turn, not surface as an unhandled rejection.
    const outcome =
      queued.length === 0
        ? Promise.resolve(undefined)
        : this.#send(queued).then(
            () => undefined,
            (error: Error) => {
              // Memory holds these writes; Redis may not. They go again with the next commit
              // (the scripts make that safe), so the copy catches up once Redis is back.
              this.#failed = queued.concat(this.#failed);
              return error;
            },
          );
    this.#tail = this.#tail.then(async () => done(await outcome));
  }

  /** Sends a commit's commands: one pipeline, or in a cluster one per master. */
  async #send(queued: Queued[]): Promise<void> {
    const client = this.#client;
    const groups = new Map<string, Queued[]>();
    if (client instanceof Cluster) {
      for (const write of queued) {
        // The masters serving the partition's slot; before the slot map is known, the slot.
        const slot = this.#slots[write.partition]!;
        const group = client.slots[slot]?.join(';') ?? String(slot);
        let writes = groups.get(group);
        if (writes === undefined) groups.set(group, (writes = []));
        writes.push(write);
      }
    } else groups.set('', queued);
    await Promise.all(
      [...groups.values()].map(async (writes) => {
        const pipeline = client.pipeline();
        for (const { partition, key, change } of writes) {
          const name = this.#names[partition]!;
          if (change === 'drop') pipeline.hdel(name, key);
          else if ('purge' in change) pipeline.thunderdbPurge(name, key, String(change.purge));
          else pipeline.thunderdbStore(name, key, change.store);
        }
        for (const [error] of (await pipeline.exec()) ?? []) if (error) throw error;
      }),
    );
  }

  stats(recovered: Recovered, recoveredKeys: number): StorageStats {
    return {
      backend: 'redis',
      target: describeTarget(this.#target),
      prefix: this.#prefix,
      recoveredRecords: recovered.records,
      recoveredKeys,
      replayMs: Math.round(recovered.ms),
    };
  }

  async close(): Promise<void> {
    await this.#tail;
    await disconnectRedis(this.#client);
  }
}
