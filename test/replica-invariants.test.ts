import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Cluster } from '../src/cluster/cluster.js';
import { murmur3 } from '../src/ring/murmur3.js';
import { SimLoop } from '../src/sim/loop.js';
import { ReplicaInvariants } from '../src/check/replica-invariants.js';
import { inlineRunner } from '../src/transport/inline-runner.js';
import { Written } from '../src/wire/protocol.js';
import { TIMEOUT } from './helpers.js';

const sleep = (loop: SimLoop, ms: number) => new Promise<void>((resolve) => loop.setTimer(ms, resolve));

/** A key as a node's store takes it: bytes and ring hash. */
function keyOf(text: string): [Buffer, number, number, number] {
  const bytes = Buffer.from(text);
  return [bytes, 0, bytes.length, murmur3(bytes, 0, bytes.length, 0)];
}

test('a purge while another node still holds an older version of the key is reported, with when and where', () => {
  let now = 0;
  const invariants = new ReplicaInvariants(() => now);
  const a = invariants.storeFor(0, {});
  const b = invariants.storeFor(1, {});
  const c = invariants.storeFor(2, {});
  const key = keyOf('k');
  for (const store of [a, b]) assert.equal(store.tombstone(...key, 5), Written.WasAbsent);
  c.records.set('k', 'old', 3); // a replica that missed the delete
  now = 42;
  assert.equal(a.purge(...key, 5), true);
  assert.deepEqual(invariants.broken, {
    count: 1,
    first: ['at 42.0 ms, node 0 purged k at version 5 while node 2 still held version 3'],
  });

  // Once the lagging copy is gone (that node killed, its memory with it), a purge is fine.
  invariants.forget(2, c);
  assert.equal(b.purge(...key, 5), true);
  assert.equal(invariants.broken.count, 1);
  assert.deepEqual(invariants.checked, { writes: 2, purges: 2 });
});

test('a node storing a version newer than the coordinator has stamped or seen is reported', () => {
  const invariants = new ReplicaInvariants(() => 0);
  let newest = 10;
  invariants.watch(() => newest);
  const store = invariants.storeFor(0, {});
  const key = keyOf('k');
  store.tombstone(...key, 10);
  assert.equal(invariants.broken.count, 0);
  store.tombstone(...key, 11);
  assert.match(invariants.broken.first[0]!, /node 0 stored k at version 11, newer than the coordinator's 10/);
  newest = 12;
  assert.equal(store.tombstone(...key, 9), Written.Stale, 'a stale write stores nothing');
  assert.equal(invariants.broken.count, 1);
});

test(
  'in the deterministic mode every write and purge of a real cluster is checked, and deletes purged after the grace hold them',
  TIMEOUT,
  async () => {
    const loop = new SimLoop();
    const invariants = new ReplicaInvariants(() => loop.now());
    const cluster = await Cluster.start({
      nodes: 3,
      seed: 7,
      clock: loop,
      runner: inlineRunner(loop, invariants),
      timeoutMs: 500,
      tombstoneGraceMs: 100,
      antiEntropyMs: 0,
    });
    invariants.watch(() => cluster.newestVersion);
    try {
      await loop.run(
        (async () => {
          const keys = Array.from({ length: 20 }, (_, i) => `key-${i}`);
          for (const key of keys) await cluster.put(key, 'one');
          for (const key of keys) await cluster.put(key, 'two');
          for (const key of keys) await cluster.delete(key, { ...cluster.consistency, w: 3 });
          await sleep(loop, 1000);
        })(),
      );
    } finally {
      await cluster.close();
    }
    // 60 writes on 3 replicas each; each of the 20 tombstones purged from its 3 replicas.
    assert.deepEqual(invariants.checked, { writes: 180, purges: 60 });
    assert.deepEqual(invariants.broken, { count: 0, first: [] });
  },
);
