/**
 * Where the servers run relative to the load generator, chosen, carried out and reported.
 *
 * On a machine of few cores the scheduler decides a good part of a ratio: the load generator
 * and the server compete for the same cores, and Linux's autogroup scheduling (on where
 * /proc/sys/kernel/sched_autogroup_enabled is 1) first shares CPU time fairly between
 * sessions and only then between the threads inside each. Issue 7 saw the ratio move by ~7%
 * with the scheduling groups alone. So every figure says how it was placed, and placement
 * is an option:
 *
 * - pin `none` (the default): every process may run on every CPU; the scheduler places them.
 * - pin `split`: wrk runs on the first CPU this process may use, every server on all the
 *   others (`taskset -c`), so ours and bare uWS get the same CPUs and never share one with
 *   wrk. Not the default: on a machine others use too (this project's 2 shared cores), work
 *   landing on the one server CPU cannot be escaped, and smoke runs here spread far wider
 *   pinned than not; and a multi-threaded server on 2 cores gets one. For quiet machines.
 * - sessions `own` (the default): each server and each wrk starts in a session of its own
 *   (setsid), so in an autogroup of its own, as when each is started from its own terminal
 *   or as its own service. Each process then gets a fair share of CPU time: a server cannot
 *   take the load generator's share by having more threads, and other sessions' work on the
 *   machine squeezes each process alike, not the bench as one group.
 * - sessions `shared`: servers and wrk stay in the bench's session and autogroup, competing
 *   thread by thread.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

export type Pin = 'split' | 'none';
export type Sessions = 'own' | 'shared';

/** How processes are placed, as decided before the first one starts. */
export interface Placement {
  pin: Pin;
  sessions: Sessions;
  /** `taskset -c` list for the load generator; null when not pinned. */
  generatorCpus: string | null;
  /** `taskset -c` list for every server; null when not pinned. */
  serverCpus: string | null;
  /** The CPUs this process may use, which the split divides. */
  allowedCpus: string;
  /** /proc/sys/kernel/sched_autogroup_enabled: '1', '0' or 'unknown'. */
  autogroupEnabled: string;
  /** Why the placement differs from what was asked for, if it does. */
  note?: string;
}

/** Where one process was found running, read from /proc after it started. */
export interface Observed {
  role: string;
  pid: number;
  /** Cpus_allowed_list from /proc/PID/status. */
  cpus: string;
  /** Session id (setsid), from /proc/PID/stat. */
  session: number;
  /** /proc/PID/autogroup, e.g. `/autogroup-12 nice 0`. */
  autogroup: string;
  /** The CPU controller's cgroup from /proc/PID/cgroup (v1 `cpu`, else the v2 `0::` line). */
  cgroup: string;
}

/** Expands a CPU list like `0-3,6` into CPU numbers. */
export function parseCpuList(list: string): number[] {
  const cpus: number[] = [];
  for (const part of list.trim().split(',')) {
    if (part === '') continue;
    const [from, to] = part.split('-').map(Number) as [number, number | undefined];
    for (let c = from; c <= (to ?? from); c++) cpus.push(c);
  }
  return cpus;
}

function statusField(status: string, field: string): string {
  return new RegExp(`^${field}:\\s*(.*)$`, 'm').exec(status)?.[1]?.trim() ?? 'unknown';
}

function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return fallback;
  }
}

/** Decides a placement on this machine; `split` with one CPU falls back to `none`, saying so. */
export function decidePlacement(pin: Pin, sessions: Sessions): Placement {
  const allowedCpus = statusField(readOr('/proc/self/status', ''), 'Cpus_allowed_list');
  const autogroupEnabled = readOr('/proc/sys/kernel/sched_autogroup_enabled', 'unknown');
  const cpus = parseCpuList(allowedCpus === 'unknown' ? '' : allowedCpus);
  if (pin === 'split' && cpus.length < 2) {
    return {
      pin: 'none',
      sessions,
      generatorCpus: null,
      serverCpus: null,
      allowedCpus,
      autogroupEnabled,
      note: `--pin split needs 2 CPUs; this process may use ${allowedCpus}: not pinned`,
    };
  }
  return {
    pin,
    sessions,
    generatorCpus: pin === 'split' ? String(cpus[0]) : null,
    serverCpus: pin === 'split' ? cpus.slice(1).join(',') : null,
    allowedCpus,
    autogroupEnabled,
  };
}

/** One line saying how processes are placed, for the printout. */
export function describePlacement(p: Placement): string {
  const where =
    p.pin === 'split'
      ? `wrk pinned to CPU ${p.generatorCpus}, servers to CPU ${p.serverCpus} (taskset; of ${p.allowedCpus})`
      : `not pinned: the scheduler places wrk and servers on CPUs ${p.allowedCpus}`;
  const groups =
    p.sessions === 'own'
      ? 'each server and wrk in its own session (setsid), so its own autogroup'
      : "servers and wrk in the bench's own session and autogroup";
  return `placement: ${where}; ${groups}; sched_autogroup_enabled=${p.autogroupEnabled}${p.note ? `; ${p.note}` : ''}`;
}

/** Children started here in their own session: a Ctrl-C to the bench does not reach them. */
const live = new Set<ChildProcess>();
let cleanupInstalled = false;

function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.once('exit', () => {
    for (const child of live) child.kill('SIGTERM');
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => process.exit(130));
  }
}

/**
 * Starts `file args` placed as a server or as the load generator: under `taskset -c` when
 * pinned, in a new session when sessions are `own`. Such a child is stopped when the bench
 * exits, however it exits.
 */
export function spawnPlaced(
  placement: Placement,
  role: 'server' | 'generator',
  file: string,
  args: string[],
  options: SpawnOptions = {},
): ChildProcess {
  const cpus = role === 'server' ? placement.serverCpus : placement.generatorCpus;
  const [command, argv] = cpus === null ? [file, args] : ['taskset', ['-c', cpus, file, ...args]];
  const child = spawn(command, argv, { ...options, detached: placement.sessions === 'own' });
  installCleanup();
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/** Reads where a running process is placed. */
export async function observe(role: string, pid: number): Promise<Observed> {
  const read = (file: string) => readFile(`/proc/${pid}/${file}`, 'utf8').catch(() => '');
  const [status, stat, autogroup, cgroup] = await Promise.all([
    read('status'),
    read('stat'),
    read('autogroup'),
    read('cgroup'),
  ]);
  // stat: "pid (comm) state ppid pgrp session ..."; comm may hold spaces, so count from ')'.
  const afterComm = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const lines = cgroup.trim().split('\n');
  const cpuLine =
    lines.find((l) => /^\d+:([^:]*,)?cpu(,[^:]*)?:/.test(l)) ?? lines.find((l) => l.startsWith('0::'));
  return {
    role,
    pid,
    cpus: statusField(status, 'Cpus_allowed_list'),
    session: Number(afterComm[3]),
    autogroup: autogroup.trim() || 'none',
    cgroup: cpuLine?.replace(/^\d+:[^:]*:/, '') ?? 'unknown',
  };
}

/** The observations as short text: `role pid N cpus C session S autogroup A cgroup G`. */
export function describeObserved(list: Observed[]): string {
  return list
    .map(
      (o) =>
        `${o.role}: cpus ${o.cpus}, session ${o.session}, ${o.autogroup.split(' ')[0]}, cgroup ${o.cgroup}`,
    )
    .join('; ');
}

/** The command-line options every bench entry point takes for placement, with their defaults. */
export const PLACEMENT_OPTIONS = {
  pin: { type: 'string', default: 'none' },
  sessions: { type: 'string', default: 'own' },
} as const;

/** Checks `--pin` and `--sessions` and decides the placement. */
export function placementFromArgs(args: { pin?: string; sessions?: string }): Placement {
  const pin = args.pin ?? PLACEMENT_OPTIONS.pin.default;
  const sessions = args.sessions ?? PLACEMENT_OPTIONS.sessions.default;
  if (pin !== 'split' && pin !== 'none') throw new RangeError(`--pin must be split or none, got ${pin}`);
  if (sessions !== 'own' && sessions !== 'shared') {
    throw new RangeError(`--sessions must be own or shared, got ${sessions}`);
  }
  return decidePlacement(pin, sessions);
}
