import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ByteMap } from '../src/node/byte-map.js';
import { scrambleFor } from '../src/node/scramble.js';
import { Written } from '../src/wire/protocol.js';
import { KeyBytes } from '../src/ring/key-bytes.js';

const keyBytes = new KeyBytes();
import { Ring } from '../src/ring/ring.js';
import { HASH_SPACE } from '../src/ring/murmur3.js';

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

  test('overwriting a key whose record moves while its slab is retired keeps the map sound', () => {
    // The reviewer's case: the overwrite's append retires and compacts the slab that held
    // the old record, which must then be released where compaction moved it.
    const map = new ByteMap({ slabBytes: 64 });
    map.set('a', 'x'.repeat(10));
    map.set('b', 'y'.repeat(20));
    map.delete('b');
    map.set('a', 'z'.repeat(30));
    for (const key of ['c', 'd', 'e', 'f']) map.set(key, key.repeat(25));
    assert.equal(map.get('a'), 'z'.repeat(30));
    assert.deepEqual([...map.entries()].map(([k]) => k).sort(), ['a', 'c', 'd', 'e', 'f']);
  });

  for (const [seed, keys] of [
    [1, 300],
    [2, 300],
    [3, 300],
    [42, 300],
    [1234, 300],
    [7, 4], // few keys: overwrites keep meeting their own old record in the slab being retired
    [8, 3],
  ] as const) {
    test(`random operations agree with a Map at every step (seed ${seed}, ${keys} keys), through growth and compaction`, () => {
      const random = rng(seed);
      // Tiny slabs and index so slab turnover, compaction and growth all happen many times.
      const map = new ByteMap({ slabBytes: 256, initialSlots: 16 });
      const model = new Map<string, string>();
      // Half the values expire: their records carry an expiry between key and value.
      const expiries = new Map<string, number>();
      const expiryOf = (key: string) => {
        const length = keyBytes.encode(key);
        const location = map.locate(keyBytes.buffer, 0, length, keyBytes.hash());
        return location === 0 ? undefined : map.expiresAtOf(location);
      };
      const keyPool = Array.from({ length: keys }, (_, i) => `k${i}${'é'.repeat(i % 3)}`);
      for (let step = 0; step < 20_000; step++) {
        const key = keyPool[Math.floor(random() * keyPool.length)]!;
        const r = random();
        if (r < 0.45) {
          const value = bytes(random, keys < 10 ? 200 : 40);
          const expiresAt = random() < 0.5 ? 0 : 1_700_000_000_000 + step;
          map.set(key, value, undefined, expiresAt);
          model.set(key, value);
          expiries.set(key, expiresAt);
        } else if (r < 0.6) {
          assert.equal(map.delete(key), model.delete(key), `step ${step} delete ${key}`);
          expiries.delete(key);
        } else {
          assert.equal(map.get(key), model.get(key), `step ${step} get ${key}`);
          assert.equal(expiryOf(key), expiries.get(key), `step ${step} expiry of ${key}`);
        }
      }
      const expiring = [...expiries.values()].filter((at) => at !== 0).length;
      assert.equal(map.expiring, expiring);
      assert.equal(map.size, model.size);
      assert.deepEqual(new Map(map.entries()), model);
      let bytesInModel = 0;
      for (const [k, v] of model) bytesInModel += Buffer.byteLength(k) + v.length;
      assert.equal(map.bytes, bytesInModel);
      // Every slab but the current one is at least half live, so slabs hold at most twice
      // the live records (6-byte headers included) plus one slab of slack; the index adds
      // 12 bytes a slot.
      const records = bytesInModel + 6 * model.size + 8 * expiring;
      const index = 12 * 2 ** Math.ceil(Math.log2(Math.max(16, model.size / 0.75)));
      assert.ok(
        map.allocatedBytes <= 2 * records + 2 * 256 + 2 * index,
        `allocated ${map.allocatedBytes} for ${records} bytes of records`,
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

  test('putting and deleting large values forever gives the space back', () => {
    // Every record dies while its slab is current: such slabs must still be freed.
    const map = new ByteMap({ slabBytes: 4 << 20 });
    const big = 'v'.repeat(1 << 20);
    for (let i = 0; i < 200; i++) {
      map.set(`k${i % 3}`, big);
      map.delete(`k${i % 3}`);
      map.set('small', `x${i}`);
    }
    assert.equal(map.size, 1);
    assert.ok(map.allocatedBytes <= (4 << 20) * 2 + 64 * 1024, `allocated ${map.allocatedBytes}`);
  });

  test('a slab left with a few long-lived records is compacted once it is no longer current', () => {
    const map = new ByteMap({ slabBytes: 4096 });
    for (let round = 0; round < 500; round++) {
      // A long-lived key, then a large value that dies while its slab is still current:
      // each slab retires holding a few live bytes and thousands of dead ones.
      map.set(`keep${round}`, 'k');
      map.set('big', 'x'.repeat(1000));
      map.delete('big');
    }
    assert.equal(map.size, 500);
    assert.ok(map.allocatedBytes < 64 * 1024, `allocated ${map.allocatedBytes} for 500 small records`);
    for (let round = 0; round < 500; round++) assert.equal(map.get(`keep${round}`), 'k');
  });

  test('visitRange() visits every key present throughout exactly once, across growth and deletes', () => {
    const map = new ByteMap({ initialSlots: 16 });
    const stable = Array.from({ length: 2000 }, (_, i) => `stable${i}`);
    for (const key of stable) map.set(key, 'v');
    const seen = new Map<string, number>();
    let step = 0;
    for (let from = 0; from < HASH_SPACE; step++) {
      from = map.visitRange(from, 64, (_hash, location) => {
        const key = map.keyAt(location);
        seen.set(key, (seen.get(key) ?? 0) + 1);
      });
      // Between slices the map changes shape: it grows, and deletes shift probe runs back.
      for (let i = 0; i < 40; i++) map.set(`churn${step}-${i}`, 'x');
      for (let i = 0; i < 30; i++) map.delete(`churn${step}-${i}`);
    }
    for (const key of stable) assert.equal(seen.get(key), 1, key);
  });
});

describe('ByteMap scrambles', () => {
  test('each node scrambles with its own odd multiplier, and ringHashOf() undoes it', () => {
    const multipliers = Array.from({ length: 64 }, (_, node) => scrambleFor(node));
    assert.equal(new Set(multipliers).size, 64);
    assert.ok(multipliers.every((m) => (m & 1) === 1));
    for (const scramble of multipliers.slice(0, 4)) {
      const map = new ByteMap({ scramble });
      for (const key of ['a', 'b', 'é', 'x'.repeat(100)]) map.set(key, 'v');
      const seen: number[] = [];
      for (let from = 0; from < 2 ** 32;)
        from = map.visitRange(from, 1024, (hash) => seen.push(map.ringHashOf(hash)));
      assert.deepEqual(
        seen.sort(),
        ['a', 'b', 'é', 'x'.repeat(100)].map((k) => new Ring({ nodes: 1 }).hash(k)).sort(),
      );
    }
    assert.throws(() => new ByteMap({ scramble: 2 }), /odd/);
  });

  test("a slice of one node's index spreads over another node's index instead of crowding one range", () => {
    // Keys in node 0's index order, as a copy sends them: where do they land in node 1's?
    const source = new ByteMap({ scramble: scrambleFor(0) });
    for (let i = 0; i < 20_000; i++) source.set(`k${i}`, '');
    const slice: number[] = [];
    source.visitRange(0, 1024, (hash) => slice.push(source.ringHashOf(hash)));
    const home = (hash: number) => (Math.imul(hash, scrambleFor(1)) >>> 0) >>> 22; // 1,024 home slots
    const homes = new Set(slice.map(home));
    assert.ok(slice.length > 500, `${slice.length} keys in the slice`);
    assert.ok(
      homes.size > 0.5 * Math.min(slice.length, 1024),
      `${slice.length} keys on ${homes.size} of 1,024 home slots`,
    );
  });
});

describe('ByteMap: values that expire', () => {
  const at = (key: string) => {
    const length = keyBytes.encode(key);
    return [keyBytes.buffer.subarray(0, length), keyBytes.hash()] as const;
  };

  test('a write over a value judges it by its expiry; a purge removes only a tombstone or a value that expires, of that version', () => {
    const map = new ByteMap();
    map.set('k', 'old', 1, 1000);
    const [key, hash] = at('k');
    const write = (version: number, asOf: number, expiresAt = 0) =>
      map.store(key, 0, key.length, hash, Buffer.from('new'), 0, 3, version, false, expiresAt, asOf);
    // Before its expiry the old value was there; at or after it, it was not.
    assert.equal(write(2, 999, 5000), Written.WasLive);
    assert.equal(write(3, 5000), Written.WasAbsent);
    assert.equal(map.expiring, 0, 'written over without an expiry');
    assert.equal(map.remove(key, 0, key.length, hash, 3), false, 'a value that never expires is not purged');
    map.set('k', 'v', 4, 6000);
    assert.equal(map.remove(key, 0, key.length, hash, 3), false, 'another version is not purged');
    assert.equal(map.remove(key, 0, key.length, hash, 4), true);
    assert.equal(map.size, 0);
    assert.equal(map.expiring, 0);
  });

  test('an expiring record and a plain one of the same value length are written over in place, and read back right', () => {
    const map = new ByteMap();
    map.set('a', 'xxxx', 1);
    map.set('a', 'yyyy', 2, 123_456);
    map.set('b', 'zzzz', 1, 99);
    map.set('b', 'wwww', 2);
    assert.equal(map.get('a'), 'yyyy');
    assert.equal(map.get('b'), 'wwww');
    const [a, ha] = at('a');
    assert.equal(map.expiresAtOf(map.locate(a, 0, a.length, ha)), 123_456);
    assert.ok(map.isLiveAt(map.locate(a, 0, a.length, ha), 123_455));
    assert.ok(!map.isLiveAt(map.locate(a, 0, a.length, ha), 123_456));
    assert.equal(map.expiring, 1);
    assert.equal(map.bytes, 2 + 8, 'bytes count keys and values, not expiries');
  });
});
