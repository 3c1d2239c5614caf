/**
 * `npm run bench:export`: how fast a dump goes out and back in (issue 12), against the bulk
 * load of the same pairs, in the same round: load N uuid pairs into a cluster over HTTP
 * (`thunderdb load`'s upload), `GET /export` them to a file, then `POST /kv?encoding=base64`
 * the dump into a fresh cluster; each cluster a child process, as `thunderdb cluster` runs.
 *
 *   npm run bench:export -- [--records 1000000] [--rounds 3]
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { loadFileOverHttp } from '../src/load/http-load.js';
import { uuidFile } from './lib/data.js';
import { exportTo } from './lib/export-stream.js';
import { runContext } from './lib/machine.js';
import { startCluster, type Topology } from './lib/processes.js';
import { spread, type Spread } from './lib/stats.js';

const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: '1000000' },
    rounds: { type: 'string', default: '3' },
  },
});
const TOPOLOGY: Topology = { nodes: 3, replicas: 3 };

/** Streams the dump at `path` into `POST /kv?encoding=base64`; resolves to seconds and pairs written. */
async function importFrom(url: string, path: string): Promise<{ seconds: number; written: number }> {
  const start = performance.now();
  const body = await new Promise<string>((resolve, reject) => {
    const req = request(new URL('/kv?encoding=base64', url), {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-ndjson', 'Transfer-Encoding': 'chunked' },
    });
    req.on('response', (res) => {
      const parts: Buffer[] = [];
      res.on('data', (part: Buffer) => parts.push(part));
      res.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    });
    req.on('error', reject);
    pipeline(createReadStream(path), req).catch(reject);
  });
  const { written } = JSON.parse(body) as { written: number };
  return { seconds: (performance.now() - start) / 1000, written };
}

async function main(): Promise<void> {
  const meta = runContext();
  const records = Number(args.records);
  const file = await uuidFile(records);
  const dir = await mkdtemp(join(tmpdir(), 'thunderdb-export-'));
  const dump = join(dir, 'dump.ndjson');
  const load: number[] = [];
  const out: number[] = [];
  const back: number[] = [];
  try {
    for (let round = 0; round < Number(args.rounds); round++) {
      const source = await startCluster(TOPOLOGY);
      try {
        const loaded = await loadFileOverHttp(source.url, file);
        if (loaded.loaded !== records) throw new Error(`loaded ${loaded.loaded} of ${records}`);
        load.push(loaded.seconds);
        out.push(await exportTo(source.url, dump));
      } finally {
        await source.stop();
      }
      const target = await startCluster(TOPOLOGY);
      try {
        const imported = await importFrom(target.url, dump);
        if (imported.written !== records) throw new Error(`imported ${imported.written} of ${records}`);
        back.push(imported.seconds);
      } finally {
        await target.stop();
      }
    }
    const dumpBytes = (await stat(dump)).size;
    const show = (s: Spread) => `${s.median.toFixed(2)} s (${s.min.toFixed(2)}–${s.max.toFixed(2)})`;
    const [l, e, i] = [spread(load), spread(out), spread(back)];
    console.log(
      [
        `ThunderDB bench:export, ${meta.date}, commit ${meta.commit}, ${meta.cores} cores (${meta.cpu}), Node ${meta.node}`,
        `${records.toLocaleString('en-US')} uuid pairs, 3 nodes, 3 replicas, ${args.rounds} round(s); medians (min–max)`,
        '',
        `bulk load (text/plain)     ${show(l)}`,
        `GET /export                ${show(e)}   export ÷ load: ${(e.median / l.median).toFixed(2)}   dump ${(dumpBytes / 2 ** 20).toFixed(1)} MiB`,
        `POST /kv?encoding=base64   ${show(i)}   import ÷ load: ${(i.median / l.median).toFixed(2)}`,
      ].join('\n'),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  process.exit(0);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
