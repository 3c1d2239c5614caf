/**
 * Instructions per GET of a ThunderDB build, counted by valgrind's callgrind: a regression
 * instrument that the other processes on a shared machine do not move, where wall-clock
 * A/B pairs spread 3–16 % (issue 20).
 *
 * The cluster runs under `valgrind --tool=callgrind` with instrumentation off until it is
 * preloaded and warmed up (uninstrumented code runs several times faster); then
 * instrumentation goes on, a second warm-up lets valgrind translate the hot paths, the
 * counters are zeroed, exactly `gets` GETs of a fixed key sequence go over one keep-alive
 * connection one at a time from this process (outside valgrind), and the counters are
 * dumped. Valgrind runs one thread at a time and callgrind sums every thread into the dump:
 * the front end, the node threads, V8's and libuv's helpers all count.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { readDump } from './callgrind-dump.js';
import { preload } from './cells.js';

const run = promisify(execFile);

/** What one measurement does; every field has a default in {@link INSTRUCTION_DEFAULTS}. */
export interface InstructionOptions {
  /** GETs counted. */
  gets: number;
  /** GETs before instrumentation goes on, so the JIT has settled (5,000 left it 20 % off). */
  warmup: number;
  /** Connections the warm-up GETs are spread over. */
  warmupConnections: number;
  /** GETs one at a time after those, before instrumentation goes on: what the counted GETs do. */
  sequentialWarmup: number;
  /** GETs after instrumentation is on and before the counters are zeroed: valgrind translates the hot code. */
  instrumentedWarmup: number;
  /** Keys preloaded (deterministic uuid-shaped keys); the GETs cycle through them. */
  keys: number;
  valueBytes: number;
  nodes: number;
  replicas: number;
  /** Flags for the cluster's Node process (V8's or Node's), before the script. */
  nodeFlags: string[];
  /** Counted windows of `gets` GETs each per cluster; the median one is the measurement. */
  windows: number;
}

/**
 * 10,000 keys of 100 B on 3 nodes, 1 replica (the data path's own cost, as bench:ci's p50
 * at one connection); 3 windows of 2,000 GETs after 22,500 of warm-up (about 32 s in all).
 * Node flags: V8 compiles and collects on the thread that asks (`--single-threaded`), so
 * that work falls under the functions counted apart ({@link APART}) and not on helper
 * threads, and its hashes are seeded.
 */
export const INSTRUCTION_DEFAULTS: InstructionOptions = {
  gets: 2000,
  warmup: 20_000,
  instrumentedWarmup: 500,
  warmupConnections: 8,
  sequentialWarmup: 2000,
  keys: 10_000,
  valueBytes: 100,
  nodes: 3,
  replicas: 1,
  nodeFlags: ['--single-threaded', '--hash-seed=1', '--random-seed=1'],
  windows: 3,
};

/**
 * Work that a window catches whole or not at all, depending on where it falls: a scavenge
 * of one of the isolates (about 3 M instructions, one per ~1,000 GETs) or an optimizing
 * compile of a function that tiered up late (5–10 M). Counted apart, so the rest is the
 * GETs' own code; the allocation that makes the GC run is still in it.
 */
const APART: Record<string, RegExp> = {
  gc: /^v8::internal::Heap::CollectGarbage\(/,
  compile: /^v8::internal::Compiler::CompileOptimized\(/,
};

/** Instructions per GET of one counted window. */
export interface WindowCount {
  /** Every instruction of every thread. */
  total: number;
  /** Less garbage collection and optimizing compiles ({@link APART}). */
  own: number;
}

/** One measurement of one build. */
export interface InstructionCount {
  /** The median window's own instructions per GET. */
  perGet: number;
  windows: WindowCount[];
  /** Wall time of the whole measurement, start to stop of the cluster. */
  seconds: number;
}

/** The `n`-th deterministic key: uuid-shaped, so keys look like the benches' (36 bytes). */
export function fixedKey(n: number): string {
  const h = createHash('sha1').update(`thunderdb-instructions-${n}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/**
 * Counts instructions per GET of the build whose `dist/src/cli.js` is `cli`. Needs
 * valgrind, callgrind_control and vgdb on the PATH.
 */
export async function countGetInstructions(
  cli: string,
  options: Partial<InstructionOptions> = {},
  log: (line: string) => void = () => {},
): Promise<InstructionCount> {
  const o = { ...INSTRUCTION_DEFAULTS, ...options };
  const started = performance.now();
  const lap = (what: string) => log(`${what} at ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const dir = await mkdtemp(join(tmpdir(), 'thunderdb-callgrind-'));
  const prefix = join(dir, 'vgdb');
  const cluster = await startUnderCallgrind(cli, o, dir, prefix);
  lap('started');
  try {
    const keys = Array.from({ length: o.keys }, (_, i) => fixedKey(i));
    // The bare server answers every GET with the same bytes: nothing to load into it.
    if (cli !== BARE_UWS) await preload(cluster.url, keys, o.valueBytes);
    lap('preloaded');
    let next = 0;
    const gets = async (client: KeepAliveClient, n: number) => {
      for (let i = 0; i < n; i++) await client.get(`/kv/${keys[next++ % keys.length]}`, o.valueBytes);
    };
    // Warm-up from several connections at once: under valgrind a lone GET waits on thread
    // switches, so turns that serve several go faster (20,000 GETs: 10 s, not 15).
    const crowd = await Promise.all(
      Array.from({ length: o.warmupConnections }, () => KeepAliveClient.open(cluster.url)),
    );
    await Promise.all(crowd.map((c) => gets(c, o.warmup / o.warmupConnections)));
    for (const c of crowd) c.close();
    lap('warm');
    // Opened only now: uWS closes a connection idle for 10 s, as it would be during the warm-up.
    const client = await KeepAliveClient.open(cluster.url);
    const windows: WindowCount[] = [];
    try {
      await gets(client, o.sequentialWarmup);
      lap('warm one at a time');
      await control(prefix, cluster.pid, '--instr=on');
      await gets(client, o.instrumentedWarmup);
      lap('instrumented warm');
      for (let w = 1; w <= o.windows; w++) {
        await control(prefix, cluster.pid, '--zero');
        await gets(client, o.gets);
        await control(prefix, cluster.pid, '--dump');
        const { total, inside } = await readDump(join(dir, `callgrind.out.${w}`), APART);
        const apart = Object.values(inside).reduce((a, b) => a + b, 0);
        windows.push({ total: total / o.gets, own: (total - apart) / o.gets });
      }
      lap('counted');
    } finally {
      client.close();
    }
    const own = windows.map((w) => w.own).sort((a, b) => a - b);
    return { perGet: own[own.length >> 1]!, windows, seconds: (performance.now() - started) / 1000 };
  } finally {
    await cluster.kill();
    await rm(dir, { recursive: true, force: true });
  }
}

interface Callgrinded {
  url: string;
  pid: number;
  kill(): Promise<void>;
}

/** The bare uWS server (bench/bare-uws.ts): pass it as `cli` to count what HTTP alone costs per GET. */
export const BARE_UWS = fileURLToPath(new URL('../bare-uws.js', import.meta.url));

/** `thunderdb cluster` as counted: the build's CLI and the topology. */
function clusterArgs(cli: string, o: InstructionOptions): string[] {
  return [
    cli,
    'cluster',
    '--port',
    '0',
    '--nodes',
    String(o.nodes),
    '--replicas',
    String(o.replicas),
    // No periodic repair work: what a timer does depends on wall time, which valgrind stretches.
    '--anti-entropy-ms',
    '0',
  ];
}

async function startUnderCallgrind(
  cli: string,
  o: InstructionOptions,
  dir: string,
  prefix: string,
): Promise<Callgrinded> {
  const child: ChildProcess = spawn(
    'valgrind',
    [
      '--tool=callgrind',
      // The cluster is one process (nodes are threads); nothing it starts is ours to count.
      '--trace-children=no',
      '--instr-atstart=no',
      `--callgrind-out-file=${join(dir, 'callgrind.out')}`,
      `--vgdb-prefix=${prefix}`,
      // callgrind_control reaches the process through vgdb; while the event loop sleeps in
      // epoll_wait, vgdb wakes it with ptrace after this long.
      '--vgdb=yes',
      process.execPath,
      // What `npm run cluster` and the bin run with (bench/lib/processes.ts).
      '--max-semi-space-size=2',
      ...o.nodeFlags,
      ...(cli === BARE_UWS ? [cli] : clusterArgs(cli, o)),
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      // The bare server answers GETs with a value of the size the cluster's would be.
      env: cli === BARE_UWS ? { ...process.env, BARE_VALUE_BYTES: String(o.valueBytes) } : process.env,
    },
  );
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d;
      const match = /(?:listening on|bare uWS on) (http:\/\/\S+)/.exec(out);
      if (match) resolve(match[1]!);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) =>
      reject(new Error(`the cluster under valgrind exited with ${code}:\n${out}`)),
    );
  });
  // Under valgrind the uWS native binary could fail to load; its imitation would be measured instead.
  if (/FALLBACK/.test(out)) throw new Error('uWebSockets.js fell back to its JavaScript imitation');
  return {
    url,
    pid: child.pid!,
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      // SIGKILL: the measurement is dumped already; a graceful stop would only write another file.
      child.kill('SIGKILL');
      await once(child, 'exit');
    },
  };
}

/** Runs `callgrind_control <command> <pid>`, which reaches the process through vgdb. */
async function control(prefix: string, pid: number, command: string): Promise<void> {
  await run('callgrind_control', [`--vgdb-prefix=${prefix}`, command, String(pid)]);
}

/**
 * One keep-alive HTTP/1.1 connection sending the same bytes per request every time (unlike
 * fetch, no headers vary), one request at a time: each GET is its own event-loop turn
 * in the cluster, so batching does not depend on timing.
 */
class KeepAliveClient {
  readonly #socket: Socket;
  #buffer: Buffer = Buffer.alloc(0);
  #waiting: (() => void) | null = null;
  #failed: Error | null = null;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', (d: Buffer) => {
      this.#buffer = this.#buffer.length === 0 ? d : Buffer.concat([this.#buffer, d]);
      this.#waiting?.();
    });
    const fail = (err: Error) => {
      this.#failed = err;
      this.#waiting?.();
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('the cluster closed the connection')));
  }

  static async open(url: string): Promise<KeepAliveClient> {
    const { hostname, port } = new URL(url);
    const socket = connect({ host: hostname, port: Number(port), noDelay: true });
    await once(socket, 'connect');
    return new KeepAliveClient(socket);
  }

  /** GETs `path` and checks it answers 200 with `bodyBytes` bytes. */
  async get(path: string, bodyBytes: number): Promise<void> {
    this.#socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    for (;;) {
      if (this.#failed) throw this.#failed;
      const end = this.#buffer.indexOf('\r\n\r\n');
      if (end >= 0) {
        const head = this.#buffer.subarray(0, end).toString('latin1');
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1]);
        if (!head.startsWith('HTTP/1.1 200') || length !== bodyBytes) {
          throw new Error(
            `GET ${path} answered ${head.split('\r\n')[0]} with ${length} bytes, not ${bodyBytes}`,
          );
        }
        if (this.#buffer.length >= end + 4 + length) {
          if (this.#buffer.length > end + 4 + length) throw new Error(`GET ${path}: bytes after the answer`);
          this.#buffer = Buffer.alloc(0);
          return;
        }
      }
      await new Promise<void>((resolve) => (this.#waiting = resolve));
      this.#waiting = null;
    }
  }

  close(): void {
    this.#socket.destroy();
  }
}

/** True when valgrind (with callgrind_control) is installed: Debian package `valgrind`. */
export async function hasValgrind(): Promise<boolean> {
  const found = (command: string) =>
    new Promise<boolean>((resolve) =>
      execFile('sh', ['-c', `command -v ${command}`], (err) => resolve(err === null)),
    );
  return (await found('valgrind')) && (await found('callgrind_control'));
}
