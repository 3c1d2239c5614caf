import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster } from '../src/cluster/cluster.js';
import type { ThunderError } from '../src/errors.js';
import { SimLoop } from '../src/sim/loop.js';
import { inlineRunner } from '../src/transport/inline-runner.js';
import type { OpCode } from '../src/wire/protocol.js';
import { TIMEOUT, until } from './helpers.js';

test(
  'a node that dies fails every operation queued or in flight to it with NODE_UNAVAILABLE',
  TIMEOUT,
  async (t) => {
    const cluster = await Cluster.start({ nodes: 1 });
    t.after(() => cluster.close());
    // A steady stream of writes, so operations are queued and in flight when the thread dies.
    const outcomes: Promise<string>[] = [];
    let writing = true;
    const writer = (async () => {
      for (let i = 0; writing; i++) {
        outcomes.push(
          cluster.put(`k${i}`, 'v').then(
            () => 'stored',
            (err: ThunderError) => err.code,
          ),
        );
        if (i % 100 === 99) await sleep(0);
      }
    })();
    // Crashed while operations are queued and in flight (the check and the crash are one turn).
    await until(() => outcomes.length >= 500 && cluster.pending > 0, t.signal);
    await cluster.crash(0);
    writing = false;
    await writer;
    // With a node that went down without failing its waiting operations, these never settle
    // (and the test times out).
    const settled = await Promise.all(outcomes);
    const failed = settled.filter((o) => o === 'NODE_UNAVAILABLE').length;
    assert.equal(settled.filter((o) => o !== 'stored' && o !== 'NODE_UNAVAILABLE').length, 0);
    assert.ok(failed > 0, 'some operations were waiting when the node died');
    assert.equal(cluster.pending, 0, 'nothing is left waiting');
  },
);

test('a batch a node cannot apply fails its own callers only, and the node stays up', TIMEOUT, async (t) => {
  const cluster = await Cluster.start({ nodes: 1 });
  t.after(() => cluster.close());
  await cluster.put('a', '1');
  // An opcode the node does not know: its batch fails as a whole, with the node's error.
  const bad = new Promise<string>((resolve) =>
    cluster.submitTo(
      0,
      { settle: () => resolve('settled'), fail: (_tag, error) => resolve(error.code) },
      0,
      (writer) => writer.key(99 as OpCode, Buffer.from('k'), 1, 0, 0),
    ),
  );
  assert.equal(await bad, 'INTERNAL');
  assert.equal((await cluster.get('a'))?.toString(), '1', 'the next batch is answered: the node did not die');
  assert.equal((await cluster.nodes())[0]!.state, 'up');
});

test('a node that stops answering fails its waiting operations with NODE_TIMEOUT, and its late replies settle nobody', async () => {
  // Simulated time: the timeout fires at exactly 200 ms, and the late replies come at 1000.
  const loop = new SimLoop();
  // One replica: this is about the link's timeout, not about quorums.
  const cluster = await Cluster.start({
    nodes: 2,
    replicas: 1,
    timeoutMs: 200,
    clock: loop,
    runner: inlineRunner(loop),
    antiEntropyMs: 0,
  });
  try {
    await loop.run(
      (async () => {
        // Two keys on node 0, with different values: a late reply matched to the wrong caller
        // would hand one key's value to the other.
        const keys = Array.from({ length: 50 }, (_, i) => `key${i}`).filter(
          (k) => cluster.ring.nodeFor(k) === 0,
        );
        const [a, b] = keys as [string, string];
        await cluster.put(a, 'A');
        await cluster.put(b, 'B');

        const began = loop.now();
        const paused = cluster.pause(0, 1000).then(
          () => 'answered',
          (err: ThunderError) => err.code,
        );
        const during = await cluster.get(a).then(
          () => 'answered',
          (err: ThunderError) => err.code,
        );
        assert.equal(during, 'NODE_TIMEOUT');
        assert.equal(loop.now() - began, 200, 'failed at the timeout, not when the pause ended');
        assert.equal(await paused, 'NODE_TIMEOUT');
        const health = await cluster.nodes();
        assert.equal(health[0]!.error, 'NODE_TIMEOUT', 'the paused node is not answering');
        assert.equal(health[1]!.error, undefined, 'the other node answers');

        // Sent 100 ms before the pause ends, so it is in flight when the node answers its queue,
        // late: those replies are dropped, and this request gets its own value.
        await new Promise<void>((resolve) => loop.setTimer(began + 900 - loop.now(), resolve));
        assert.equal((await cluster.get(b))?.toString(), 'B');
        assert.equal(loop.now() - began, 1000, 'answered as the pause ended');
        assert.equal((await cluster.get(a))?.toString(), 'A');
        assert.equal(cluster.pending, 0);
      })(),
    );
  } finally {
    await cluster.close();
  }
});
