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

/** Whether process `pid` of this host is alive (one we may not signal is). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
