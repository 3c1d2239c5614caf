import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Cluster, type ClusterOptions } from '../src/cluster/cluster.js';
import { startServer, type Server } from '../src/http/server.js';
import { DEFAULT_LIMITS, type Limits } from '../src/limits.js';
import type { Clock } from '../src/time/clock.js';

/** A file in test/fixtures (tests run from dist/test, the fixtures stay in the source tree). */
export function fixture(name: string): string {
  return fileURLToPath(new URL(`../../test/fixtures/${name}`, import.meta.url));
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
  options: ClusterOptions & { limits?: Partial<Limits>; serverClock?: Clock } = {},
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

/** Starts `thunderdb cluster` and resolves with its URL once it prints the listening line. */
export async function startCli(
  args: string[],
): Promise<{ child: ChildProcessWithoutNullStreams; url: string; out: () => string }> {
  const child = spawn(process.execPath, [CLI_PATH, 'cluster', '--port', '0', ...args], { timeout: 60_000 });
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
