import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { connectionPerRequest } from './close-load.js';
import { uuidFile } from './data.js';
import { sustained, type Generator } from './load-generator.js';
import { HOT_KEYS } from './scenarios.js';

/** A peer's figures, or why it was skipped. */
export type PeerResult = { skipped: string } | Record<string, number>;

const run = promisify(execFile);

async function onPath(command: string): Promise<boolean> {
  try {
    await run('sh', ['-c', `command -v ${command}`]);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(check: () => Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not come up within ${ms} ms`);
}

function stop(child: ChildProcess): Promise<unknown> {
  if (child.exitCode !== null) return Promise.resolve();
  child.kill('SIGTERM');
  return once(child, 'exit');
}

/** Writes `SET k v` for every line of a `key value` file in Redis's wire protocol. */
async function respFile(source: string): Promise<string> {
  const path = join(tmpdir(), 'thunderdb-bench', `${source.split('/').pop()}.resp`);
  const out = createWriteStream(path);
  for await (const line of createInterface({ input: createReadStream(source) })) {
    const space = line.indexOf(' ');
    const k = line.slice(0, space);
    const v = line.slice(space + 1);
    out.write(`*3\r\n$3\r\nSET\r\n$${k.length}\r\n${k}\r\n$${v.length}\r\n${v}\r\n`);
  }
  out.end();
  await once(out, 'finish');
  return path;
}

async function redisInfo(port: number, field: string): Promise<number> {
  const { stdout } = await run('redis-cli', ['-p', String(port), 'info', 'memory']);
  return Number(new RegExp(`${field}:(\\d+)`).exec(stdout)![1]);
}

/** Redis: 1M uuid pairs through `redis-cli --pipe`, and its memory per record. */
export async function redis(records: number): Promise<PeerResult> {
  if (!(await onPath('redis-server')) || !(await onPath('redis-cli')))
    return { skipped: 'redis-server not installed' };
  const port = 16379;
  const server = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  try {
    await waitFor(
      async () => (await run('redis-cli', ['-p', String(port), 'ping'])).stdout.includes('PONG'),
      'redis',
    );
    const resp = await respFile(await uuidFile(records));
    const before = await redisInfo(port, 'used_memory_rss');
    const start = performance.now();
    await run('sh', ['-c', `redis-cli -p ${port} --pipe < ${resp}`], { maxBuffer: 1 << 24 });
    const loadSeconds = (performance.now() - start) / 1000;
    const after = await redisInfo(port, 'used_memory_rss');
    return { loadSeconds, rssBytesPerRecord: (after - before) / records };
  } finally {
    await stop(server);
  }
}

/** Webdis in front of Redis: the same GET load as ours, over HTTP. */
export async function webdis(generator: Generator, seconds: number): Promise<PeerResult> {
  for (const tool of ['webdis', 'redis-server', 'redis-cli']) {
    if (!(await onPath(tool))) return { skipped: `${tool} not installed` };
  }
  const redisPort = 16380;
  const httpPort = 17379;
  const config = join(tmpdir(), 'thunderdb-bench', 'webdis.json');
  await writeFile(
    config,
    JSON.stringify({
      redis_host: '127.0.0.1',
      redis_port: redisPort,
      http_host: '127.0.0.1',
      http_port: httpPort,
      threads: 1,
      daemonize: false,
      verbosity: 0,
    }),
  );
  const redisServer = spawn('redis-server', ['--port', String(redisPort), '--save', ''], { stdio: 'ignore' });
  const web = spawn('webdis', [config], { stdio: 'ignore' });
  try {
    await waitFor(async () => (await fetch(`http://127.0.0.1:${httpPort}/PING`)).ok, 'webdis');
    for (let i = 0; i < HOT_KEYS; i++) {
      await run('redis-cli', [
        '-p',
        String(redisPort),
        'SET',
        `bench:${i}`,
        'e8c12114-674b-4f75-a753-c2e1c33ad4bd',
      ]);
    }
    const r = await sustained(generator, {
      url: `http://127.0.0.1:${httpPort}`,
      method: 'GET',
      seconds,
      connections: 100,
      keys: HOT_KEYS,
      prefix: '/GET/bench:',
    });
    return { getRps: r.rps, getP99: r.p99 };
  } finally {
    await stop(web);
    await stop(redisServer);
  }
}

/**
 * Webdis (one thread) in front of a Redis started for it, loaded with every pair of `file`
 * (`redis-cli --pipe`): its URL, and how to stop both; null when either is not installed.
 */
export async function webdisOver(file: string): Promise<{ url: string; stop(): Promise<void> } | null> {
  for (const tool of ['webdis', 'redis-server', 'redis-cli']) if (!(await onPath(tool))) return null;
  const redisPort = 16381;
  const httpPort = 17381;
  const config = join(tmpdir(), 'thunderdb-bench', 'webdis-storage.json');
  await writeFile(
    config,
    JSON.stringify({
      redis_host: '127.0.0.1',
      redis_port: redisPort,
      http_host: '127.0.0.1',
      http_port: httpPort,
      threads: 1,
      daemonize: false,
      verbosity: 0,
    }),
  );
  const redisServer = spawn(
    'redis-server',
    ['--port', String(redisPort), '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  const web = spawn('webdis', [config], { stdio: 'ignore' });
  const stopBoth = async () => {
    await stop(web);
    await stop(redisServer);
  };
  try {
    await waitFor(async () => (await fetch(`http://127.0.0.1:${httpPort}/PING`)).ok, 'webdis');
    const resp = await respFile(file);
    await run('sh', ['-c', `redis-cli -p ${redisPort} --pipe < ${resp}`], { maxBuffer: 1 << 24 });
  } catch (err) {
    await stopBoth();
    throw err;
  }
  return { url: `http://127.0.0.1:${httpPort}`, stop: stopBoth };
}

/**
 * The original Python ThunderDB from a checkout (its source is not vendored here), started
 * in single-node mode on the small sample; the same connection-per-request GET workload.
 */
export async function original(dir: string | undefined, port: number): Promise<PeerResult> {
  if (!dir) return { skipped: 'no --original DIR given' };
  const server = spawn('python3', ['single_node_server.py', '-d', 'sample_data/data_demo_small.txt'], {
    cwd: dir,
    stdio: 'ignore',
  });
  try {
    const url = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetch(`${url}/ping`)).ok, 'the original ThunderDB', 30_000);
    await waitFor(
      async () => (await fetch(`${url}/get/foo`)).ok,
      'the original ThunderDB sample load',
      30_000,
    );
    const r = await connectionPerRequest(url, ['/get/foo']);
    return { closeLoadSeconds: r.seconds, closeLoadMeanMs: r.meanMs, closeLoadErrors: r.errors };
  } finally {
    await stop(server);
  }
}
