import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ByteMap } from '../src/byte-map.js';

/** A small deterministic generator (mulberry32), so a failing sequence replays exactly. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function bytes(random: () => number, maxLength: number): string {
  const n = Math.floor(random() * maxLength);
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(Math.floor(random() * 256));
  return s;
}

describe('ByteMap', () => {
  test('get/set/delete/sizeOf behave like a Map of byte strings', () => {
    const map = new ByteMap();
    assert.equal(map.get('a'), undefined);
    assert.equal(map.sizeOf('a'), -1);
    map.set('a', 'one');
    map.set('é', '\u0000\u00ff');
    assert.equal(map.get('a'), 'one');
    assert.equal(map.get('é'), '\u0000\u00ff');
    assert.equal(map.sizeOf('é'), 2);
    assert.equal(map.size, 2);
    assert.equal(map.bytes, 1 + 3 + 2 + 2);
    map.set('a', 'two');
    map.set('a', 'three');
    assert.equal(map.get('a'), 'three');
    assert.equal(map.delete('a'), true);
    assert.equal(map.delete('a'), false);
    assert.equal(map.get('a'), undefined);
    assert.deepEqual([...map.entries()], [['é', '\u0000\u00ff']]);
    assert.deepEqual([...map.keys()], ['é']);
    assert.equal(map.bytes, 4);
  });

  test('keys are compared by their UTF-8 bytes: no two distinct keys collide', () => {
    const map = new ByteMap();
    const keys = ['', 'a', 'A', 'é', 'e\u0301', '日本', '😀', 'a'.repeat(300), 'a'.repeat(301)];
    keys.forEach((k, i) => map.set(k, String(i)));
    keys.forEach((k, i) => assert.equal(map.get(k), String(i), JSON.stringify(k)));
    assert.equal(map.size, keys.length);
  });

  test('a record larger than a slab gets a slab of its own', () => {
    const map = new ByteMap({ slabBytes: 64 });
    const big = 'x'.repeat(1000);
    map.set('big', big);
    map.set('small', 'y');
    assert.equal(map.get('big'), big);
    assert.equal(map.get('small'), 'y');
  });

  test('a key over 64 KiB is a RangeError', () => {
    assert.throws(() => new ByteMap().set('k'.repeat(70_000), 'v'), RangeError);
  });

  for (const seed of [1, 2, 3, 42, 1234]) {
    test(`random operations agree with a Map at every step (seed ${seed}), through growth and compaction`, () => {
      const random = rng(seed);
      // Tiny slabs and index so slab turnover, compaction and growth all happen many times.
      const map = new ByteMap({ slabBytes: 256, initialSlots: 16 });
      const model = new Map<string, string>();
      const keyPool = Array.from({ length: 300 }, (_, i) => `k${i}${'é'.repeat(i % 3)}`);
      for (let step = 0; step < 20_000; step++) {
        const key = keyPool[Math.floor(random() * keyPool.length)]!;
        const r = random();
        if (r < 0.45) {
          const value = bytes(random, 40);
          map.set(key, value);
          model.set(key, value);
        } else if (r < 0.6) {
          assert.equal(map.delete(key), model.delete(key), `step ${step} delete ${key}`);
        } else {
          assert.equal(map.get(key), model.get(key), `step ${step} get ${key}`);
        }
      }
      assert.equal(map.size, model.size);
      assert.deepEqual(new Map(map.entries()), model);
      let bytesInModel = 0;
      for (const [k, v] of model) bytesInModel += Buffer.byteLength(k) + v.length;
      assert.equal(map.bytes, bytesInModel);
      // Compaction keeps memory near the live data: at most a few slabs of slack.
      assert.ok(
        map.allocatedBytes < bytesInModel * 4 + 64 * 1024,
        `allocated ${map.allocatedBytes} for ${bytesInModel}`,
      );
    });
  }

  test('overwriting the same keys forever does not grow memory without bound', () => {
    const map = new ByteMap({ slabBytes: 4096 });
    for (let round = 0; round < 200; round++) {
      for (let i = 0; i < 100; i++) map.set(`key${i}`, 'v'.repeat((round + i) % 50));
    }
    assert.equal(map.size, 100);
    assert.ok(map.allocatedBytes < 64 * 1024, `allocated ${map.allocatedBytes}`);
  });
});
