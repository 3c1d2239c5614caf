import { Cluster, type Redis } from 'ioredis';
import type { StorageStats } from '../protocol.js';
import { HASH_SPACE } from '../murmur3.js';
import { LogOp, type Journal, type LogOpCode, type LogRecord, type Recovered } from './journal.js';
import type { RedisTarget } from './options.js';
import { connectRedis, describeTarget, disconnectRedis } from './redis-client.js';

/** A record's value in Redis: version f64, tombstone u8, ring hash u32, then the value's bytes. */
const HEADER = 13;
/** Keys read back per round at start. */
const SCAN_COUNT = 1000;

/** A write waiting for the next commit: SET or DEL of one key, in one partition. */
interface Queued {
  partition: number;
  key: Buffer;
  /** The record to store, or null to delete the key. */
  value: Buffer | null;
}

/**
 * A node's journal in Redis or a Redis Cluster (ioredis): each record of the node is one
 * Redis key, `{<prefix>:p<partition>}<key>`, holding the version, the tombstone flag, the
 * ring hash and the value. The braces are a hash tag: a partition's keys share a slot, so
 * in a cluster they live on one master, partitions spread over all of them, and each
 * commit is one pipeline per partition it touches (a cluster refuses a pipeline across
 * slots). A commit is acknowledged once Redis has acknowledged every command of it; how
 * durable that is, Redis's own persistence decides (`appendfsync`).
 */
export class RedisJournal implements Journal {
  readonly #client: Redis | Cluster;
  readonly #target: RedisTarget;
  readonly #prefix: string;
  readonly #span: number;
  #queued: Queued[] = [];
  /** The commits under way, in order: each answers after the ones before it. */
  #tail: Promise<void> = Promise.resolve();

  private constructor(client: Redis | Cluster, target: RedisTarget, prefix: string, partitions: number) {
    this.#client = client;
    this.#target = target;
    this.#prefix = prefix;
    this.#span = HASH_SPACE / partitions;
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
    const journal = new RedisJournal(client, target, prefix, partitions);
    const recovered: Recovered = { files: 0, records: 0, bytes: 0, ms: 0 };
    const servers = client instanceof Cluster ? client.nodes('master') : [client];
    const match = `{${prefix.replace(/[*?[\]\\]/g, '\\$&')}:p*`;
    for (const server of servers) {
      for await (const keys of server.scanBufferStream({ match, count: SCAN_COUNT }) as AsyncIterable<
        Buffer[]
      >) {
        if (keys.length === 0) continue;
        const pipeline = server.pipeline();
        for (const key of keys) pipeline.getBuffer(key);
        const values = (await pipeline.exec()) ?? [];
        keys.forEach((key, i) => {
          const [error, value] = values[i] ?? [];
          if (error) throw error;
          if (!(value instanceof Buffer)) return; // deleted since the scan
          const keyStart = key.indexOf('}') + 1;
          const bytes = Buffer.concat([key.subarray(keyStart), value.subarray(HEADER)]);
          const keyLength = key.length - keyStart;
          apply({
            op: value[8] === 1 ? LogOp.Tombstone : LogOp.Put,
            version: value.readDoubleLE(0),
            hash: value.readUInt32LE(9),
            bytes,
            keyStart: 0,
            keyLength,
            valueStart: keyLength,
            valueLength: value.length - HEADER,
          });
          recovered.records++;
          recovered.bytes += key.length + value.length;
        });
      }
      recovered.files++;
    }
    recovered.ms = performance.now() - started;
    return { journal, recovered };
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
    const name = Buffer.concat([
      Buffer.from(`{${this.#prefix}:p${partition}}`),
      key.subarray(keyStart, keyStart + keyLength),
    ]);
    if (op !== LogOp.Put && op !== LogOp.Tombstone) {
      this.#queued.push({ partition, key: name, value: null });
      return;
    }
    const record = Buffer.allocUnsafe(HEADER + valueLength);
    record.writeDoubleLE(version, 0);
    record[8] = op === LogOp.Tombstone ? 1 : 0;
    record.writeUInt32LE(hash >>> 0, 9);
    if (value !== null && valueLength > 0)
      record.set(value.subarray(valueStart, valueStart + valueLength), HEADER);
    this.#queued.push({ partition, key: name, value: record });
  }

  commit(done: (error?: Error) => void): void {
    const queued = this.#queued;
    this.#queued = [];
    const sent = queued.length === 0 ? Promise.resolve() : this.#send(queued);
    this.#tail = this.#tail.then(() =>
      sent.then(
        () => done(),
        (error: Error) => done(error),
      ),
    );
  }

  /** Sends a commit's commands: one pipeline, or in a cluster one per partition. */
  async #send(queued: Queued[]): Promise<void> {
    const groups = new Map<number, Queued[]>();
    if (this.#client instanceof Cluster) {
      for (const write of queued) {
        let group = groups.get(write.partition);
        if (group === undefined) groups.set(write.partition, (group = []));
        group.push(write);
      }
    } else groups.set(0, queued);
    await Promise.all(
      [...groups.values()].map(async (writes) => {
        const pipeline = this.#client.pipeline();
        for (const { key, value } of writes) {
          if (value === null) pipeline.del(key);
          else pipeline.set(key, value);
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
