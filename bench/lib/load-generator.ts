import autocannon from 'autocannon';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const WRK_SCRIPT = fileURLToPath(new URL('../../../bench/wrk-report.lua', import.meta.url));
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
}

/** Throughput and latency (ms) of one run. */
export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  p999: number;
  /** Connection errors plus non-2xx answers: a run with any is not a valid figure. */
  failures: number;
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

async function withWrk(spec: LoadSpec): Promise<LoadResult> {
  const { stdout } = await promisify(execFile)(
    'wrk',
    ['-t1', `-c${spec.connections}`, `-d${spec.seconds}s`, '-s', WRK_SCRIPT, spec.url],
    {
      env: {
        ...process.env,
        BENCH_METHOD: spec.method,
        BENCH_PREFIX: spec.prefix ?? '/kv/bench:',
        BENCH_KEYS: String(spec.keys),
      },
    },
  );
  const line = /BENCH_JSON (.*)/.exec(stdout);
  if (!line) throw new Error(`wrk printed no summary:\n${stdout}`);
  const s = JSON.parse(line[1]!) as Record<string, number>;
  return {
    rps: s.requests! / s.seconds!,
    p50: s.p50!,
    p99: s.p99!,
    p999: s.p999!,
    failures: s.errors! + s.non2xx!,
  };
}

/** Runs one sustained load and refuses to report a run that had failures. */
export async function sustained(generator: Generator, spec: LoadSpec): Promise<LoadResult> {
  const result = generator === 'wrk' ? await withWrk(spec) : await withAutocannon(spec);
  if (result.failures > 0) {
    throw new Error(`${spec.method} load on ${spec.url} had ${result.failures} failed requests`);
  }
  return result;
}

/** True when `wrk` is on the PATH. */
export async function hasWrk(): Promise<boolean> {
  try {
    await promisify(execFile)('wrk', ['--version']);
    return true;
  } catch (err) {
    // wrk --version exits 1 after printing its version; only a missing binary is ENOENT.
    return (err as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}
