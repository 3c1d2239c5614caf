/**
 * One cell of the benchmark matrix: GET or PUT `/kv/{key}` on keys drawn at random from
 * uuid keys, at some connections, value size and node count, measured on a ThunderDB
 * cluster and on a bare uWS app answering the same sizes, in runs interleaved A B A B.
 * Shared by `npm run bench:matrix` (bench/matrix.ts) and `npm run bench:ci` (bench/ci.ts),
 * so the CI check measures exactly what the matrix's row of the same name shows.
 */
import { readFile } from 'node:fs/promises';
import type { FrontEndName } from '../../src/http/front-ends.js';
import { uuidFile } from './data.js';
import { sustained, type LoadResult, type LoadSpec } from './load-generator.js';
import type { Observed, Placement } from './placement.js';
import { startBare, startCluster, type ServerProcess, type Topology } from './processes.js';
import { spread, type Spread } from './stats.js';

/** The value sizes the issue names, by label. */
export const SIZES: Readonly<Record<string, number>> = {
  '100B': 100,
  '1KiB': 1024,
  '64KiB': 64 * 1024,
  '1MiB': 1024 * 1024,
};

/** `100B`, `1KiB`, `64KiB`, `1MiB`, or the byte count for any other size. */
export function sizeLabel(bytes: number): string {
  return Object.entries(SIZES).find(([, b]) => b === bytes)?.[0] ?? `${bytes}B`;
}

/** Reads a size: `100`, `100B`, `1k`, `1KiB`, `64k`, `1m`, `1MiB` (k and m are binary). */
export function parseSize(text: string): number {
  const m = /^(\d+)\s*(b|k|kb|kib|m|mb|mib)?$/i.exec(text.trim());
  if (!m) throw new RangeError(`not a size: ${JSON.stringify(text)} (e.g. 100, 1k, 64k, 1m)`);
  const unit = (m[2] ?? 'b').toLowerCase()[0];
  return Number(m[1]) * (unit === 'k' ? 1024 : unit === 'm' ? 1024 * 1024 : 1);
}

export type Method = 'GET' | 'PUT';

export interface Cell {
  method: Method;
  connections: number;
  valueBytes: number;
  nodes: number;
  /** Copies of each key: 1 measures the data path, 3 replication's cost. */
  replicas: number;
}

/**
 * A cell's name: `GET/c100/100B/n3`, and `GET/c100/100B/n3/r3` with replicas. `--cells`
 * patterns match it, `*` standing for any field.
 */
export function cellId(c: Cell): string {
  const copies = c.replicas === 1 ? '' : `/r${c.replicas}`;
  return `${c.method}/c${c.connections}/${sizeLabel(c.valueBytes)}/n${c.nodes}${copies}`;
}

/** Reads a cell's name (`GET/c100/64KiB/n3`, `PUT/c1/100B/n3/r3`), as {@link cellId} writes it. */
export function parseCellId(id: string): Cell {
  const m = /^(GET|PUT)\/c(\d+)\/([^/]+)\/n(\d+)(?:\/r(\d+))?$/i.exec(id.trim());
  if (!m) throw new RangeError(`not a cell name: ${JSON.stringify(id)} (e.g. GET/c100/64KiB/n3/r3)`);
  return {
    method: m[1]!.toUpperCase() as Method,
    connections: Number(m[2]),
    valueBytes: parseSize(m[3]!.replace(/iB$/i, '')),
    nodes: Number(m[4]),
    replicas: Number(m[5] ?? 1),
  };
}

/** True when `id` matches one of `patterns` (`GET/c100/64KiB/*`: each field exact or `*`, any case). */
export function matchesAny(id: string, patterns: string[]): boolean {
  const fields = id.toLowerCase().split('/');
  return patterns.some((p) => {
    const want = p.toLowerCase().split('/');
    return want.length === fields.length && want.every((w, i) => w === '*' || w === fields[i]);
  });
}

/** How each cell is measured. */
export interface CellOptions {
  /** Pairs of runs (bare, ours) per cell. */
  runs: number;
  /** Seconds per run (wrk takes whole seconds). */
  seconds: number;
  /** Seconds of unmeasured load on each server before a cell's runs; 0 for none. */
  warmup: number;
  /** uuid keys in the key set (≥ 100,000 for the issue's figures). */
  keys: number;
  /**
   * Most bytes of values to preload for one cell group: large values use fewer keys
   * (100,000 × 1 MiB would be 100 GiB), `min(keys, budget ÷ size)` of them.
   */
  valueBudget: number;
  placement: Placement;
  /**
   * The front end the cluster serves with (`--http`), measured against the bare server of
   * the same kind. Unset: the cluster's default, against bare uWS (also for older builds,
   * which lack `--http`).
   */
  frontEnd?: FrontEndName;
  /** Another build's `dist/src/cli.js` to measure instead of this one (an A/B against a reference). */
  cli?: string;
}

/** One server's figures over a cell's runs: req/s, and latency in ms. */
export interface Side {
  rps: Spread;
  p50: Spread;
  p99: Spread;
  p999: Spread;
}

export interface CellResult extends Cell {
  id: string;
  /** Keys the requests were drawn from. */
  keys: number;
  ours: Side;
  bare: Side;
  /** ours ÷ bare req/s, pair by pair: higher is better. */
  ratio: Spread;
  /** ours ÷ bare p50 latency, pair by pair: lower is better. */
  p50Ratio: Spread;
  /** Set instead of figures when the cell could not be measured. */
  error?: string;
}

/** A cell group shares one cluster and one bare app: same node count, same value size. */
export interface GroupResult extends Topology {
  valueBytes: number;
  keys: number;
  preloadSeconds: number;
  /** Where the bare server, the cluster and wrk were found running. */
  placed: Observed[];
  cells: CellResult[];
}

/** Keys a group of this value size draws from. */
export function keysFor(valueBytes: number, options: Pick<CellOptions, 'keys' | 'valueBudget'>): number {
  return Math.min(options.keys, Math.max(1, Math.floor(options.valueBudget / valueBytes)));
}

/** The first `n` keys (first fields) of a `key value` file. */
export async function firstKeys(file: string, n: number): Promise<string[]> {
  const text = await readFile(file, 'latin1');
  const keys: string[] = [];
  let from = 0;
  while (keys.length < n) {
    const nl = text.indexOf('\n', from);
    if (nl < 0) break;
    keys.push(text.slice(from, text.indexOf(' ', from)));
    from = nl + 1;
  }
  if (keys.length < n) throw new Error(`${file} has ${keys.length} lines, fewer than ${n}`);
  return keys;
}

const PRELOAD_BODY_BYTES = 8 << 20;

/** Stores `keys` with values of `valueBytes` bytes through `POST /kv` text/plain batches. */
export async function preload(url: string, keys: string[], valueBytes: number): Promise<void> {
  const value = Buffer.alloc(valueBytes, 'v');
  const send = async (parts: Buffer[], lines: number) => {
    const res = await fetch(`${url}/kv`, {
      method: 'POST',
      headers: { 'Content-Type': 'text/plain' },
      body: Buffer.concat(parts),
    });
    const answer = await res.text();
    if (res.status !== 200 || JSON.parse(answer).written !== lines) {
      throw new Error(`preload of ${lines} lines answered ${res.status}: ${answer.slice(0, 300)}`);
    }
  };
  let parts: Buffer[] = [];
  let bytes = 0;
  let lines = 0;
  for (const key of keys) {
    parts.push(Buffer.from(`${key} `, 'latin1'), value, Buffer.from('\n'));
    bytes += key.length + valueBytes + 2;
    lines++;
    if (bytes >= PRELOAD_BODY_BYTES) {
      await send(parts, lines);
      parts = [];
      bytes = 0;
      lines = 0;
    }
  }
  if (lines > 0) await send(parts, lines);
}

/** GETs `path` and checks the body has `valueBytes` bytes: both servers answer what the cell says. */
export async function checkAnswer(url: string, path: string, valueBytes: number): Promise<void> {
  const res = await fetch(url + path);
  const body = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200 || body.length !== valueBytes) {
    throw new Error(`GET ${url}${path} answered ${res.status} with ${body.length} bytes, not ${valueBytes}`);
  }
}

export function side(results: LoadResult[]): Side {
  return {
    rps: spread(results.map((r) => r.rps)),
    p50: spread(results.map((r) => r.p50)),
    p99: spread(results.map((r) => r.p99)),
    p999: spread(results.map((r) => r.p999)),
  };
}

/** The wrk load of one cell against the server at `url`, for `seconds`: what every run of it asks. */
export function cellLoad(
  cell: Cell,
  keys: number,
  keyFile: string,
  placement: Placement,
): (url: string, seconds: number) => LoadSpec {
  return (url, seconds) => ({
    url,
    method: cell.method,
    seconds,
    connections: cell.connections,
    keys,
    keyFile,
    valueBytes: cell.valueBytes,
    placement,
  });
}

async function measureCell(
  cell: Cell,
  bare: ServerProcess,
  cluster: ServerProcess,
  keyFile: string,
  keys: number,
  options: CellOptions,
  placed: Observed[],
): Promise<CellResult> {
  const spec = cellLoad(cell, keys, keyFile, options.placement);
  if (options.warmup > 0) {
    await sustained('wrk', spec(bare.url, options.warmup));
    await sustained('wrk', spec(cluster.url, options.warmup));
  }
  const b: LoadResult[] = [];
  const o: LoadResult[] = [];
  for (let run = 0; run < options.runs; run++) {
    b.push(await sustained('wrk', spec(bare.url, options.seconds)));
    o.push(await sustained('wrk', spec(cluster.url, options.seconds)));
  }
  if (placed.every((p) => p.role !== 'wrk') && o[0]!.placed) placed.push(o[0]!.placed);
  return {
    ...cell,
    id: cellId(cell),
    keys,
    ours: side(o),
    bare: side(b),
    ratio: spread(o.map((r, i) => r.rps / b[i]!.rps)),
    p50Ratio: spread(o.map((r, i) => r.p50 / b[i]!.p50)),
  };
}

/**
 * Measures `cells` (all of one topology and `valueBytes` values) on one fresh cluster and
 * one bare server of its front end's kind (uWS unless `options.frontEnd` says), both placed
 * as `options.placement` says. A cell that fails is recorded with its error and the rest go
 * on, unless a server has died. `onCell` hears each result.
 */
export async function measureGroup(
  topology: Topology,
  valueBytes: number,
  cells: Cell[],
  options: CellOptions,
  onCell: (r: CellResult) => void = () => {},
): Promise<GroupResult> {
  const keys = keysFor(valueBytes, options);
  const keyFile = await uuidFile(options.keys);
  const { frontEnd } = options;
  const [bare, cluster] = await Promise.all([
    startBare(valueBytes, options.placement, frontEnd),
    startCluster(
      topology,
      frontEnd === undefined ? [] : ['--http', frontEnd],
      options.cli,
      options.placement,
    ),
  ]);
  try {
    const placed = [await bare.placed(), await cluster.placed()];
    const list = await firstKeys(keyFile, keys);
    const start = performance.now();
    await preload(cluster.url, list, valueBytes);
    const preloadSeconds = (performance.now() - start) / 1000;
    await checkAnswer(cluster.url, `/kv/${list[list.length - 1]}`, valueBytes);
    await checkAnswer(bare.url, `/kv/${list[0]}`, valueBytes);
    const results: CellResult[] = [];
    for (const cell of cells) {
      let result: CellResult;
      try {
        result = await measureCell(cell, bare, cluster, keyFile, keys, options, placed);
      } catch (err) {
        const nan = spread([NaN]);
        const none: Side = { rps: nan, p50: nan, p99: nan, p999: nan };
        result = {
          ...cell,
          id: cellId(cell),
          keys,
          ours: none,
          bare: none,
          ratio: nan,
          p50Ratio: nan,
          error: (err as Error).message.split('\n')[0]!,
        };
      }
      results.push(result);
      onCell(result);
      if (result.error && !(await alive(bare, cluster))) break;
    }
    return { ...topology, valueBytes, keys, preloadSeconds, placed, cells: results };
  } finally {
    await Promise.all([bare.stop(), cluster.stop()]);
  }
}

async function alive(...servers: ServerProcess[]): Promise<boolean> {
  try {
    await Promise.all(servers.map((s) => s.rss()));
    return true;
  } catch {
    return false;
  }
}
