import { ClusterUnreachableError, errorOfAnswer, ThunderHttpError, unreachable } from './errors.js';

import { streamedLines } from './body.js';

import { lineOfRecord, linesOf, recordOfLine, watchEventOf } from './ndjson.js';

import { ifMatchHeader, keySegment, query, versionOf } from './paths.js';

import type {
  AntiEntropyRun,
  BatchResult,
  ClusterStatus,
  Crashed,
  Entry,
  EntryInfo,
  ExportRecord,
  Fault,
  FaultSpec,
  Health,
  ImportResult,
  KeyPage,
  Location,
  MembershipChange,
  Plan,
  PlanRequest,
  Restarted,
  Written,
  WatchEvent,
  WatchOptions,
} from './types.js';
import { DEFAULT_URL } from '../config.js';

/** The largest page `GET /kv` serves, and what `list` asks for. */
export const MAX_PAGE = 1000;

/** Options of a read. */
export interface ReadOptions {
  /** Replicas that must answer (`?r=`). Default: the cluster's `--r`. */
  r?: number;
  /** `sync`: repair stale replicas before answering. Default: the cluster's (`async`). */
  repair?: 'sync' | 'async';
}

/** Options of a delete. */
export interface DeleteOptions {
  /** Replicas that must apply it (`?w=`). Default: the cluster's `--w`. */
  w?: number;
  /**
   * Delete only if the key holds this version: an `etag` (`"123"`), a bare version (`123`)
   * or `*` (any value). Otherwise PRECONDITION_FAILED. Default: unconditional.
   */
  ifMatch?: string | number;
}

/** Options of a write. */
export interface PutOptions extends DeleteOptions {
  /** Seconds until the key expires (decimal, up to 3 places). Default: it never does. */
  ttl?: number;
  /** Write only if the key holds no value (`If-None-Match: *`). Default false. */
  ifAbsent?: boolean;
}

/** Options of a batch write. */
export interface PutManyOptions {
  /** Seconds until every pair expires. Default: they never do. */
  ttl?: number;
  /**
   * How values travel: `text` (default) as JSON strings, so a `Uint8Array` value must be
   * UTF-8 (a TypeError otherwise); `base64` carries any bytes.
   */
  encoding?: 'text' | 'base64';
  /** `stop` (default): the first bad pair ends the batch; `skip`: bad pairs are counted and reported. */
  invalid?: 'stop' | 'skip';
}

/** A value for `put` and `putMany`: bytes, or text stored as its UTF-8 bytes. */
export type Value = Uint8Array | string;

type Pairs = Iterable<readonly [string, Value]> | AsyncIterable<readonly [string, Value]>;
type Records = Iterable<ExportRecord> | AsyncIterable<ExportRecord>;

// ignoreBOM: a value's leading EF BB BF is three of its bytes, not a marker to drop.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * A typed client of a ThunderDB cluster's HTTP API, over the global `fetch`.
 *
 * Failures are thrown: a {@link ThunderHttpError} when the server refused or failed a
 * request (its `code` is the catalogue code), a {@link ClusterUnreachableError} when no
 * answer came. Absence is not a failure where it is an answer: `get` resolves to null and
 * `delete` to false for a key that does not exist.
 *
 * ```ts
 * const db = new ThunderClient('http://127.0.0.1:8080');
 * await db.put('greeting', 'hello', { ttl: 60 });
 * console.log(await db.getText('greeting')); // hello
 * ```
 */
export class ThunderClient {
  /** The cluster's base URL. */
  readonly url: string;

  /** @param url The cluster's base URL. Default `http://127.0.0.1:8080`. */
  constructor(url: string = DEFAULT_URL) {
    // Checked at once, so a typo fails here rather than as "unreachable" later.
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new TypeError(`the cluster's URL must be http:// or https://, got ${JSON.stringify(url)}`);
    }
    this.url = parsed.href.replace(/\/$/, '');
  }

  // ---- keys ----

  /** A key's value, version and remaining TTL; null when the key is absent. */
  async get(key: string, options: ReadOptions = {}): Promise<Entry | null> {
    const answer = await this.#send(
      'GET',
      `/kv/${keySegment(key)}${readQuery(options)}`,
      {},
      'KEY_NOT_FOUND',
    );
    if (answer === null) return null;
    const value = await this.#bytes(answer);
    return { value, ...tagAndTtl(answer.headers) };
  }

  /** A key's value as UTF-8 text (invalid bytes become U+FFFD); null when absent. */
  async getText(key: string, options: ReadOptions = {}): Promise<string | null> {
    const entry = await this.get(key, options);
    return entry === null ? null : new TextDecoder('utf-8', { ignoreBOM: true }).decode(entry.value);
  }

  /** A key's size, version and remaining TTL, without its value; null when absent. */
  async head(key: string, options: ReadOptions = {}): Promise<EntryInfo | null> {
    // A HEAD answer has no body, so a 404 cannot say which one it is: it is the key's.
    const answer = await this.#send('HEAD', `/kv/${keySegment(key)}${readQuery(options)}`, {}, 404);
    if (answer === null) return null;
    return { size: Number(answer.headers.get('content-length') ?? 0), ...tagAndTtl(answer.headers) };
  }

  /** Whether the key holds a value. */
  async has(key: string, options: ReadOptions = {}): Promise<boolean> {
    return (await this.head(key, options)) !== null;
  }

  /**
   * Writes a value (bytes, or text as UTF-8). `ifMatch`/`ifAbsent` make it conditional:
   * PRECONDITION_FAILED when the condition does not hold. Resolves to the version written.
   */
  async put(key: string, value: Value, options: PutOptions = {}): Promise<Written> {
    const headers: Record<string, string> = {};
    if (options.ifMatch !== undefined) headers['If-Match'] = ifMatchHeader(options.ifMatch);
    if (options.ifAbsent) headers['If-None-Match'] = '*';
    const path = `/kv/${keySegment(key)}${query({ ttl: ttlParam(options.ttl), w: options.w })}`;
    const answer = await this.#send('PUT', path, { body: value, headers });
    const etag = answer.headers.get('etag') ?? '';
    return { etag, version: versionOf(etag) };
  }

  /**
   * Deletes a key. Resolves true if it held a value, false if it was absent already (the
   * delete is still written, so a replica holding an old copy cannot bring it back).
   */
  async delete(key: string, options: DeleteOptions = {}): Promise<boolean> {
    const headers: Record<string, string> = {};
    if (options.ifMatch !== undefined) headers['If-Match'] = ifMatchHeader(options.ifMatch);
    const path = `/kv/${keySegment(key)}${query({ w: options.w })}`;
    return (await this.#send('DELETE', path, { headers }, 'KEY_NOT_FOUND')) !== null;
  }

  /**
   * Many keys' values at once, as UTF-8 text (null: absent), in one streamed answer. Each
   * key is fetched once however often it is named.
   */
  async mget(keys: Iterable<string>): Promise<Map<string, string | null>> {
    const named = [...keys];
    const { values } = await this.#json<{ values: Record<string, string | null> }>('POST', '/kv/_mget', {
      keys: named,
    });
    // In the order named (an object puts integer-like keys first), each key once.
    return new Map(named.map((key) => [key, values[key] ?? null]));
  }

  /**
   * One page of the keys starting with `prefix`, in UTF-8 byte order.
   * @param options.after Only keys after this one (the last page's `next`). Default: from the start.
   * @param options.limit Keys per page, 1 to 1000. Default 100 (the server's).
   */
  async listPage(prefix = '', options: { after?: string; limit?: number } = {}): Promise<KeyPage> {
    return this.#json<KeyPage>('GET', `/kv${query({ prefix, after: options.after, limit: options.limit })}`);
  }

  /**
   * Every key starting with `prefix`, in UTF-8 byte order, fetched a page at a time as the
   * loop asks for them. Keys written or deleted meanwhile may or may not appear.
   * @param options.pageSize Keys per request, 1 to 1000. Default 1000.
   */
  async *list(prefix = '', options: { pageSize?: number } = {}): AsyncGenerator<string> {
    let after: string | undefined;
    for (;;) {
      const page = await this.listPage(prefix, { after, limit: options.pageSize ?? MAX_PAGE });
      yield* page.keys;
      if (page.next === null) return;
      after = page.next;
    }
  }

  /**
   * Writes many pairs in one streamed `POST /kv` (NDJSON), read from `pairs` as the upload
   * goes, so the batch can be any size. Not atomic: with `invalid: 'stop'` (the default) a
   * bad pair ends the batch with a ThunderHttpError whose `details.written` counts the pairs
   * stored before it.
   */
  async putMany(pairs: Pairs, options: PutManyOptions = {}): Promise<BatchResult> {
    const base64 = options.encoding === 'base64';
    async function* lines(): AsyncGenerator<string> {
      for await (const [key, value] of pairs) {
        yield JSON.stringify([key, base64 ? toBase64(value) : toText(key, value)]);
      }
    }
    const search = query({
      ttl: ttlParam(options.ttl),
      encoding: base64 ? 'base64' : undefined,
      invalid: options.invalid,
    });
    return this.#batch(`/kv${search}`, lines());
  }

  /**
   * Every live key starting with `prefix`, with its value and expiry, streamed
   * (`GET /export`). In no particular order; a key written meanwhile may or may not appear.
   */
  async *export(prefix = ''): AsyncGenerator<ExportRecord> {
    const answer = await this.#send('GET', `/export${query({ prefix })}`);
    let line = 0;
    try {
      for await (const text of linesOf(answer.body!)) {
        line++;
        if (text !== '') yield recordOfLine(text, `export line ${line}`);
      }
    } catch (err) {
      if (err instanceof SyntaxError) throw err;
      throw unreachable(this.url, err);
    }
  }

  /**
   * The acknowledged changes of the keys under `prefix` (or of `options.key`), in version
   * order, as they happen (`GET /watch`, NDJSON), from `options.since` or from now. A dropped
   * connection, or a cluster that cannot be reached for a while, is resumed from the last
   * version seen, with no gap and no duplicate, waiting 100 ms, then twice as long each time,
   * up to `maxRetryMs`. A since older than the changes the cluster keeps throws
   * HISTORY_COMPACTED (its `details.oldest` says where to watch from after reading again);
   * `options.signal` ends the iteration.
   */
  async *watch(prefix = '', options: WatchOptions = {}): AsyncGenerator<WatchEvent> {
    const { signal, maxRetryMs = 5000 } = options;
    let since = options.since;
    let pause = 100;
    while (!signal?.aborted) {
      const filter = options.key === undefined ? { prefix } : { key: options.key };
      let answer: Response;
      try {
        answer = await this.#send(
          'GET',
          `/watch${query({ ...filter, since, progress: options.progressMs })}`,
          {
            headers: { Accept: 'application/x-ndjson' },
            ...(signal === undefined ? {} : { signal }),
          },
        );
      } catch (err) {
        if (signal?.aborted) return;
        if (!(err instanceof ClusterUnreachableError)) throw err;
        await sleepFor(pause, signal);
        pause = Math.min(pause * 2, maxRetryMs);
        continue;
      }
      try {
        for await (const line of linesOf(answer.body!)) {
          if (line === '') continue;
          const event = watchEventOf(line);
          if (event === null) continue;
          since = event.version;
          pause = 100;
          if (event.type !== 'progress' || options.progress) yield event;
        }
      } catch {
        // Cut mid-stream (a half line, a connection reset): resumed below, from `since`.
        if (signal?.aborted) return;
      }
      // The stream ended (cut for falling behind, a restart, a dropped connection): resume.
      await sleepFor(pause, signal);
      pause = Math.min(pause * 2, maxRetryMs);
    }
  }

  /**
   * Writes records as `export` yields them, with their expiry, in one streamed batch.
   * Records whose `expiresAt` has passed are skipped and counted (`expired`).
   */
  async import(records: Records): Promise<ImportResult> {
    async function* lines(): AsyncGenerator<string> {
      for await (const record of records) yield lineOfRecord(record);
    }
    return this.#batch('/kv?encoding=base64', lines());
  }

  // ---- the cluster ----

  /** `GET /cluster`: the nodes, the ring, the coordinator, faults and limits. */
  cluster(): Promise<ClusterStatus> {
    return this.#json('GET', '/cluster');
  }

  /** Where a key lives: its partition, replicas, their states and versions. */
  locate(key: string): Promise<Location> {
    return this.#json('GET', `/cluster/locate/${keySegment(key)}`);
  }

  /** Starts a node and moves it its share of the data; resolves once done. */
  addNode(): Promise<MembershipChange> {
    return this.#json('POST', '/cluster/nodes');
  }

  /** Hands node `id`'s data over, then stops it; resolves once done. */
  removeNode(id: number): Promise<MembershipChange> {
    return this.#json('DELETE', `/cluster/nodes/${nodeId(id)}`);
  }

  /** What adding a node (`{ add: 1 }`) or removing one (`{ remove: id }`) would move. Nothing moves. */
  plan<C extends PlanRequest>(change: C): Promise<Plan & C> {
    return this.#json('GET', `/cluster/plan${query(change)}`);
  }

  /** Kills node `id`'s thread abruptly: its memory is gone. */
  crash(id: number): Promise<Crashed> {
    return this.#json('POST', `/cluster/nodes/${nodeId(id)}/crash`);
  }

  /** A new thread for node `id` (down), refilled from the replicas; resolves once refilled. */
  restart(id: number): Promise<Restarted> {
    return this.#json('POST', `/cluster/nodes/${nodeId(id)}/restart`);
  }

  /** The faults in force. */
  async faults(): Promise<Fault[]> {
    return (await this.#json<{ faults: Fault[] }>('GET', '/cluster/faults')).faults;
  }

  /** Puts a fault in force; resolves to it as the server holds it, with its id. */
  addFault(spec: FaultSpec): Promise<Fault> {
    return this.#json('POST', '/cluster/faults', spec);
  }

  /** Heals every network fault (a pause runs its course); resolves to how many. */
  async clearFaults(): Promise<number> {
    return (await this.#json<{ healed: number }>('DELETE', '/cluster/faults')).healed;
  }

  /** Heals fault `id`; NOT_FOUND when none has that id. */
  async clearFault(id: number): Promise<void> {
    await this.#json('DELETE', `/cluster/faults/${nodeId(id)}`);
  }

  /** Runs an anti-entropy round now. */
  antiEntropy(): Promise<AntiEntropyRun> {
    return this.#json('POST', '/cluster/anti-entropy');
  }

  /** Every node's state; a NODE_UNAVAILABLE ThunderHttpError (`details.nodes`) when one is not up. */
  health(): Promise<Health> {
    return this.#json('GET', '/health');
  }

  /** The original ThunderDB's liveness answer. */
  ping(): Promise<{ service: string; status: string }> {
    return this.#json('GET', '/ping');
  }

  /** The Prometheus text of `GET /metrics`. */
  async metrics(): Promise<string> {
    return (await this.#send('GET', '/metrics')).text();
  }

  /**
   * Every pair, values as UTF-8 text, in one JSON object (`GET /snapshot`); with `node`,
   * that node's data only. Use `export` for bytes and expiries.
   */
  snapshot(options: { node?: number } = {}): Promise<Record<string, string>> {
    return this.#json('GET', `/snapshot${query({ node: options.node })}`);
  }

  // ---- transport ----

  /**
   * One request. An error answer throws its ThunderHttpError, except one matching `absent`
   * (a catalogue code, or a status for a HEAD, whose answer has no body): that resolves to
   * null. No answer throws a ClusterUnreachableError.
   */
  async #send(method: string, path: string, init?: RequestInit): Promise<Response>;
  async #send(
    method: string,
    path: string,
    init: RequestInit,
    absent: string | number,
  ): Promise<Response | null>;
  async #send(method: string, path: string, init: RequestInit = {}, absent?: string | number) {
    let answer: Response;
    try {
      answer = await fetch(this.url + path, { ...init, method });
    } catch (err) {
      // Only a network failure is the cluster being unreachable; a request that could not
      // be built (a header that is not Latin-1, say) is the caller's error, as it is.
      if (err instanceof TypeError && err.message === 'fetch failed') throw unreachable(this.url, err);
      throw err;
    }
    if (answer.status < 400) return answer;
    if (answer.status === absent) return null;
    const error = errorOfAnswer(answer.status, await this.#text(answer), answer.headers);
    if (error.code === absent) return null;
    throw error;
  }

  /** An answer's text; a connection lost while reading it is the cluster being unreachable. */
  async #text(answer: Response): Promise<string> {
    try {
      return await answer.text();
    } catch (err) {
      throw unreachable(this.url, err);
    }
  }

  /** An answer's bytes; a connection lost while reading them is the cluster being unreachable. */
  async #bytes(answer: Response): Promise<Uint8Array> {
    try {
      return new Uint8Array(await answer.arrayBuffer());
    } catch (err) {
      throw unreachable(this.url, err);
    }
  }

  /** A JSON request (`body` sent as JSON when given) and its JSON answer. */
  async #json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const init: RequestInit =
      body === undefined
        ? {}
        : { body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } };
    const text = await this.#text(await this.#send(method, path, init));
    return (text === '' ? null : JSON.parse(text)) as T;
  }

  /** A streamed NDJSON batch to `path`, and its JSON answer. */
  async #batch<T>(path: string, lines: AsyncIterable<string>): Promise<T> {
    const { body, failure } = streamedLines(lines);
    const init = {
      body,
      duplex: 'half',
      headers: { 'Content-Type': 'application/x-ndjson' },
    } as RequestInit;
    try {
      const text = await this.#text(await this.#send('POST', path, init));
      return JSON.parse(text) as T;
    } catch (err) {
      // The lines' own error (a bad record, say) says more than the upload it broke.
      const failed = failure();
      if (failed !== null && !(err instanceof ThunderHttpError)) throw failed.error;
      throw err;
    }
  }
}

/** `?r=&repair=` of a read. */
function readQuery(options: ReadOptions): string {
  return query({ r: options.r, repair: options.repair });
}

/** The tag, version and TTL headers of a GET or HEAD answer. */
/**
 * A TTL as `?ttl=` takes it: whole milliseconds, so a computed `0.1 * 3` (0.30000000000000004)
 * is the 0.3 it means rather than a 400.
 */
function ttlParam(ttl: number | undefined): string | undefined {
  return ttl === undefined ? undefined : String(Math.round(ttl * 1000) / 1000);
}

function tagAndTtl(headers: Headers): { etag: string; version: number; ttl?: number } {
  const etag = headers.get('etag') ?? '';
  const ttl = headers.get('x-ttl');
  return { etag, version: versionOf(etag), ...(ttl === null ? {} : { ttl: Number(ttl) }) };
}

/** A node or fault id as a path segment; a TypeError for anything but an integer ≥ 0. */
function nodeId(id: number): string {
  if (!Number.isSafeInteger(id) || id < 0) throw new TypeError(`ids are integers from 0, got ${id}`);
  return String(id);
}

function toBase64(value: Value): string {
  return typeof value === 'string'
    ? Buffer.from(value, 'utf8').toString('base64')
    : Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
}

/** A value as text for a `text` batch; bytes that are not UTF-8 cannot be sent so. */
function toText(key: string, value: Value): string {
  if (typeof value === 'string') return value;
  try {
    return utf8.decode(value);
  } catch {
    throw new TypeError(
      `the value of ${JSON.stringify(key)} is not UTF-8: use putMany(…, { encoding: 'base64' })`,
    );
  }
}

/** Waits `ms`, or until `signal` aborts. */
function sleepFor(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
