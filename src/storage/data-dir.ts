import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The ring settings a data directory was written with: its data is placed by them. */
export interface RingSettings {
  nodes: number;
  partitions: number;
  replicas: number;
}

/**
 * Takes `dir` for this process: refuses it while another live process holds it (its pid in
 * `LOCK`; a lock left by a killed process is taken over), and refuses ring settings other
 * than those its data was placed with (`cluster.json`), since nodes would then hold keys
 * the ring no longer routes to them. Records both for the next start.
 */
export function claimDataDir(dir: string, settings: RingSettings): void {
  mkdirSync(dir, { recursive: true });
  const lock = join(dir, 'LOCK');
  const holder = Number(readIfThere(lock) ?? NaN);
  if (Number.isInteger(holder) && holder !== process.pid && isAlive(holder)) {
    throw new RangeError(
      `--data-dir ${dir} is in use by process ${holder}; stop it first, or choose another directory`,
    );
  }
  writeFileSync(lock, String(process.pid));
  const file = join(dir, 'cluster.json');
  const saved = readIfThere(file);
  if (saved !== null) {
    const before = JSON.parse(saved) as RingSettings;
    const names = ['nodes', 'partitions', 'replicas'] as const;
    const differ = names.filter((name) => before[name] !== settings[name]);
    if (differ.length > 0) {
      throw new RangeError(
        `--data-dir ${dir} holds data placed with ${names.map((n) => `--${n} ${before[n]}`).join(' ')}; ` +
          `start with those (${differ.map((n) => `--${n} ${settings[n]}`).join(', ')} given), or use another directory`,
      );
    }
  }
  writeFileSync(file, JSON.stringify(settings) + '\n');
}

function readIfThere(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
