import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The key and value of line `i` (1-based) of {@link writeLoadFile}'s file. */
export function pairOfLine(i: number): [string, string] {
  return [`key-${String(i).padStart(9, '0')}`, `value-${i}-${'v'.repeat(64)}`];
}

/**
 * Writes a `key value` file of `lines` good lines (about 100 bytes each) in a fresh temp
 * folder, removed by the returned `remove`. Big enough files span many 1 MiB read chunks.
 */
export async function writeLoadFile(lines: number): Promise<{ path: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'thunderdb-load-'));
  const path = join(dir, 'pairs.txt');
  const text: string[] = [];
  for (let i = 1; i <= lines; i++) text.push(pairOfLine(i).join(' '));
  await writeFile(path, text.join('\n') + '\n');
  return { path, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** How many whole lines the first `bytes` bytes of that file hold. */
export function linesIn(bytes: number): number {
  let sum = 0;
  for (let i = 1; ; i++) {
    sum += pairOfLine(i).join(' ').length + 1;
    if (sum > bytes) return i - 1;
  }
}
