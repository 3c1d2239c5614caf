import assert from 'node:assert/strict';
import { test } from 'node:test';
import { http, startRunning, TIMEOUT, until } from './helpers.js';

/**
 * What a bulk write lets one node fall behind by (batch-route.ts), and the slack of one slice
 * of the body parsed past it (64 KiB: at most 8,192 of this test's pairs, 8 bytes or more each).
 */
const BACKLOG_HIGH = 16_384;
const SLICE_PAIRS = 8_192;

test(
  'a bulk write holds its intake while a replica it does not wait for is behind, and every pair lands on it',
  TIMEOUT,
  async (t) => {
    // W = 2 of 3: the two nodes that answer acknowledge every pair, so only the backlog
    // bound holds the body while node 2 is paused (its queue waits, as behind a slow backend).
    const run = await startRunning({ nodes: 3, replicas: 3, timeoutMs: 60_000 });
    t.after(() => run.stop());
    const pairs = 50_000;
    const body = Array.from({ length: pairs }, (_, i) => `adm:${i} v${i}`).join('\n');
    const pause = await http(
      run.url,
      'POST',
      '/cluster/faults',
      JSON.stringify({ type: 'pause', nodes: [2], ms: 3_000 }),
    );
    assert.equal(pause.status, 201);
    const answer = await http(run.url, 'POST', '/kv', body, { 'Content-Type': 'text/plain' });
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.json, { written: pairs });

    const nodes = (await http(run.url, 'GET', '/cluster')).json as {
      nodes: { id: number; keys: number; backlog: number; backlogPeak: number }[];
    };
    const peak = nodes.nodes[2]!.backlogPeak;
    t.diagnostic(`node 2's backlog peaked at ${peak}`);
    assert.ok(peak > BACKLOG_HIGH, `node 2 fell behind past the bound (peak ${peak}): the pause held it`);
    assert.ok(
      peak <= BACKLOG_HIGH + SLICE_PAIRS,
      `node 2 was sent at most the bound and one slice of the body beyond it (peak ${peak}), not all ${pairs}`,
    );
    // Held, not dropped: node 2 (a replica of every key with 3 nodes) stored every pair.
    assert.equal(nodes.nodes[2]!.keys, pairs);
  },
);

test('a bulk write held for a node that crashes goes on without it', TIMEOUT, async (t) => {
  const run = await startRunning({ nodes: 3, replicas: 3, timeoutMs: 120_000 });
  t.after(() => run.stop());
  const pairs = 50_000;
  const body = Array.from({ length: pairs }, (_, i) => `crash:${i} v${i}`).join('\n');
  const pause = { type: 'pause', nodes: [2], ms: 60_000 };
  assert.equal((await http(run.url, 'POST', '/cluster/faults', JSON.stringify(pause))).status, 201);
  const answer = http(run.url, 'POST', '/kv', body, { 'Content-Type': 'text/plain' });
  // Held: node 2 is past the bound and answers nothing for a minute.
  await until(() => run.cluster.backlog > BACKLOG_HIGH, AbortSignal.timeout(60_000));
  assert.equal((await http(run.url, 'POST', '/cluster/nodes/2/crash')).status, 200);
  const { status, json } = await answer;
  assert.equal(status, 200);
  assert.deepEqual(json, { written: pairs });
});
