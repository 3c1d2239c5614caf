import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Cluster } from '../src/cluster/cluster.js';
import type { ThunderError } from '../src/errors.js';
import { inlineRunner } from '../src/transport/inline-runner.js';
import { SimLoop } from '../src/sim/loop.js';
import { readReplica } from './replicas.js';

/** A cluster in the deterministic mode: nodes inline on a simulated loop. */
async function simulated(seed: number, replicas = 3): Promise<{ loop: SimLoop; cluster: Cluster }> {
  const loop = new SimLoop();
  const cluster = await Cluster.start({
    nodes: 3,
    replicas,
    seed,
    clock: loop,
    runner: inlineRunner(loop),
    timeoutMs: 500,
    antiEntropyMs: 0,
  });
  return { loop, cluster };
}

const sleep = (loop: SimLoop, ms: number) => new Promise<void>((resolve) => loop.setTimer(ms, resolve));

/** Runs `body` on a simulated cluster, to its end, then closes the cluster. */
async function inSimulation(
  seed: number,
  replicas: number,
  body: (loop: SimLoop, cluster: Cluster) => Promise<void>,
): Promise<void> {
  const { loop, cluster } = await simulated(seed, replicas);
  try {
    await loop.run(body(loop, cluster));
  } finally {
    await cluster.close();
  }
}

describe('SimLoop', () => {
  test('fires events in time order, those due together in the order scheduled; a cancelled one never', async () => {
    const loop = new SimLoop();
    const fired: string[] = [];
    loop.setTimer(20, () => fired.push('b@20'));
    loop.setTimer(10, () => fired.push('a@10'));
    loop.setTimer(20, () => fired.push('c@20'));
    const cancel = loop.setTimer(15, () => fired.push('never'));
    loop.defer(() => fired.push('now'));
    cancel();
    await loop.run(sleep(loop, 30));
    assert.deepEqual(fired, ['now', 'a@10', 'b@20', 'c@20']);
    assert.equal(loop.now(), 30);
  });

  test('a promise continuation runs before the next event, as on a real event loop', async () => {
    const loop = new SimLoop();
    const order: string[] = [];
    loop.setTimer(1, () => void Promise.resolve().then(() => order.push('continuation')));
    loop.setTimer(1, () => order.push('next event'));
    await loop.run(sleep(loop, 2));
    assert.deepEqual(order, ['continuation', 'next event']);
  });

  test('work that can never finish is reported, not waited on forever', async () => {
    const loop = new SimLoop();
    await assert.rejects(loop.run(new Promise(() => {})), /stalled at 0 ms/);
  });
});

describe('the deterministic mode', () => {
  /** A run with faults and a crash: its event-log hash and what it read. */
  async function run(seed: number): Promise<{ hash: string; fired: number; read: string | undefined }> {
    const { loop, cluster } = await simulated(seed);
    try {
      const read = await loop.run(
        (async () => {
          cluster.addFault({ type: 'latency', ms: 20, jitterMs: 30 });
          cluster.addFault({ type: 'loss', probability: 0.2 });
          for (let i = 0; i < 40; i++) {
            await Promise.all([
              cluster.put(`k${i % 7}`, `v${i}`).catch(() => {}),
              cluster.get(`k${(i + 3) % 7}`).catch(() => {}),
            ]);
          }
          await cluster.crash(1);
          cluster.healAll();
          await cluster.restart(1);
          return (await cluster.get('k3'))?.toString();
        })(),
      );
      return { hash: loop.hash, fired: loop.fired, read };
    } finally {
      await cluster.close();
    }
  }

  test('the same seed twice gives the same event log (FoundationDB’s check); another seed another', async () => {
    const first = await run(11);
    const second = await run(11);
    assert.deepEqual(second, first);
    assert.ok(first.fired > 100, `${first.fired} events`);
    assert.notEqual((await run(12)).hash, first.hash);
  });

  test('a pause holds a node for simulated time: its answers wait, and a batch past the timeout fails', async () => {
    await inSimulation(1, 3, async (loop, cluster) => {
      await cluster.put('k', 'v');
      const node = cluster.ring.locate('k').replicas[0]!;
      cluster.addFault({ type: 'pause', nodes: [node], ms: 300 });
      const began = loop.now();
      assert.equal((await readReplica(cluster, node, 'k'))?.value, 'v');
      assert.equal(loop.now() - began, 300, 'answered once the pause was over');
      cluster.addFault({ type: 'pause', nodes: [node], ms: 800 });
      await assert.rejects(readReplica(cluster, node, 'k'), { code: 'NODE_TIMEOUT' });
    });
  });

  test('a node that answers by the timeout is not timed out, though the timer is handled before its answer', async () => {
    await inSimulation(2, 3, async (loop, cluster) => {
      // The first batch of a fresh cluster arms the timeout (500 ms) before the node, paused
      // that long, schedules its answer for the same moment: the timer comes first, as a
      // timer does on a real event loop whose thread was busy while the answer arrived.
      const began = loop.now();
      await cluster.pause(0, 500);
      assert.equal(loop.now() - began, 500, 'answered at the timeout');
      await assert.rejects(cluster.pause(0, 501), { code: 'NODE_TIMEOUT' });
    });
  });

  test('a restarted node is refilled from every replica up: one paused or cut off is waited for, not skipped', async () => {
    await inSimulation(3, 3, async (loop, cluster) => {
      const [a, b, c] = cluster.ring.locate('k').replicas as [number, number, number];
      await cluster.put('k', 'v1');
      const cut = cluster.addFault({ type: 'partition', nodes: [c] });
      await cluster.put('k', 'v2'); // acknowledged by a and b: W = 2
      await cluster.crash(a);
      // The one other copy of v2 is on b, paused; c, cut off, holds v1.
      cluster.addFault({ type: 'pause', nodes: [b], ms: 2000 });
      loop.setTimer(1000, () => cluster.healFault(cut.id));
      const began = loop.now();
      const restarted = cluster.restart(a);
      await sleep(loop, 1500);
      assert.equal(cluster.stateOf(a), 'joining', 'no reads while a source is still to copy');
      await restarted;
      assert.ok(loop.now() - began >= 2000, 'waited for b');
      assert.equal((await readReplica(cluster, a, 'k'))?.value, 'v2');
    });
  });

  test('a node crashed again during its refill and restarted: the first refill stops, the second copies everything', async () => {
    await inSimulation(5, 3, async (loop, cluster) => {
      const [a, b, c] = cluster.ring.locate('k').replicas as [number, number, number];
      await cluster.put('k', 'v1');
      const cut = cluster.addFault({ type: 'partition', nodes: [c] });
      await cluster.put('k', 'v2'); // on a and b only
      cluster.healFault(cut.id);
      await cluster.crash(a);
      cluster.addFault({ type: 'pause', nodes: [b], ms: 3000 });
      const first = cluster.restart(a);
      await sleep(loop, 500);
      await cluster.crash(a);
      await assert.rejects(first, {
        code: 'NODE_UNAVAILABLE',
        message: /crashed or left before its refill was done/,
      });
      const second = cluster.restart(a);
      await sleep(loop, 1000);
      assert.equal(cluster.stateOf(a), 'joining', 'the first refill did not end the second');
      await second;
      assert.equal((await readReplica(cluster, a, 'k'))?.value, 'v2');
      assert.equal((await cluster.get('k'))?.toString(), 'v2');
    });
  });

  test('"applied": false marks only the conditional write refused, not a write that shared its failed batch', async () => {
    await inSimulation(6, 1, async (loop, cluster) => {
      const node = cluster.ring.locate('a').replicas[0]!;
      const other = Array.from({ length: 100 }, (_, i) => `b${i}`).find(
        (k) => cluster.ring.locate(k).replicas[0] === node,
      )!;
      cluster.addFault({ type: 'pause', nodes: [node], ms: 1000 });
      // One turn, one batch to the paused node: the create's check and the plain write.
      const created = cluster.putIf('a', 'x', { ifNoneMatch: '*' }).catch((err: ThunderError) => err);
      const written = cluster.put(other, 'y').catch((err: ThunderError) => err);
      const [refused, timedOut] = (await Promise.all([created, written])) as [ThunderError, ThunderError];
      assert.deepEqual([refused.code, refused.details.applied], ['NODE_TIMEOUT', false]);
      assert.equal(timedOut.code, 'NODE_TIMEOUT');
      assert.equal(timedOut.details.applied, undefined, 'the plain write may have been applied');
      await sleep(loop, 1000);
      assert.equal((await cluster.get(other))?.toString(), 'y', 'and it was');
    });
  });
});
