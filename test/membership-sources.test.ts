import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Cluster } from '../src/cluster/cluster.js';
import { SimLoop } from '../src/sim/loop.js';
import { inlineRunner } from '../src/transport/inline-runner.js';

test(
  'a leave copies from the node giving the partition up: a write whose other acknowledging replica crashed is not lost',
  { timeout: 60_000 },
  async () => {
    const loop = new SimLoop();
    const cluster = await Cluster.start({
      nodes: 4,
      seed: 5,
      clock: loop,
      runner: inlineRunner(loop),
      antiEntropyMs: 0,
      timeoutMs: 200,
    });
    try {
      await loop.run(
        (async () => {
          const key = 'moving';
          // Its replicas in preference order: a stale one, the one that leaves, one that crashes.
          const [stale, leaving, crashing] = cluster.ring.locate(key).replicas as [number, number, number];
          await cluster.put(key, 'v1');
          // W = 2 of 3: acknowledged by the two the stale one was cut off from.
          const cut = cluster.addFault({ type: 'partition', nodes: [stale] });
          await cluster.put(key, 'v2');
          cluster.healFault(cut.id);
          // One node loses its memory: v2 now lives on the leaving node alone.
          await cluster.crash(crashing);
          await cluster.removeNode(leaving);
          await cluster.restart(crashing);
          assert.ok(!cluster.ring.locate(key).replicas.includes(leaving));
          const read = await cluster.get(key, { r: 3, w: 2, repair: 'sync' });
          assert.equal(read?.toString(), 'v2', `read from ${cluster.ring.locate(key).replicas.join(', ')}`);
        })(),
      );
    } finally {
      await cluster.close();
    }
  },
);
