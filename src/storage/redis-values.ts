import calculateSlot from 'cluster-key-slot';
import { Cluster, type Redis, type Result } from 'ioredis';
import { HASH_SPACE } from '../ring/murmur3.js';
import { ENVELOPE_BYTES } from '../expiry.js';
import { LogOp, type LogOpCode, type LogRecord, type Recovered, type StorageStats } from './journal.js';
import type { RedisTarget } from './options.js';
import { connectRedis, describeTarget, disconnectRedis } from './redis-client.js';
import type { ValueBackend, ValueNeed } from './values.js';

/**
 * A record in Redis, in two hashes per partition, both under one hash tag (so one slot, one
 * master, one script): the record `{<prefix>:p<P>}:m`, field = key, value = version f64 | kind
 * u8 ({@link Kind}) | ring hash u32 | value length u32 | expiry f64 (Unix ms; 0: never); and
 * its value `{<prefix>:p<P>}:v`, field = key, value = version f64 | the value's bytes. A node
 * reads the records at start and a value when a read needs it.
 */
const META = 25;
const Kind = { Value: 0, Tombstone: 1, Expiring: 2 } as const;
/** The kind a journal operation stores. */
const KIND_OF: Partial<Record<LogOpCode, number>> = {
  [LogOp.Put]: Kind.Value,
  [LogOp.Tombstone]: Kind.Tombstone,
  [LogOp.PutExpiring]: Kind.Expiring,
};
const OP_OF = [LogOp.Put, LogOp.Tombstone, LogOp.PutExpiring] as const;
/** Records stored by one script call, at most: a call blocks Redis while it runs. */
const STORES_PER_CALL = 128;
/** Partitions read at once at start. */
const READS_IN_FLIGHT = 16;

/** A value written and not yet acknowledged by Redis: reads are served from it meanwhile. */
interface Pending {
  version: number;
  bytes: Buffer;
}

/** A write waiting for the next commit: a record to store, or a field to delete, in one partition. */
interface Queued {
  partition: number;
  key: Buffer;
  /** The record and value to store (a tombstone has no value); a purge's version; or a drop. */
  change: { meta: Buffer; value: Buffer | null } | { purge: number } | 'drop';
  /** The pending entry this write serves reads from until Redis acknowledges it. */
  pending?: Pending;
}

/**
 * The writes, as scripts that make their order not matter: ioredis resends a cluster
 * pipeline that met a dropped connection, so a commit's writes can land after the next
 * commit's, and a failed commit's writes are sent again with a later one. A record is
 * stored only over an older one (the version is the record's first 8 bytes, f64 LE, as
 * the node's own store compares them; at one version a tombstone wins, as there), its value
 * with it (a tombstone's value is deleted);
 * a purge deletes only the tombstone, or the value that expires, of its version.
 */
const SCRIPTS = {
  thunderdbStore: `local stored = 0
for i = 1, #KEYS, 2 do
  local j = (i - 1) / 2 * 3
  local field, meta, value = ARGV[j + 1], ARGV[j + 2], ARGV[j + 3]
  local old = redis.call('HGET', KEYS[i], field)
  local stale = false
  if old then
    local was, now = struct.unpack('<d', old), struct.unpack('<d', meta)
    stale = was > now or (was == now and string.byte(old, 9) == 1 and string.byte(meta, 9) ~= 1)
  end
  if not stale then
    redis.call('HSET', KEYS[i], field, meta)
    if value == '' then redis.call('HDEL', KEYS[i + 1], field) else redis.call('HSET', KEYS[i + 1], field, value) end
    stored = stored + 1
  end
end
return stored`,
  thunderdbPurge: `local old = redis.call('HGET', KEYS[1], ARGV[1])
if old and string.byte(old, 9) ~= 0 and struct.unpack('<d', old) == tonumber(ARGV[2]) then
  redis.call('HDEL', KEYS[2], ARGV[1])
  return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0`,
};

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** Records to store: 2 keys (record and value hashes) and 3 arguments (field, record, value or '') each. */
    thunderdbStore(keys: number, ...keysThenArgs: (Buffer | '')[]): Result<number, Context>;
    thunderdbPurge(meta: Buffer, values: Buffer, field: Buffer, version: string): Result<number, Context>;
  }
}

/**
 * A node's records and values in Redis or a Redis Cluster (ioredis), in two hashes per
 * partition ({@link META}). The hash tag `{<prefix>:p<P>}` spreads the partitions over every
 * master of a cluster. A commit is one pipeline per master its partitions live on (ioredis
 * refuses a pipeline across masters), acknowledged once Redis has acknowledged every
 * command of it; how durable that is, Redis's own persistence decides (`appendfsync`).
 * Start-up reads each partition's records with one HGETALL, not its values: the node keeps
 * records, Redis keeps values, and a read of a value not written since start asks Redis for
 * it (HGET, pipelined the same way).
 */
export class RedisValues implements ValueBackend {
  readonly #client: Redis | Cluster;
  readonly #target: RedisTarget;
  readonly #prefix: string;
  readonly #span: number;
  /** Each partition's record and value hash names, and their cluster slot. */
  readonly #metaNames: Buffer[];
  readonly #valueNames: Buffer[];
  readonly #slots: number[];
  /** The newest value of each key whose write Redis has not acknowledged (see {@link pending}). */
  readonly #pending = new Map<string, Pending>();
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
    this.#metaNames = Array.from({ length: partitions }, (_, p) => Buffer.from(`{${prefix}:p${p}}:m`));
    this.#valueNames = Array.from({ length: partitions }, (_, p) => Buffer.from(`{${prefix}:p${p}}:v`));
    this.#slots = this.#metaNames.map((name) => calculateSlot(name));
  }

  /** Connects, and replays every record kept under `prefix` through `apply` (values stay in Redis). */
  static async open(
    target: RedisTarget,
    prefix: string,
    partitions: number,
    apply: (record: LogRecord) => void,
  ): Promise<{ journal: RedisValues; recovered: Recovered }> {
    const started = performance.now();
    const client = await connectRedis(target);
    client.defineCommand('thunderdbStore', { lua: SCRIPTS.thunderdbStore });
    client.defineCommand('thunderdbPurge', { numberOfKeys: 2, lua: SCRIPTS.thunderdbPurge });
    const journal = new RedisValues(client, target, prefix, partitions);
    const recovered: Recovered = { files: 0, records: 0, bytes: 0, ms: 0 };
    try {
      await journal.#refuseCopyLayout(partitions);
      let next = 0;
      const reader = async () => {
        for (let p = next++; p < partitions; p = next++) {
          const fields = (await client.callBuffer('HGETALL', journal.#metaNames[p]!)) as Buffer[];
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

  /**
   * Refuses a prefix an earlier version wrote in its copy layout (one hash per partition,
   * `{<prefix>:p<P>}`, holding records and values together): reading it as this layout would
   * start the node empty over data the user still has.
   */
  async #refuseCopyLayout(partitions: number): Promise<void> {
    const found = await Promise.all(
      Array.from({ length: partitions }, (_, p) => this.#client.exists(`{${this.#prefix}:p${p}}`)),
    );
    if (found.some((n) => n > 0)) {
      throw new RangeError(
        `${this.#prefix} at ${describeTarget(this.#target)} holds data in the copy layout of ThunderDB 0.x ` +
          `({${this.#prefix}:p<partition>} hashes); start with another --redis-prefix, or delete those keys`,
      );
    }
  }

  /**
   * Hands one field of a partition's record hash to `apply` as the record it stores, its value
   * left in Redis: `bytes` holds the key (and a PutExpiring's expiry), `valueLength` counts
   * the value all the same, and the store, whose records keep no values, reads no further.
   */
  #replay(key: Buffer, meta: Buffer, apply: (record: LogRecord) => void): void {
    const op = OP_OF[meta[8]!];
    if (op === undefined || meta.length !== META)
      throw new Error(
        `field ${JSON.stringify(key.toString())} of ${this.#prefix}: not a record (kind ${meta[8]}, ${meta.length} bytes)`,
      );
    const valueLength = meta.readUInt32LE(13);
    // A value that expires replays as its envelope: the expiry, then (here, in Redis) the bytes.
    const expiring = op === LogOp.PutExpiring;
    const bytes = Buffer.allocUnsafe(key.length + (expiring ? ENVELOPE_BYTES : 0));
    key.copy(bytes, 0);
    if (expiring) bytes.writeDoubleLE(meta.readDoubleLE(17), key.length);
    apply({
      op,
      version: meta.readDoubleLE(0),
      hash: meta.readUInt32LE(9),
      bytes,
      keyStart: 0,
      keyLength: key.length,
      valueStart: key.length,
      valueLength: (expiring ? ENVELOPE_BYTES : 0) + valueLength,
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
    const name = field.toString('latin1');
    if (op === LogOp.Purge) {
      // The exact decimal of the f64, so the script compares the same number.
      this.#queued.push({ partition, key: field, change: { purge: version } });
      return;
    }
    const kind = KIND_OF[op];
    if (kind === undefined) {
      // A drop: the node no longer holds the partition (it moved away).
      this.#pending.delete(name);
      this.#queued.push({ partition, key: field, change: 'drop' });
      return;
    }
    const expiring = kind === Kind.Expiring;
    const envelope = expiring ? ENVELOPE_BYTES : 0;
    const meta = Buffer.allocUnsafe(META);
    meta.writeDoubleLE(version, 0);
    meta[8] = kind;
    meta.writeUInt32LE(hash >>> 0, 9);
    meta.writeUInt32LE(kind === Kind.Tombstone ? 0 : valueLength - envelope, 13);
    meta.writeDoubleLE(
      expiring ? new DataView(value!.buffer, value!.byteOffset + valueStart, 8).getFloat64(0, true) : 0,
      17,
    );
    if (kind === Kind.Tombstone) {
      this.#pending.delete(name);
      this.#queued.push({ partition, key: field, change: { meta, value: null } });
      return;
    }
    const record = Buffer.allocUnsafe(8 + valueLength - envelope);
    record.writeDoubleLE(version, 0);
    record.set(value!.subarray(valueStart + envelope, valueStart + valueLength), 8);
    const pending: Pending = { version, bytes: record.subarray(8) };
    this.#pending.set(name, pending);
    this.#queued.push({ partition, key: field, change: { meta, value: record }, pending });
  }

  pending(name: string, version: number): Buffer | undefined {
    const pending = this.#pending.get(name);
    return pending !== undefined && pending.version === version ? pending.bytes : undefined;
  }

  read(needs: readonly ValueNeed[], done: (error: Error | null, values: (Buffer | null)[]) => void): void {
    const values: (Buffer | null)[] = new Array<Buffer | null>(needs.length).fill(null);
    const groups = this.#byMaster(
      needs.map((_, i) => i),
      (i) => Math.floor(needs[i]!.hash / this.#span),
    );
    Promise.all(
      groups.map(async (group) => {
        const pipeline = this.#client.pipeline();
        for (const i of group) {
          const need = needs[i]!;
          pipeline.hgetBuffer(
            this.#valueNames[Math.floor(need.hash / this.#span)]!,
            Buffer.from(need.name, 'latin1'),
          );
        }
        const results = (await pipeline.exec()) ?? [];
        for (let j = 0; j < group.length; j++) {
          const [error, value] = results[j] ?? [new Error('Redis answered no result')];
          if (error) throw error;
          const i = group[j]!;
          // A value of another version is not this record's: lost, as an absent one.
          if (value instanceof Buffer && value.readDoubleLE(0) === needs[i]!.version)
            values[i] = value.subarray(8);
        }
      }),
    ).then(
      () => done(null, values),
      (error: Error) => done(error, values),
    );
  }

  /**
   * Splits items into groups that one pipeline may carry: all of them for one server; in a
   * cluster, one group per master their partitions' slots live on (before the slot map is
   * known, one per slot).
   */
  #byMaster<T>(items: T[], partitionOf: (item: T) => number): T[][] {
    const client = this.#client;
    if (!(client instanceof Cluster)) return [items];
    const groups = new Map<string, T[]>();
    for (const item of items) {
      const slot = this.#slots[partitionOf(item)]!;
      const group = client.slots[slot]?.join(';') ?? String(slot);
      let members = groups.get(group);
      if (members === undefined) groups.set(group, (members = []));
      members.push(item);
    }
    return [...groups.values()];
  }

  commit(done: (error?: Error) => void): void {
    const queued = this.#queued;
    this.#queued = [];
    // Writes of earlier commits that failed go again beside this one, not as part of it: their
    // callers heard already, and this commit's callers must not fail for them.
    if (this.#failed.length > 0) {
      const again = this.#failed;
      this.#failed = [];
      void this.#store(again);
    }
    const outcome = queued.length === 0 ? Promise.resolve(undefined) : this.#store(queued);
    this.#tail = this.#tail.then(async () => done(await outcome));
  }

  /**
   * Sends writes; settles as the error, never rejects (a commit that fails before the one ahead
   * of it has answered must wait its turn, not surface as an unhandled rejection).
   */
  #store(queued: Queued[]): Promise<Error | undefined> {
    return this.#send(queued).then(
      () => {
        // Redis holds these now: reads of them go there, unless a newer write came.
        for (const { key, pending } of queued) {
          if (pending === undefined) continue;
          const name = key.toString('latin1');
          if (this.#pending.get(name) === pending) this.#pending.delete(name);
        }
        return undefined;
      },
      (error: Error) => {
        // Redis may not hold these writes: they go again with the next commit (the scripts
        // make that safe), and reads are served from their pending values meanwhile.
        this.#failed = queued.concat(this.#failed);
        return error;
      },
    );
  }

  /** Sends a commit's commands: one pipeline, or in a cluster one per master. */
  async #send(queued: Queued[]): Promise<void> {
    const groups = this.#byMaster(queued, (write) => write.partition);
    await Promise.all(
      groups.map(async (writes) => {
        const pipeline = this.#client.pipeline();
        // Stores go many to a script call (one call per command costs Redis more than the
        // writes): on one server any together; on a cluster, those of one partition (a
        // script's keys must share a slot). Writes of one key are of one partition and keep
        // their order; writes of different keys need none.
        const byPartition = new Map<number, Queued[]>();
        const cluster = this.#client instanceof Cluster;
        for (const write of writes) {
          const group = cluster ? write.partition : 0;
          let members = byPartition.get(group);
          if (members === undefined) byPartition.set(group, (members = []));
          members.push(write);
        }
        for (const members of byPartition.values()) {
          let keys: Buffer[] = [];
          let args: (Buffer | '')[] = [];
          const flush = () => {
            if (keys.length === 0) return;
            pipeline.thunderdbStore(keys.length, ...keys, ...args);
            keys = [];
            args = [];
          };
          for (const { partition, key, change } of members) {
            const meta = this.#metaNames[partition]!;
            const values = this.#valueNames[partition]!;
            if (change === 'drop' || 'purge' in change) {
              flush();
              if (change === 'drop') {
                pipeline.hdel(meta, key);
                pipeline.hdel(values, key);
              } else pipeline.thunderdbPurge(meta, values, key, String(change.purge));
              continue;
            }
            keys.push(meta, values);
            args.push(key, change.meta, change.value ?? '');
            if (keys.length >= 2 * STORES_PER_CALL) flush();
          }
          flush();
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
