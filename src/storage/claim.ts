import { existsSync, readFileSync } from 'node:fs';

/** The ring settings a store's data was written with: its data is placed by them. */
export interface RingSettings {
  nodes: number;
  partitions: number;
  replicas: number;
}

/**
 * Why data placed with `saved` cannot be served with `settings` (nodes would hold keys the
 * ring no longer routes to them), or null if they agree. `where` names the store.
 */
export function ringMismatch(where: string, saved: RingSettings, settings: RingSettings): string | null {
  const names = ['nodes', 'partitions', 'replicas'] as const;
  const differ = names.filter((name) => saved[name] !== settings[name]);
  if (differ.length === 0) return null;
  return (
    `${where} holds data placed with ${names.map((n) => `--${n} ${saved[n]}`).join(' ')}; ` +
    `start with those (${differ.map((n) => `--${n} ${settings[n]}`).join(', ')} given)`
  );
}

/**
 * Whether process `pid` of this host is alive (one we may not signal is). A process that
 * has exited but is not yet reaped by its parent (a zombie, as a `kill -9`ed cluster is until
 * its shell or supervisor waits for it) still takes signal 0, so where /proc tells a zombie
 * apart it counts as gone: it holds nothing any more.
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return !hasExited(pid);
}

/**
 * Whether /proc shows `pid` as exited: a zombie (state `Z`), dying (`X`), or reaped since it
 * was signalled (no entry). Where /proc is not mounted (not Linux), false: signal 0 is then
 * all there is to go by. Node offers no `flock`, which would free a lock at the holder's
 * death by itself.
 */
function hasExited(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return existsSync('/proc/self/stat');
  }
  // `pid (comm) state …`: comm may hold spaces and parentheses, so the state follows the last ')'.
  const state = stat[stat.lastIndexOf(')') + 2];
  return state === 'Z' || state === 'X';
}
