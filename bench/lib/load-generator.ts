import autocannon from 'autocannon';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { decidePlacement, observe, spawnPlaced, type Observed, type Placement } from './placement.js';

const WRK_SCRIPT = fileURLToPath(new URL('../../../bench/wrk-report.lua', import.meta.url));
const WRK_RANDOM = fileURLToPath(new URL('../../../bench/wrk-random.lua', import.meta.url));
const VALUE = 'e8c12114-674b-4f75-a753-c2e1c33ad4bd';

/** Which tool drives sustained load. */
export type Generator = 'autocannon' | 'wrk';

/** Sustained keep-alive load over rotating keys `${prefix}0 … ${prefix}${keys - 1}`. */
export interface LoadSpec {
  url: string;
  method: 'GET' | 'PUT';
  seconds: number;
  connections: number;
  /** Path prefix before the key number. Default `/kv/bench:`. */
  prefix?: string;
  keys: number;
  /**
   * wrk only: draw each request's key at random from the first `keys` lines of this file
   * (`key ...` lines, bench/lib/data.ts) instead of rotating `${prefix}N`.
   */
  keyFile?: string;
  /** PUT body size with `keyFile`. Default 36 (a uuid). */
  valueBytes?: number;
  /** With `keyFile`: the paths before the key of a GET and of a PUT. Default `/kv/` (Webdis: `/GET/`, `/SET/`). */
  paths?: { get: string; put: string };
  /**
   * Where wrk runs (bench/lib/placement.ts); default: where the scheduler puts it. autocannon
   * runs inside the bench's own process, which is never pinned.
   */
  placement?: Placement;
}

/** Throughput and latency (ms) of one run. */
export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  p999: number;
  /** Connection errors plus non-2xx answers: a run with any is not a valid figure. */
  failures: number;
  /** wrk only: where wrk ran. */
  placed?: Observed;
}

async function withAutocannon(spec: LoadSpec): Promise<LoadResult> {
  const prefix = spec.prefix ?? '/kv/bench:';
  let i = 0;
  const result = await autocannon({
    url: spec.url,
    connections: spec.connections,
    duration: spec.seconds,
    requests: [
      {
        method: spec.method,
        body: spec.method === 'PUT' ? VALUE : undefined,
        setupRequest: (req) => ({ ...req, path: prefix + (i++ % spec.keys) }),
      },
    ],
  });
  const latency = result.latency as unknown as Record<string, number>;
  return {
    rps: result.requests.total / (result.duration || spec.seconds),
    p50: latency.p50!,
    p99: latency.p99!,
    p999: latency.p99_9!,
    failures: result.errors + result.non2xx,
  };
}

const UNPLACED = decidePlacement('none', 'shared');

async function withWrk(spec: LoadSpec): Promise<LoadResult> {
  if (spec.method === 'PUT' && spec.keyFile === undefined && spec.valueBytes !== undefined) {
    throw new TypeError('valueBytes needs keyFile: the rotating-key script sends a uuid');
  }
  const env: NodeJS.ProcessEnv = spec.keyFile
    ? {
        BENCH_METHOD: spec.method,
        BENCH_KEY_FILE: spec.keyFile,
        BENCH_KEYS: String(spec.keys),
        BENCH_VALUE_BYTES: String(spec.valueBytes ?? 36),
        BENCH_GET_PATH: spec.paths?.get ?? '/kv/',
        BENCH_PUT_PATH: spec.paths?.put ?? '/kv/',
      }
    : { BENCH_METHOD: spec.method, BENCH_PREFIX: spec.prefix ?? '/kv/bench:', BENCH_KEYS: String(spec.keys) };
  const args = ['-t1', `-c${spec.connections}`, `-d${spec.seconds}s`];
  // A 1 MiB value at 100 connections can take longer than wrk's default 2 s; a timeout would
  // then void the run rather than measure it.
  if (spec.keyFile) args.push('--timeout', '30s');
  args.push('-s', spec.keyFile ? WRK_RANDOM : WRK_SCRIPT, spec.url);
  const child = spawnPlaced(spec.placement ?? UNPLACED, 'generator', 'wrk', args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d));
  child.stderr!.on('data', (d: Buffer) => (stderr += d));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  // Read once wrk has surely exec'd and applied taskset, well before it ends (runs last ≥ 1 s).
  const placed = new Promise<Observed | undefined>((resolve) =>
    setTimeout(() => {
      if (child.exitCode === null) observe('wrk', child.pid!).then(resolve, () => resolve(undefined));
      else resolve(undefined);
    }, 300),
  );
  const [code] = await exited;
  const line = /BENCH_JSON (.*)/.exec(stdout);
  if (code !== 0 || !line) throw new Error(`wrk ${args.join(' ')} exited with ${code}:\n${stdout}${stderr}`);
  const s = JSON.parse(line[1]!) as Record<string, number>;
  return {
    rps: s.requests! / s.seconds!,
    p50: s.p50!,
    p99: s.p99!,
    p999: s.p999!,
    failures: s.errors! + s.non2xx!,
    placed: await placed,
  };
}

/** Runs one sustained load and refuses to report a run that had failures. */
export async function sustained(generator: Generator, spec: LoadSpec): Promise<LoadResult> {
  if (generator === 'autocannon' && spec.keyFile !== undefined) {
    throw new TypeError('random keys from a file need wrk');
  }
  const result = generator === 'wrk' ? await withWrk(spec) : await withAutocannon(spec);
  if (result.failures > 0) {
    throw new Error(`${spec.method} load on ${spec.url} had ${result.failures} failed requests`);
  }
  return result;
}

/** True when `wrk` is on the PATH. */
export async function hasWrk(): Promise<boolean> {
  return (await wrkVersion()) !== null;
}

/** wrk's version line, e.g. `wrk debian/4.1.0-3+b2 [epoll]`; null when wrk is missing. */
export async function wrkVersion(): Promise<string | null> {
  const first = (out: string) =>
    /^wrk .*/m.exec(out)?.[0]?.replace(/\s+Copyright.*$/, '') ?? 'wrk (unknown version)';
  try {
    return first((await promisify(execFile)('wrk', ['--version'])).stdout);
  } catch (err) {
    // wrk --version exits 1 after printing its version; only a missing binary is ENOENT.
    const e = err as NodeJS.ErrnoException & { stdout?: string };
    return e.code === 'ENOENT' ? null : first(e.stdout ?? '');
  }
}
