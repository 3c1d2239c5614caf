import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';

import { tmpdir } from 'node:os';

import { join } from 'node:path';

import { test } from 'node:test';

import { Cluster } from '../src/cluster/cluster.js';

import { loadFile } from '../src/load/local-load.js';

import { fixture, TIMEOUT } from './helpers.js';

import { linesIn, pairOfLine, writeLoadFile } from './load-fixtures.js';
import { DEFAULT_LIMITS } from '../src/config.js';

test('loadFile() streams the sample file into the nodes and every pair reads back', TIMEOUT, async (t) => {
  const cluster = await Cluster.start({ nodes: 3 });
  t.after(() => cluster.close());
  const report = await loadFile(cluster, fixture('data_demo_10000.txt'), DEFAULT_LIMITS);
  assert.equal(report.loaded, 10_000);
  assert.equal(report.rejected, 0);
  assert.equal(
    (await cluster.get('d6b250e3-9480-4ed5-a4b7-5d8b28bc75da'))?.toString('latin1'),
    'e8c12114-674b-4f75-a753-c2e1c33ad4bd',
  );
  const nodes = await cluster.nodes();
  assert.equal(
    nodes.reduce((sum, n) => sum + (n.keys ?? 0), 0),
    10_000 * cluster.ring.replicas,
    'every replica holds every pair',
  );
});

test('loadFile() skips bad lines and reports their line numbers', TIMEOUT, async (t) => {
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
  assert.equal((await cluster.get('c'))?.toString('latin1'), '3');
});

test('loadFile() of a missing file rejects with ENOENT', TIMEOUT, async (t) => {
  const cluster = await Cluster.start({ nodes: 1 });
  t.after(() => cluster.close());
  await assert.rejects(loadFile(cluster, '/no/such/file', DEFAULT_LIMITS), { code: 'ENOENT' });
});

test(
  'loadFile() of a directory rejects with one line saying so, before anything is stored',
  TIMEOUT,
  async (t) => {
    const cluster = await Cluster.start({ nodes: 1 });
    t.after(() => cluster.close());
    const dir = await mkdtemp(join(tmpdir(), 'thunderdb-'));
    await assert.rejects(loadFile(cluster, dir, DEFAULT_LIMITS), {
      code: 'EISDIR',
      message: `cannot load ${dir}: it is a directory; give a file of "key value" lines`,
    });
  },
);

test(
  'loadFile() stopped by its signal stores every whole line read so far and says where it stopped',
  TIMEOUT,
  async (t) => {
    const cluster = await Cluster.start({ nodes: 2 });
    t.after(() => cluster.close());
    const file = await writeLoadFile(30_000); // about 3 MB: three 1 MiB chunks
    t.after(() => file.remove());
    const controller = new AbortController();
    // The first progress draw comes after the first chunk: stop there.
    const out = { write: () => controller.abort() };
    const report = await loadFile(cluster, file.path, DEFAULT_LIMITS, { out, signal: controller.signal });
    const stop = linesIn(1 << 20);
    assert.equal(report.stoppedAfterLine, stop);
    assert.equal(report.loaded, stop);
    const [lastKey, lastValue] = pairOfLine(stop);
    assert.equal((await cluster.get(lastKey))?.toString('latin1'), lastValue);
    assert.equal(await cluster.get(pairOfLine(stop + 1)[0]), undefined, 'the cut line is not stored');
    const nodes = await cluster.nodes();
    assert.equal(
      nodes.reduce((sum, n) => sum + (n.keys ?? 0), 0),
      stop * cluster.ring.replicas,
    );
  },
);

test(
  'loadFile() fails when a node fails pairs still in flight after the rest were acknowledged',
  TIMEOUT,
  async (t) => {
    // The whole file fits one read chunk: every pair is sent before the node dies, so the
    // failure arrives while loadFile waits for the last acknowledgements, after the read loop.
    // One replica, so that one node's death fails pairs (with three, W = 2 carries it).
    const cluster = await Cluster.start({ nodes: 3, replicas: 1 });
    t.after(() => cluster.close());
    let crashed = false;
    const out = {
      write: () => {
        // The first draw comes right after the chunk's pairs are queued, before they are sent.
        if (!crashed) void cluster.crash(2);
        crashed = true;
      },
    };
    const outcome = await loadFile(cluster, fixture('data_demo_10000.txt'), DEFAULT_LIMITS, { out }).then(
      (report) => report,
      (err: { code?: string }) => err,
    );
    // If the node answered before its thread died, the load is whole; it must never report
    // success for fewer pairs than the file holds.
    if ('loaded' in outcome) assert.equal(outcome.loaded, 10_000, 'a load that lost pairs reported success');
    else assert.equal(outcome.code, 'NODE_UNAVAILABLE');
    assert.ok(crashed);
  },
);
