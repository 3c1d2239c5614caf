import { createWriteStream } from 'node:fs';
import { request } from 'node:http';
import { pipeline } from 'node:stream/promises';

/** Streams `GET /export` of the cluster at `url` into `path`; resolves to seconds taken. */
export async function exportTo(url: string, path: string): Promise<number> {
  const start = performance.now();
  await new Promise<void>((resolve, reject) => {
    request(new URL('/export', url), (res) => {
      if (res.statusCode !== 200) return reject(new Error(`GET /export answered ${res.statusCode}`));
      pipeline(res, createWriteStream(path)).then(resolve, reject);
    })
      .on('error', reject)
      .end();
  });
  return (performance.now() - start) / 1000;
}
