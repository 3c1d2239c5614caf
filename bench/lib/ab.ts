import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { CloseLoadResult } from './close-load.js';

const run = promisify(execFile);

/** ApacheBench's path, or null where it is not installed (Debian package apache2-utils). */
export async function abPath(): Promise<string | null> {
  return run('sh', ['-c', 'command -v ab']).then(
    ({ stdout }) => stdout.trim() || null,
    () => null,
  );
}

/**
 * The original's own benchmark: `ab -n total -c concurrency URL` (HTTP/1.0, a new connection
 * per request), read from ab's report; `errors` counts what ab calls failed or non-2xx.
 */
export async function ab(
  path: string,
  url: string,
  total = 10_000,
  concurrency = 100,
): Promise<CloseLoadResult> {
  const { stdout } = await run(path, ['-q', '-n', String(total), '-c', String(concurrency), url], {
    timeout: 600_000,
  });
  const figure = (label: RegExp) => {
    const match = label.exec(stdout);
    if (!match) throw new Error(`ab printed no ${label.source}:\n${stdout}`);
    return Number(match[1]);
  };
  const failed = figure(/^Failed requests:\s+(\d+)/m);
  const non2xx = Number(/^Non-2xx responses:\s+(\d+)/m.exec(stdout)?.[1] ?? 0);
  const seconds = figure(/^Time taken for tests:\s+([\d.]+) seconds/m);
  return {
    seconds,
    meanMs: (seconds * concurrency * 1000) / total,
    perRequestMs: (seconds * 1000) / total,
    errors: failed + non2xx,
  };
}
