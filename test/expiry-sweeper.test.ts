import assert from 'node:assert/strict';
import { test } from 'node:test';
import { systemClock } from '../src/time/clock.js';
import { ExpirySweeper } from '../src/cluster/expiry-sweeper.js';
import { HASH_SPACE } from '../src/ring/murmur3.js';

test('a sweep clears every node slice by slice; a node that fails is skipped till the next sweep; nothing is sent while nothing may expire', async () => {
  const asked: [number, number][] = [];
  let mayExpire = false;
  const sweeper = new ExpirySweeper({ ...systemClock, wall: () => 10_000 }, 0, 1_000, {
    mayExpire: () => mayExpire,
    upNodes: () => [0, 1, 2],
    clearExpired: async (node, from, cutoff) => {
      assert.equal(cutoff, 9_000, 'the grace period before now');
      asked.push([node, from]);
      if (node === 1) throw new Error('node 1 went down');
      return from === 0 ? { next: HASH_SPACE / 2, cleared: 2 } : { next: HASH_SPACE, cleared: 1 };
    },
  });
  assert.equal(await sweeper.sweep(), 0);
  assert.deepEqual(asked, [], 'no TTL written yet: nothing sent');
  mayExpire = true;
  assert.equal(await sweeper.sweep(), 6);
  assert.deepEqual(asked, [
    [0, 0],
    [0, HASH_SPACE / 2],
    [1, 0],
    [2, 0],
    [2, HASH_SPACE / 2],
  ]);
  assert.equal(sweeper.cleared, 6);
});
