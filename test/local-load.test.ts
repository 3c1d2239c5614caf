import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Cluster } from '../src/cluster.js';
import { DEFAULT_LIMITS } from '../src/limits.js';
import { loadFile } from '../src/load/local-load.js';
import { fixture } from './helpers.js';

test('loadFile() streams the sample file into the nodes and every pair reads back', async (t) => {
  const cluster = await Cluster.start({ nodes: 3 });
  t.after(() => cluster.close());
  const report = await loadFile(cluster, fixture('data_demo_10000.txt'), DEFAULT_LIMITS);
  assert.equal(report.loaded, 10_000);
  assert.equal(report.rejected, 0);
  assert.equal(
    await cluster.get('d6b250e3-9480-4ed5-a4b7-5d8b28bc75da'),
    'e8c12114-674b-4f75-a753-c2e1c33ad4bd',
  );
  const nodes = await cluster.nodes();
  assert.equal(
    nodes.reduce((sum, n) => sum + (n.keys ?? 0), 0),
    10_000,
  );
});

test('loadFile() skips bad lines and reports their line numbers', async (t) => {
  const cluster = await Cluster.start({ nodes: 2 });
  t.after(() => cluster.close());
  const dir = await mkdtemp(join(tmpdir(), 'thunderdb-'));
  const path = join(dir, 'mixed.txt');
  await writeFile(path, `a 1\nnospace\n\nb 2\n${'k'.repeat(2000)} v\nc 3`);
  const report = await loadFile(cluster, path, DEFAULT_LIMITS);
  assert.equal(report.loaded, 3);
  assert.equal(report.rejected, 2);
  assert.deepEqual(
    report.rejections.map((r) => [r.line, r.code]),
    [
      [2, 'BAD_REQUEST'],
      [5, 'KEY_TOO_LARGE'],
    ],
  );
  assert.equal(await cluster.get('c'), '3');
});

test('loadFile() of a missing file rejects with ENOENT', async (t) => {
  const cluster = await Cluster.start({ nodes: 1 });
  t.after(() => cluster.close());
  await assert.rejects(loadFile(cluster, '/no/such/file', DEFAULT_LIMITS), { code: 'ENOENT' });
});
