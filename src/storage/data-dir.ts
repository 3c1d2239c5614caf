import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { processAlive, ringMismatch, type RingSettings } from './claim.js';

/**
 * Takes `dir` for this process: refuses it while another live process holds it (its pid in
 * `LOCK`; a lock left by a killed process is taken over at once, whether or not its parent
 * has reaped it yet), and refuses ring settings other than those its data was placed with
 * (`cluster.json`), since nodes would then hold keys the ring no longer routes to them.
 * Records both for the next start.
 */
export function claimDataDir(dir: string, settings: RingSettings): void {
  mkdirSync(dir, { recursive: true });
  const lock = join(dir, 'LOCK');
  const holder = Number(readIfThere(lock) ?? NaN);
  if (Number.isInteger(holder) && holder !== process.pid && processAlive(holder)) {
    throw new RangeError(
      `--data-dir ${dir} is in use by process ${holder}; stop it first, or choose another directory`,
    );
  }
  writeFileSync(lock, String(process.pid));
  const file = join(dir, 'cluster.json');
  const saved = readIfThere(file);
  if (saved !== null) {
    const mismatch = ringMismatch(`--data-dir ${dir}`, JSON.parse(saved) as RingSettings, settings);
    if (mismatch !== null) throw new RangeError(`${mismatch}, or use another directory`);
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
