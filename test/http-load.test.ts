import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadFileOverHttp } from '../src/load/http-load.js';
import { fixture, startRunning } from './helpers.js';

test('loadFileOverHttp() streams the sample file and reports what the server stored', async (t) => {
  const run = await startRunning({ nodes: 3 });
  t.after(() => run.stop());
  const report = await loadFileOverHttp(run.url, fixture('data_demo_10000.txt'));
  assert.equal(report.loaded, 10_000);
  assert.equal(report.rejected, 0);
  assert.ok(report.seconds > 0);
  assert.equal(
    await run.cluster.get('eedd9f68-0d6b-41f1-9061-05a0dc373bf3'),
    '69c3cb9c-a20a-4244-94f7-5bc2070db283',
  );
});

test('loadFileOverHttp() into a cluster with a dead node fails with the code and the count stored', async (t) => {
  const run = await startRunning({ nodes: 3 });
  t.after(() => run.stop());
  await run.cluster.crash(2);
  await new Promise((r) => setTimeout(r, 50));
  await assert.rejects(
    loadFileOverHttp(run.url, fixture('data_demo_10000.txt')),
    /answered 503: NODE_UNAVAILABLE: .* \(\d+ pairs were stored before it\)/,
  );
});
