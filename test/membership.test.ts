import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster } from '../src/cluster.js';
import { codeOf, http, startRunning } from './helpers.js';
import { readReplica, writeReplica } from './replicas.js';

/** Threads of this process: a crashed node must leave none behind. */
function threads(): number {
  return readdirSync('/proc/self/task').length;
}

describe('crash and restart', () => {
  test('a crash ends the node thread and starts none in its place', async (t) => {
    const cluster = await Cluster.start({ nodes: 3 });
    t.after(() => cluster.close());
    await sleep(100);
    const before = threads();
    await cluster.crash(1);
    await sleep(200);
    assert.equal(threads(), before - 1, 'one thread fewer, not a replacement without a port');
    assert.equal(cluster.stateOf(1), 'down');
    await cluster.restart(1);
    assert.equal(cluster.stateOf(1), 'up');
    await sleep(100);
    assert.equal(threads(), before);
  });

  test('a restarted node is refilled from its replicas while writes go on, and loses no acknowledged write', async (t) => {
    const cluster = await Cluster.start({ nodes: 3, antiEntropyMs: 0 });
    t.after(() => cluster.close());
    for (let i = 0; i < 3000; i++) await cluster.put(`k${i}`, `v${i}`);
    await sleep(50);
    const keysBefore = (await cluster.nodes())[2]!.keys!;
    assert.equal(keysBefore, 3000, 'with three replicas of three nodes, every node holds every key');

    await cluster.crash(2);
    const acknowledged = new Map<string, string>();
    let writing = true;
    const writer = (async () => {
      for (let i = 0; writing; i++) {
        const key = `w${i % 500}`;
        await cluster.put(key, `x${i}`).then(() => acknowledged.set(key, `x${i}`));
      }
    })();
    await sleep(50);
    const refilled = await cluster.restart(2);
    writing = false;
    await writer;
    assert.equal(refilled.partitions, 1024);
    assert.ok(refilled.keys >= 3000, `${refilled.keys} records copied`);
    assert.ok(refilled.hints > 0, 'writes made while it was down were hinted and replayed');
    await sleep(50);
    const node = (await cluster.nodes())[2]!;
    assert.equal(node.state, 'up');
    assert.equal(
      node.keys,
      3000 + acknowledged.size,
      'its key count is back, with the writes made meanwhile',
    );
    assert.equal(node.hints, 0);
    // Every acknowledged write is on the restarted node itself.
    for (const [key, value] of acknowledged)
      assert.equal((await readReplica(cluster, 2, key))?.value, value, key);
    assert.equal((await readReplica(cluster, 2, 'k2999'))?.value, 'v2999');
  });

  test('hints replay with their versions: twice changes nothing, and a newer write is never overwritten', async (t) => {
    const cluster = await Cluster.start({ nodes: 3, antiEntropyMs: 0 });
    t.after(() => cluster.close());
    const key = 'hinted';
    const [, , third] = cluster.ring.locate(key).replicas as [number, number, number];
    await cluster.crash(third);
    const first = await cluster.put(key, 'one');
    const second = await cluster.put(key, 'two');
    const nodes = await cluster.nodes();
    assert.equal(nodes[third]!.hints, 2);
    const refilled = await cluster.restart(third);
    assert.equal(refilled.hints, 2);
    assert.deepEqual(await readReplica(cluster, third, key), { version: second, value: 'two' });
    assert.ok(second > first);

    // The same hint arriving again, late, is older than what the node holds: dropped.
    await writeReplica(cluster, third, key, 'one', first);
    assert.deepEqual(await readReplica(cluster, third, key), { version: second, value: 'two' });
    assert.equal(await cluster.replayHints(third), 0, 'replayed hints are gone');
  });

  test('anti-entropy finds the partitions whose replicas differ and copies only those', async (t) => {
    const cluster = await Cluster.start({ nodes: 3, antiEntropyMs: 0 });
    t.after(() => cluster.close());
    for (let i = 0; i < 200; i++) await cluster.put(`ae${i}`, 'v');
    await sleep(20);
    assert.equal(await cluster.antiEntropy(), 0, 'replicas that agree exchange nothing');
    // Two writes that reached one replica only.
    const [a] = cluster.ring.locate('ae1').replicas as [number];
    const version = (await cluster.getVersioned('ae1'))!.version;
    await writeReplica(cluster, a, 'ae1', 'missed', version + 16);
    await writeReplica(cluster, a, 'lonely', 'only here', version + 32);
    const differing = await cluster.antiEntropy();
    assert.ok(differing >= 1 && differing <= 2, `${differing} partitions differed`);
    for (const node of cluster.ring.locate('ae1').replicas) {
      assert.equal((await readReplica(cluster, node, 'ae1'))?.value, 'missed');
    }
    for (const node of cluster.ring.locate('lonely').replicas) {
      assert.equal((await readReplica(cluster, node, 'lonely'))?.value, 'only here');
    }
    assert.equal(await cluster.antiEntropy(), 0, 'converged');
    const stats = cluster.coordinatorStats().antiEntropy;
    assert.equal(stats.runs, 3);
    assert.equal(stats.partitionsRepaired, differing);
    assert.ok(
      stats.recordsCopied < 50,
      `${stats.recordsCopied} records copied: the differing partitions only`,
    );
  });
});

describe('crash and restart over HTTP', () => {
  test('POST /cluster/nodes/{id}/crash and /restart; the node is refilled and answers again', async (t) => {
    const run = await startRunning({ nodes: 3 });
    t.after(() => run.stop());
    await http(run.url, 'PUT', '/kv/survivor', 'still here');
    const crash = await http(run.url, 'POST', '/cluster/nodes/0/crash');
    assert.equal(crash.status, 200);
    assert.deepEqual(crash.json, { id: 0, was: 'up', state: 'down' });
    assert.equal((await http(run.url, 'GET', '/kv/survivor')).text, 'still here');
    const again = await http(run.url, 'POST', '/cluster/nodes/1/restart');
    assert.equal(again.status, 409);
    assert.equal(codeOf(again), 'CONFLICT');
    const restart = await http(run.url, 'POST', '/cluster/nodes/0/restart');
    assert.equal(restart.status, 200);
    const body = restart.json as {
      id: number;
      state: string;
      refilled: { keys: number; partitions: number };
    };
    assert.equal(body.state, 'up');
    assert.ok(body.refilled.keys >= 1);
    assert.equal((await readReplica(run.cluster, 0, 'survivor'))?.value, 'still here');
    assert.equal(codeOf(await http(run.url, 'POST', '/cluster/nodes/7/crash')), 'NOT_FOUND');
    assert.equal(codeOf(await http(run.url, 'POST', '/cluster/nodes/x/restart')), 'NOT_FOUND');
    assert.equal((await http(run.url, 'GET', '/cluster/nodes/0/crash')).status, 405);
  });
});
