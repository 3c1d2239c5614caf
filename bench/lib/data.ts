import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { access, mkdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const DIR = join(tmpdir(), 'thunderdb-bench');

/**
 * A file of `n` lines `uuid uuid`, the original's benchmark data, made once and reused.
 * `tag` gives files of the same size different keys.
 */
export async function uuidFile(n: number, tag = 'a'): Promise<string> {
  const path = join(DIR, `uuid-${n}-${tag}.txt`);
  try {
    await access(path);
    return path;
  } catch {
    // not made yet
  }
  await mkdir(DIR, { recursive: true });
  const out = createWriteStream(path);
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    lines.push(`${randomUUID()} ${randomUUID()}\n`);
    if (lines.length === 10_000) {
      if (!out.write(lines.join(''))) await once(out, 'drain');
      lines.length = 0;
    }
  }
  out.end(lines.join(''));
  await once(out, 'finish');
  return path;
}

/**
 * The floor for loading: parse the same file in this process and insert every pair into a
 * plain Map, in pairs per second. No HTTP, no threads, no hashing.
 */
export async function mapInsertRate(path: string): Promise<number> {
  const text = await readFile(path, 'latin1');
  const start = performance.now();
  const map = new Map<string, string>();
  let from = 0;
  for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', from)) {
    const space = text.indexOf(' ', from);
    map.set(text.slice(from, space), text.slice(space + 1, nl));
    from = nl + 1;
  }
  const seconds = (performance.now() - start) / 1000;
  return map.size / seconds;
}
