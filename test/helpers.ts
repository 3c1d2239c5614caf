import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';

import { request } from 'node:http';

import { createServer } from 'node:net';

import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { fileURLToPath } from 'node:url';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Cluster, type ClusterOptions } from '../src/cluster/cluster.js';
import { frontEndsHere, type FrontEndName } from '../src/http/front-ends.js';
import { startServer, type Server } from '../src/http/server.js';

import { type Limits } from '../src/limits.js';
import { systemClock, type Clock } from '../src/time/clock.js';
import { DEFAULT_LIMITS } from '../src/config.js';
import type { CheckOptions } from '../src/check/results.js';
import { FAULT_KINDS } from '../src/check/schedule.js';

/**
 * The options of every test that talks to servers, threads or processes: a test that hangs
 * fails, named, instead of stalling its file. Generous, since a loaded machine is slow: most
 * of these tests take well under 5 s alone and under 40 s beside two CPU burners and another
 * test file. (Node 20's `--test-timeout` bounds a whole file, not each test, so each test
 * carries its own; a `describe`'s timeout would bound its whole suite as well.)
 */
export const TIMEOUT = { timeout: 120_000 } as const;

/** For the few tests that move hundreds of MiB, or run clusters in child processes, one after another. */
export const LONG_TIMEOUT = { timeout: 600_000 } as const;

/**
 * How long a child process a test runs (the CLI, npm, curl) may live before it is killed: as
 * long as a test may. Only a hang reaches it; a killed child lets its test file end.
 */
export const CHILD_TIMEOUT_MS = TIMEOUT.timeout;

/**
 * Resolves once `condition()` holds, checking every few ms: how a test waits for something
 * it cannot be told of (a thread gone from /proc, a count reached), with no deadline of its
 * own — the test's timeout is the bound. Rejects once `signal` aborts (the test ended or
 * timed out), so no check goes on after its test.
 */
export async function until(condition: () => boolean | Promise<boolean>, signal: AbortSignal): Promise<void> {
  while (!(await condition())) await sleep(5, undefined, { signal });
}

/** Resolves once every operation sent to the cluster's nodes has been answered (or failed). */
export function settled(cluster: Cluster, signal: AbortSignal): Promise<void> {
  return until(() => cluster.pending === 0, signal);
}

/**
 * The system clock's timers, with a wall clock that stands still until the test moves it:
 * expiries and TTLs exact, and expiry without waiting. Starts at the real time.
 */
export function movableClock(): Clock & { advance(ms: number): void } {
  let wall = systemClock.wall();
  return {
    ...systemClock,
    wall: () => wall,
    advance: (ms) => void (wall += ms),
  };
}

/**
 * A clock whose time moves only when the test says ({@link advance}), firing the timers that
 * come due, in order. Its `defer` is the real one, so a cluster on it flushes its batches as
 * usual; its timers (timeouts, purges, sweeps, anti-entropy) wait for the test. Wall time
 * starts at the real time.
 */
export function manualClock(): Clock & { advance(ms: number): void } {
  let now = 0;
  const wallAtZero = systemClock.wall();
  let seq = 0;
  let timers: { at: number; seq: number; fire: () => void }[] = [];
  return {
    now: () => now,
    wall: () => wallAtZero + now,
    setTimer(ms, fire) {
      const timer = { at: now + Math.max(0, ms), seq: seq++, fire };
      timers.push(timer);
      return () => void (timers = timers.filter((t) => t !== timer));
    },
    defer: systemClock.defer,
    advance(ms) {
      const end = now + ms;
      for (;;) {
        const due = timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
        if (due === undefined) break;
        timers = timers.filter((t) => t !== due);
        now = due.at;
        due.fire();
      }
      now = end;
    },
  };
}

/** At most `max` characters of a text, for messages: a failure never dumps a whole body into the log. */
export function excerpt(text: string | Buffer, max = 300): string {
  const s = typeof text === 'string' ? text : text.toString('latin1', 0, max + 1);
  return s.length <= max ? JSON.stringify(s) : `${JSON.stringify(s.slice(0, max))}… (${text.length} in all)`;
}

/** A file in test/fixtures (tests run from dist/test, the fixtures stay in the source tree). */
export function fixture(name: string): string {
  return fileURLToPath(new URL(`../../test/fixtures/${name}`, import.meta.url));
}

/**
 * The HTTP front ends that can serve on this Node: both on Node 20, node:http alone where
 * uWS has no binary. HTTP tests run once per front end: `for (const http of FRONT_ENDS)`.
 * `THUNDERDB_HTTP=uws|node` narrows it to one, to run a test file against one front end.
 */
export const FRONT_ENDS: readonly FrontEndName[] = frontEndsHere().filter(
  (name) => process.env.THUNDERDB_HTTP === undefined || process.env.THUNDERDB_HTTP === name,
);
// A misspelt THUNDERDB_HTTP would run every HTTP test against no front end, and pass.
if (FRONT_ENDS.length === 0) {
  throw new Error(
    `THUNDERDB_HTTP=${process.env.THUNDERDB_HTTP}: no such front end here (${frontEndsHere().join(', ')})`,
  );
}

export interface Running {
  cluster: Cluster;
  server: Server;
  url: string;
  /** Stops the server, then the cluster. */
  stop(): Promise<void>;
}

/**
 * A real cluster (worker threads) behind a real server on an ephemeral port (its own
 * `serverClock`, if given: the cluster's `clock` is the cluster's alone). Register
 * `stop` at once: `after(() => run.stop())` in a suite, `t.after(...)` in a test.
 */
export async function startRunning(
  options: ClusterOptions & {
    limits?: Partial<Limits>;
    serverClock?: Clock;
    http?: FrontEndName;
    checksDir?: string;
  } = {},
): Promise<Running> {
  const cluster = await Cluster.start(options);
  let server: Server;
  try {
    server = await startServer({
      cluster,
      limits: { ...DEFAULT_LIMITS, ...options.limits },
      host: '127.0.0.1',
      port: 0,
      clock: options.serverClock,
      http: options.http ?? FRONT_ENDS[0],
      // Checks the dashboard starts write here: never into the working directory.
      checksDir: options.checksDir ?? join(tmpdir(), 'thunderdb-test-checks'),
    });
  } catch (err) {
    await cluster.close();
    throw err;
  }
  return {
    cluster,
    server,
    url: `http://127.0.0.1:${server.port}`,
    async stop() {
      await server.close(100);
      await cluster.close();
    },
  };
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  text: string;
  /** The body parsed as JSON (undefined when it is not JSON). */
  json: unknown;
}

/**
 * One HTTP request on its own connection (no agent, so nothing stays open after a test).
 * `path` is sent exactly as given: no normalisation of percent-encoding.
 */
export function http(
  url: string,
  method: string,
  path: string,
  body?: string | Buffer,
  headers: Record<string, string> = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(url);
    const req = request({ host: hostname, port, method, path, headers, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (p: Buffer) => parts.push(p));
      res.on('error', reject);
      res.on('end', () => {
        const buf = Buffer.concat(parts);
        const text = buf.toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: buf, text, json });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The `code` of a JSON error body. */
export function codeOf(answer: Answer): string | undefined {
  return (answer.json as { error?: { code?: string } } | undefined)?.error?.code;
}

/** The CLI's built entry. */
export const CLI_PATH = fileURLToPath(new URL('../src/cli.js', import.meta.url));

/**
 * Starts `thunderdb cluster` (with `--http frontEnd`, default the first of FRONT_ENDS; none
 * given when null) on the `node` binary (default this one) and resolves with its URL once it
 * prints the listening line.
 */
export async function startCli(
  args: string[],
  frontEnd: FrontEndName | null = FRONT_ENDS[0]!,
  node = process.execPath,
  nodeOptions: string[] = [],
): Promise<{ child: ChildProcessWithoutNullStreams; url: string; out: () => string }> {
  const http = frontEnd === null ? [] : ['--http', frontEnd];
  const child = spawn(node, [...nodeOptions, CLI_PATH, 'cluster', '--port', '0', ...http, ...args], {
    timeout: CHILD_TIMEOUT_MS,
  });
  let out = '';
  child.stderr.on('data', (d: Buffer) => (out += d));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d;
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match) resolve(match[1]!);
    });
    child.on('exit', (code) => reject(new Error(`cluster exited with ${code}: ${out}`)));
  });
  return { child, url, out: () => out };
}

/** A port nothing listens on: one the kernel just handed out, closed again. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Writes `key` on every replica, trying again every 100 ms while the quorum is not met: after
 * a storage backend came back, each node reconnects in its own time (the test's timeout
 * bounds the wait). Any other failure fails the test.
 */
export async function putOnEveryReplica(cluster: Cluster, key: string, value: string): Promise<void> {
  for (;;) {
    try {
      await cluster.put(key, value, { ...cluster.consistency, w: cluster.ring.replicas });
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== 'QUORUM_NOT_MET') throw err;
      await sleep(100);
    }
  }
}

/**
 * A check's options for a test: the command's defaults in the deterministic mode (seed 1,
 * 3 nodes and replicas, majorities, every fault kind, 5 s simulated), written to a fresh
 * folder, with `overrides` on top.
 */
export async function checkOptions(overrides: Partial<CheckOptions> = {}): Promise<CheckOptions> {
  return {
    seed: 1,
    mode: 'deterministic',
    nodes: 3,
    replicas: 3,
    r: 2,
    w: 2,
    repair: 'sync',
    faults: [...FAULT_KINDS],
    clients: 5,
    keys: 6,
    ops: 100_000,
    timeLimit: 5,
    thinkMs: 10,
    valueBytes: 0,
    timeoutMs: 500,
    convergeMs: 10_000,
    out: await mkdtemp(join(tmpdir(), 'thunderdb-check-')),
    ...overrides,
  };
}

/** Seed 3 of r = w = 1 under partitions, 3 s simulated: not linearizable (a stale read of k0). */
export const STALE_READ_RUN = {
  seed: 3,
  r: 1,
  w: 1,
  faults: ['partition'],
  timeLimit: 3,
} as const satisfies Partial<CheckOptions>;

/**
 * Starts `thunderdb check --url url` with `seed`, no faults, for up to 600 s (a test stops
 * it): the child, killed when the test ends, and the folder its files go to.
 */
export async function startCliCheck(
  t: TestContext,
  url: string,
  seed: number,
): Promise<{ child: ChildProcessWithoutNullStreams; out: string }> {
  const out = await mkdtemp(join(tmpdir(), 'thunderdb-cli-check-'));
  const args = [
    'check',
    '--url',
    url,
    '--seed',
    String(seed),
    '--faults',
    'none',
    '--time-limit',
    '600',
    '--out',
    out,
  ];
  const child = spawn(process.execPath, [CLI_PATH, ...args], { timeout: CHILD_TIMEOUT_MS });
  t.after(() => child.kill());
  return { child, out };
}
