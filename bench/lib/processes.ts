import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { FrontEndName } from '../../src/http/front-ends.js';
import { decidePlacement, observe, spawnPlaced, type Observed, type Placement } from './placement.js';

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
/** The bare servers, by the front end each is the ceiling of. */
const BARE = {
  uws: { path: fileURLToPath(new URL('../bare-uws.js', import.meta.url)), name: 'bare uWS' },
  node: { path: fileURLToPath(new URL('../bare-node.js', import.meta.url)), name: 'bare node:http' },
} as const;

/** A server running in its own process, so the load generator never shares its event loop. */
export interface ServerProcess {
  url: string;
  pid: number;
  /** Where the process runs: its CPUs, session, autogroup and cgroup. */
  placed(): Promise<Observed>;
  /** Resident set size of the process, from /proc, in bytes. */
  rss(): Promise<number>;
  stop(): Promise<void>;
}

/** Where servers run when a caller names no placement: as the scheduler decides, in the bench's session. */
const UNPLACED = decidePlacement('none', 'shared');

async function start(
  role: string,
  args: string[],
  pattern: RegExp,
  placement: Placement,
  env: NodeJS.ProcessEnv = {},
): Promise<ServerProcess> {
  const child: ChildProcess = spawnPlaced(placement, 'server', process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d;
      const match = pattern.exec(out);
      if (match) resolve(match[1]!);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}:\n${out}`)));
  });
  if (/FALLBACK/.test(out))
    throw new Error('uWebSockets.js fell back to its JavaScript imitation: figures would be meaningless');
  return {
    url,
    pid: child.pid!,
    placed: () => observe(role, child.pid!),
    rss: () => rssOf(child.pid!),
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

/**
 * The V8 flags `npm run cluster` and the `thunderdb` bin start the cluster with (see
 * package.json and the first line of src/cli.ts): measure what users run.
 */
const CLUSTER_FLAGS = ['--max-semi-space-size=2'];

/**
 * How many nodes a measured cluster has, and how many copies of each key. The benches name
 * the replica count rather than take the default (3 from 3 nodes): the data path's own cost
 * is measured with 1, replication's beside it with 3.
 */
export interface Topology {
  nodes: number;
  /** Undefined: the build's default (for older builds, which lack `--replicas`). */
  replicas: number | undefined;
}

/** A topology's name in printouts: `3 nodes` or `3 nodes, 3 replicas`. */
export function describeTopology({ nodes, replicas }: Topology): string {
  return `${nodes} node${nodes === 1 ? '' : 's'}${replicas !== undefined && replicas > 1 ? `, ${replicas} replicas` : ''}`;
}

/**
 * Starts `thunderdb cluster` on a free port; `cli` runs another build (e.g. an older
 * commit's). Placed as `placement` says; by default where the scheduler puts it.
 */
export function startCluster(
  topology: Topology,
  extra: string[] = [],
  cli = CLI,
  placement = UNPLACED,
): Promise<ServerProcess> {
  const { nodes, replicas } = topology;
  const copies = replicas === undefined ? [] : ['--replicas', String(replicas)];
  return start(
    'cluster',
    [...CLUSTER_FLAGS, cli, 'cluster', '--port', '0', '--nodes', String(nodes), ...copies, ...extra],
    /listening on (http:\/\/\S+)/,
    placement,
  );
}

/**
 * Starts a bare server, the ceiling any server of its kind can reach here: a uWS app
 * (bench/bare-uws.ts) or, with `kind` `node`, a node:http server (bench/bare-node.ts). GET
 * answers `valueBytes` bytes (default: a 36-byte uuid), PUT reads the body and answers 204,
 * as ThunderDB does.
 */
export function startBare(
  valueBytes?: number,
  placement = UNPLACED,
  kind: FrontEndName = 'uws',
): Promise<ServerProcess> {
  const { path, name } = BARE[kind];
  return start(
    name,
    [path],
    new RegExp(`${name} on (http:\\/\\/\\S+)`),
    placement,
    valueBytes === undefined ? {} : { BARE_VALUE_BYTES: String(valueBytes) },
  );
}

/** VmRSS of a process, in bytes. */
export function rssOf(pid: number): Promise<number> {
  return statusBytes(pid, 'VmRSS');
}

/** VmHWM of a process: its peak resident set size since start or {@link resetPeakRss}. */
export function peakRssOf(pid: number): Promise<number> {
  return statusBytes(pid, 'VmHWM');
}

/** Starts a new peak-RSS reading for a process (Linux: 5 written to /proc/PID/clear_refs). */
export async function resetPeakRss(pid: number): Promise<void> {
  await writeFile(`/proc/${pid}/clear_refs`, '5');
}

async function statusBytes(pid: number, field: string): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = new RegExp(`${field}:\\s+(\\d+) kB`).exec(status);
  if (!kb) throw new Error(`no ${field} for ${pid}`);
  return Number(kb[1]) * 1024;
}
