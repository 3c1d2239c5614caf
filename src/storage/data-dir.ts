import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { processAlive, ringMismatch, type RingSettings } from './claim.js';
import { syncDirectory } from './log.js';
import type { RingRecord, StoredRing } from './ring-record.js';

/** A claimed data directory: the ring it holds (null when new), and how to store a changed one. */
export interface DataDirClaim {
  stored: StoredRing | null;
  /** Stores the ring after a join or a leave, durably, before the cluster moves to it. */
  saveRing(record: RingRecord): void;
}

/**
 * Takes `dir` for this process: refuses it while another live process holds it (its pid in
 * `LOCK`; a lock left by a killed process is taken over at once, whether or not its parent
 * has reaped it yet), and refuses ring settings other than those its data was placed with
 * (`cluster.json`), since nodes would then hold keys the ring no longer routes to them.
 * Records both for the next start; a ring changed by joins and leaves stays as stored.
 */
export function claimDataDir(dir: string, settings: RingSettings): DataDirClaim {
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
  const stored = saved === null ? null : (JSON.parse(saved) as StoredRing);
  if (stored !== null) {
    const mismatch = ringMismatch(`--data-dir ${dir}`, stored, settings);
    if (mismatch !== null) throw new RangeError(`${mismatch}, or use another directory`);
  }
  if (stored === null || !('table' in stored)) writeFileSync(file, JSON.stringify(settings) + '\n');
  return { stored, saveRing: (record) => writeDurably(dir, file, JSON.stringify(record) + '\n') };
}

/** Replaces `file` with `text` so that a crash leaves the old or the new, whole, never a torn one. */
function writeDurably(dir: string, file: string, text: string): void {
  const temporary = `${file}.new`;
  const fd = openSync(temporary, 'w');
  try {
    writeFileSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, file);
  syncDirectory(dir);
}

function readIfThere(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}
