import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Cluster } from '../src/cluster/cluster.js';
import { HANDOFF_RETRY_MS } from '../src/cluster/recovery.js';
import { SimLoop } from '../src/sim/loop.js';
import { inlineRunner } from '../src/transport/inline-runner.js';

const TIMEOUT_MS = 200;

test(
  'hints a node fails while up (cut off during its restart) are replayed again once it can take them: hints for an up node drain',
  { timeout: 60_000 },
  async () => {
    const loop = new SimLoop();
    const cluster = await Cluster.start({
      nodes: 3,
      seed: 11,
      clock: loop,
      runner: inlineRunner(loop),
      antiEntropyMs: 0,
      timeoutMs: TIMEOUT_MS,
    });
    const sleep = (ms: number) => new Promise<void>((resolve) => loop.setTimer(ms, resolve));
    const hintsOf = async (node: number) => (await cluster.nodes()).find((n) => n.id === node)!.hints;
    try {
      await loop.run(
        (async () => {
          await cluster.crash(2);
          for (let i = 0; i < 20; i++) await cluster.put(`h${i}`, `v${i}`);
          assert.equal(await hintsOf(2), 20);
          // Cut off as it comes back: the replay of its hints times out, and they are kept.
          const cut = cluster.addFault({ type: 'partition', nodes: [2] });
          const restarting = cluster.restart(2);
          while (cluster.stateOf(2) !== 'joining' || (await hintsOf(2)) < 20) await sleep(10);
          // The refill waits for the cut-off source to heal; the hints wait for nothing now.
          cluster.healFault(cut.id);
          const refilled = await restarting;
          assert.equal(refilled.hints, 0, 'no hint got through the cut');
          await sleep(HANDOFF_RETRY_MS + 2 * TIMEOUT_MS);
          assert.equal(cluster.stateOf(2), 'up');
          assert.equal(await hintsOf(2), 0, 'hints of a node up are replayed, not kept for its next restart');
        })(),
      );
    } finally {
      await cluster.close();
    }
  },
);
