import { createHash } from 'node:crypto';
import { Client } from 'memjs';
import { LogOp, type LogOpCode, type LogRecord, type Recovered, type StorageStats } from './journal.js';
import { Log, type FsyncMode } from './log.js';
import type { ValueBackend, ValueNeed } from './values.js';

/** A record's reference in the log: the expiry (f64, Unix ms; 0: never), then the value's length (u32). */
const REF = 12;
/** Bytes of the version before a value in memcached. */
const VERSION = 8;

/** How long commands may wait with none answered before they fail (and their client is replaced). */
const COMMAND_MS = 15_000;

/**
 * A memjs client for `servers`: one attempt per command (a write sent twice could land after
 * a later one; the coordinator's timeout and the node's error answer what a lost memcached
 * means), a silent logger, and a request counter that wraps as the protocol's u32 does
 * (memjs's goes negative after 2^31 commands, and every command then throws).
 */
function connect(servers: string): Client {
  const client = Client.create(servers, {
    retries: 1,
    timeout: 2,
    keepAlive: true,
    logger: { log: () => {} },
  });
  const counter = client as unknown as { seq: number; incrSeq(): void };
  counter.incrSeq = function (this: { seq: number }) {
    this.seq = (this.seq + 1) % 0x100000000;
  };
  return client;
}

/**
 * `promise`, or a rejection after {@link COMMAND_MS}: memjs leaves a command unsettled for ever
 * when the server closes the connection while it waits (for the start-up checks, one command
 * each).
 */
function bounded<T>(promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`memcached did not answer within ${COMMAND_MS} ms`)),
      COMMAND_MS,
    );
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** A value written and not yet acknowledged by memcached: reads are served from it meanwhile. */
interface Pending {
  version: number;
  bytes: Buffer;
}

/** A write waiting for the next commit: a value to set (version, then bytes), or one to delete. */
interface Queued {
  name: string;
  item: string;
  set: Buffer | null;
  pending?: Pending;
}

/**
 * A node's values in memcached, and its records in a log of its own (`--storage memcached`
 * needs `--data-dir`): memcached may evict any item and cannot list its keys, so what must
 * not be lost (each key's version, kind, expiry, the value's length) is journaled in the log,
 * as `--storage log` journals whole records (LogOp.PutRef: the reference, not the bytes), and
 * only the values go to memcached.
 *
 * An item is named `<prefix>:<base64url sha1 of the key>` (memcached keys are at most 250
 * bytes; ThunderDB's, 64 KiB) and holds the version, then the value: a read checks the
 * version, so a value evicted, or overwritten by a write that failed and was sent again, is
 * found lost, never taken for the record's. A write is acknowledged once the log holds its
 * record (as `--fsync` says) and memcached has stored its value.
 */
export class MemcachedValues implements ValueBackend {
  readonly #log: Log;
  #client: Client;
  /** The commands waiting on {@link #client}, and when it last answered one. */
  #watch = { waiting: new Set<(error: Error) => void>(), answeredAt: 0 };
  readonly #servers: string;
  readonly #prefix: string;
  readonly #pending = new Map<string, Pending>();
  /** Each key's newest write not yet acknowledged: only it may be sent again after a failure. */
  readonly #newest = new Map<string, Queued>();
  #queued: Queued[] = [];
  /** Writes of commits that failed, sent again with the next commit unless a newer write of the key came. */
  #failed: Queued[] = [];
  /** The commits under way, in order: each answers after the ones before it. */
  #tail: Promise<void> = Promise.resolve();

  private constructor(log: Log, client: Client, servers: string, prefix: string) {
    this.#log = log;
    this.#client = client;
    this.#servers = servers;
    this.#prefix = prefix;
  }

  /** Opens the node's log in `dir`, replays its records through `apply` (values stay in memcached), and connects. */
  static async open(
    dir: string,
    fsync: FsyncMode,
    servers: string,
    prefix: string,
    apply: (record: LogRecord) => void,
  ): Promise<{ journal: MemcachedValues; recovered: Recovered }> {
    const client = connect(servers);
    try {
      await bounded(client.get(`${prefix}:reachable`));
    } catch (err) {
      client.close();
      throw new Error(`cannot reach memcached at ${servers}: ${(err as Error).message}`, { cause: err });
    }
    try {
      const { log, recovered } = Log.open(dir, fsync, (record) => apply(stubOf(record)));
      return { journal: new MemcachedValues(log, client, servers, prefix), recovered };
    } catch (err) {
      client.close();
      throw err;
    }
  }

  /**
   * Runs one command on the client. On a failure, or when commands wait and none has been
   * answered for {@link COMMAND_MS} (a bulk load keeps thousands in flight, so the bound is on
   * progress, not on each command's wait), the client is replaced by a fresh one and every
   * command waiting on it fails: a connection memjs left in a bad state (a request it never
   * settles, a half-read answer in its buffer) is not used again.
   */
  #command<T>(run: (client: Client) => Promise<T>): Promise<T> {
    const client = this.#client;
    const watch = this.#watch;
    if (watch.waiting.size === 0) watch.answeredAt = performance.now();
    return new Promise<T>((resolve, reject) => {
      watch.waiting.add(reject);
      run(client).then(
        (value) => {
          watch.waiting.delete(reject);
          watch.answeredAt = performance.now();
          resolve(value);
        },
        (error: Error) => {
          watch.waiting.delete(reject);
          this.#replace(client, error);
          reject(error);
        },
      );
    });
  }

  /** Lets go of `client` (if still in use) and fails what waits on it; the next command connects afresh. */
  #replace(client: Client, error: Error): void {
    if (this.#client !== client) return;
    const { waiting } = this.#watch;
    this.#watch = { waiting: new Set(), answeredAt: performance.now() };
    this.#client = connect(this.#servers);
    client.close();
    for (const reject of waiting) reject(error);
  }

  /** Fails the commands of a client that has answered none of them for {@link COMMAND_MS}. */
  readonly #watchdog = setInterval(() => {
    const watch = this.#watch;
    if (watch.waiting.size > 0 && performance.now() - watch.answeredAt > COMMAND_MS) {
      this.#replace(this.#client, new Error(`memcached answered nothing for ${COMMAND_MS} ms`));
    }
  }, COMMAND_MS / 4).unref();

  /**
   * Refuses memcached servers whose largest item (`-I`, `item_size_max`) cannot hold a value of
   * `maxValueBytes` with its version and name: such a write would fail on every try.
   */
  static async checkServers(servers: string, maxValueBytes: number): Promise<void> {
    const client = connect(servers);
    try {
      const count = servers.split(',').length;
      const asked = new Promise<{ server: string; max: number }[]>((resolve, reject) => {
        const found: { server: string; max: number }[] = [];
        client.statsWithKey('settings', (error, server, stats) => {
          if (error) return reject(new Error(`cannot reach memcached at ${server}: ${error.message}`));
          found.push({ server, max: Number(stats?.item_size_max ?? 0) });
          if (found.length === count) resolve(found);
        });
      });
      const limits = await bounded(asked).catch((err: Error) => {
        throw new Error(`cannot reach memcached at ${servers}: ${err.message}`, { cause: err });
      });
      // An item holds its name (up to 250 bytes), flags and CAS besides the value and version.
      const needed = maxValueBytes + VERSION + 512;
      for (const { server, max } of limits) {
        if (!(max >= needed)) {
          throw new RangeError(
            `memcached at ${server} stores items of at most ${max} bytes; --max-value-bytes ${maxValueBytes} needs ${needed}: start it with -I ${Math.ceil(needed / 1048576)}m, or lower --max-value-bytes`,
          );
        }
      }
    } finally {
      client.close();
    }
  }

  /** The memcached item of a key (its bytes as a byte string). */
  #itemOf(name: string): string {
    return `${this.#prefix}:${createHash('sha1').update(name, 'latin1').digest('base64url')}`;
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
    const name = Buffer.from(key.buffer, key.byteOffset + keyStart, keyLength).toString('latin1');
    const item = this.#itemOf(name);
    if (op !== LogOp.Put && op !== LogOp.PutExpiring) {
      // A tombstone, a purge or a drop: the record says so; the value, if any, goes.
      this.#log.append(op, hash, version, key, keyStart, keyLength);
      this.#pending.delete(name);
      this.#queue({ name, item, set: null });
      return;
    }
    const envelope = op === LogOp.PutExpiring ? 8 : 0;
    const ref = Buffer.allocUnsafe(REF);
    ref.writeDoubleLE(
      envelope === 0 ? 0 : new DataView(value!.buffer, value!.byteOffset + valueStart, 8).getFloat64(0, true),
      0,
    );
    ref.writeUInt32LE(valueLength - envelope, 8);
    this.#log.append(LogOp.PutRef, hash, version, key, keyStart, keyLength, ref, 0, REF);
    const stored = Buffer.allocUnsafe(VERSION + valueLength - envelope);
    stored.writeDoubleLE(version, 0);
    stored.set(value!.subarray(valueStart + envelope, valueStart + valueLength), VERSION);
    const pending: Pending = { version, bytes: stored.subarray(VERSION) };
    this.#pending.set(name, pending);
    this.#queue({ name, item, set: stored, pending });
  }

  #queue(write: Queued): void {
    this.#newest.set(write.name, write);
    this.#queued.push(write);
  }

  pending(name: string, version: number): Buffer | undefined {
    const pending = this.#pending.get(name);
    return pending !== undefined && pending.version === version ? pending.bytes : undefined;
  }

  read(needs: readonly ValueNeed[], done: (error: Error | null, values: (Buffer | null)[]) => void): void {
    Promise.all(
      needs.map(async ({ name, version }) => {
        const { value } = await this.#command((client) => client.get(this.#itemOf(name)));
        // Evicted, or another version's: this record's value is lost.
        return value !== null && value.length >= VERSION && value.readDoubleLE(0) === version
          ? value.subarray(VERSION)
          : null;
      }),
    ).then(
      (values) => done(null, values),
      (error: Error) => done(error, []),
    );
  }

  commit(done: (error?: Error) => void): void {
    const queued = this.#queued;
    this.#queued = [];
    if (this.#failed.length > 0) {
      // Writes of earlier commits that failed go again beside this one, not as part of it
      // (their callers heard already): a value only while it is still its key's newest,
      // as memcached has no versions of its own to refuse an older one with; a delete never,
      // as an item left behind can never pass a read's version check.
      const failed = this.#failed;
      this.#failed = [];
      const again = failed.filter((write) => {
        if (this.#newest.get(write.name) !== write) return false;
        if (write.set !== null) return true;
        this.#newest.delete(write.name);
        return false;
      });
      if (again.length > 0) void this.#send(again);
    }
    const logged = new Promise<Error | undefined>((resolve) => this.#log.commit(resolve));
    const sent = queued.length === 0 ? Promise.resolve(undefined) : this.#send(queued);
    const outcome = Promise.all([logged, sent]).then(([a, b]) => a ?? b);
    this.#tail = this.#tail.then(async () => done(await outcome));
  }

  /** Sends writes; settles as the error, never rejects (see {@link commit}). */
  #send(queued: Queued[]): Promise<Error | undefined> {
    return Promise.all(
      queued.map(({ item, set }) =>
        this.#command((client) => (set === null ? client.delete(item) : client.set(item, set))),
      ),
    ).then(
      () => {
        // memcached holds these now: reads of them go there, unless a newer write came.
        for (const write of queued) {
          const { name, pending } = write;
          if (pending !== undefined && this.#pending.get(name) === pending) this.#pending.delete(name);
          if (this.#newest.get(name) === write) this.#newest.delete(name);
        }
        return undefined;
      },
      (error: Error) => {
        this.#failed = queued.concat(this.#failed);
        return error;
      },
    );
  }

  stats(recovered: Recovered, recoveredKeys: number): StorageStats {
    return {
      backend: 'memcached',
      servers: this.#servers,
      prefix: this.#prefix,
      fsync: this.#log.fsync,
      logBytes: this.#log.bytes,
      recoveredRecords: recovered.records,
      recoveredKeys,
      replayMs: Math.round(recovered.ms),
    };
  }

  get bytes(): number {
    return this.#log.bytes;
  }

  /**
   * Rewrites the log as `dump`'s records; a value's record comes with its expiry (as an
   * envelope, for a value that expires) and its length, not its bytes, and is logged as its
   * reference.
   */
  merge(dump: (append: ValueBackend['append']) => void): void {
    this.#log.merge((append) =>
      dump((op, hash, version, key, keyStart, keyLength, value = null, valueStart = 0, valueLength = 0) => {
        if (op !== LogOp.Put && op !== LogOp.PutExpiring)
          return append(op, hash, version, key, keyStart, keyLength);
        const envelope = op === LogOp.PutExpiring ? 8 : 0;
        const ref = Buffer.alloc(REF);
        if (envelope !== 0) ref.set(value!.subarray(valueStart, valueStart + 8), 0);
        ref.writeUInt32LE(valueLength - envelope, 8);
        append(LogOp.PutRef, hash, version, key, keyStart, keyLength, ref, 0, REF);
      }),
    );
  }

  async close(): Promise<void> {
    await this.#tail;
    clearInterval(this.#watchdog);
    await this.#log.close();
    this.#client.close();
  }
}

/**
 * A log record as the store replays it: a reference becomes the Put (or, with an expiry, the
 * PutExpiring) it stands for, whose bytes hold the key and the expiry and whose length counts
 * the value left in memcached; the store, whose records keep no values, reads no further.
 */
function stubOf(record: LogRecord): LogRecord {
  if (record.op !== LogOp.PutRef) return record;
  const expiresAt = record.bytes.readDoubleLE(record.valueStart);
  const length = record.bytes.readUInt32LE(record.valueStart + 8);
  return expiresAt === 0
    ? { ...record, op: LogOp.Put, valueLength: length }
    : { ...record, op: LogOp.PutExpiring, valueLength: 8 + length };
}
