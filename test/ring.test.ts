import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import murmur from 'murmurhash3js-revisited';
import { murmur3 } from '../src/ring/murmur3.js';
import { Ring } from '../src/ring/ring.js';

describe('Ring', () => {
  // Published MurmurHash3 x86_32 vectors (SMHasher's verification strings).
  const vectors: [string, number, number][] = [
    ['', 0, 0x00000000],
    ['', 1, 0x514e28b7],
    ['', 0xffffffff, 0x81f16f39],
    ['\0\0\0\0', 0, 0x2362f9de],
    ['aaaa', 0x9747b28c, 0x5a97808a],
    ['Hello, world!', 0x9747b28c, 0x24884cba],
    ['The quick brown fox jumps over the lazy dog', 0x9747b28c, 0x2fa826cd],
    ['test', 0, 0xba6bd213],
  ];
  for (const [input, seed, expected] of vectors) {
    test(`murmur3() of ${JSON.stringify(input)} with seed ${seed.toString(16)} is ${expected.toString(16)}`, () => {
      const bytes = Buffer.from(input, 'utf8');
      assert.equal(murmur3(bytes, 0, bytes.length, seed), expected);
      // In place: the same bytes inside a larger buffer hash the same.
      const framed = Buffer.concat([Buffer.from('xyz'), bytes, Buffer.from('!')]);
      assert.equal(murmur3(framed, 3, 3 + bytes.length, seed), expected);
      if (seed === 0) assert.equal(new Ring({ nodes: 1 }).hash(input), expected);
    });
  }

  test('hash() hashes the UTF-8 bytes of non-ASCII keys', () => {
    const ring = new Ring({ nodes: 1 });
    for (const key of ['é', '日本', 'a/b c', '😀']) {
      assert.equal(ring.hash(key), murmur.x86.hash32(new Uint8Array(Buffer.from(key, 'utf8'))), key);
    }
  });

  test('hash() handles keys longer than its scratch buffer and stays correct afterwards', () => {
    const ring = new Ring({ nodes: 3 });
    const before = ring.hash('test');
    const long = 'k'.repeat(5000) + '日本語'.repeat(1000);
    const h1 = ring.hash(long);
    assert.equal(ring.hash(long), h1);
    assert.equal(ring.hash('test'), before);
    assert.equal(new Ring({ nodes: 1 }).hash(long), h1);
  });

  test('default settings spread 100k random keys over 3 nodes within max/mean 1.05', () => {
    const ring = new Ring({ nodes: 3 });
    const counts = [0, 0, 0];
    for (let i = 0; i < 100_000; i++) counts[ring.nodeFor(randomUUID())]!++;
    const mean = 100_000 / 3;
    const ratio = Math.max(...counts) / mean;
    assert.ok(ratio <= 1.05, `max/mean is ${ratio.toFixed(4)} (${counts.join(', ')})`);
  });

  test('partitions are shared out evenly', () => {
    assert.deepEqual([...new Ring({ nodes: 3 }).partitionCounts().values()], [342, 341, 341]);
    assert.deepEqual([...new Ring({ nodes: 1, partitions: 16 }).partitionCounts().values()], [16]);
  });

  for (const [nodes, replicas] of [
    [3, 3],
    [3, 1],
    [4, 2],
    [8, 3],
  ] as const) {
    test(`withNode() on ${nodes} nodes, ${replicas} replicas, moves exactly the new node's share and keeps lists distinct; withoutNode() moves only its copies`, () => {
      const ring = new Ring({ nodes, replicas });
      const joined = ring.withNode(nodes);
      const moves = ring.movesTo(joined);
      const ideal = (1024 * replicas) / (nodes + 1);
      assert.ok(
        moves.length <= ideal && moves.length >= ideal - 1,
        `${moves.length} copies moved, ideal ${ideal}`,
      );
      assert.ok(
        moves.every((m) => m.target === nodes),
        'only the new node gains copies',
      );
      for (let p = 0; p < 1024; p++) assert.equal(new Set(joined.preferenceList(p)).size, replicas);
      // Its share of owned partitions too, so reads and snapshots spread to it.
      const owned = joined.partitionCounts().get(nodes)!;
      assert.ok(Math.abs(owned - 1024 / (nodes + 1)) <= 1, `owns ${owned}`);
      const copies = [...joined.replicaCounts().values()];
      assert.ok(Math.max(...copies) - Math.min(...copies) <= 2, `copies per node ${copies.join(',')}`);

      if (nodes > replicas) {
        const left = ring.withoutNode(0);
        const leaving = ring.movesTo(left);
        assert.equal(leaving.length, ring.replicaCounts().get(0));
        assert.ok(
          leaving.every((m) => m.from.includes(0)),
          'only the leaving node’s copies move',
        );
        assert.deepEqual(left.members, ring.members.slice(1));
        for (let p = 0; p < 1024; p++) assert.equal(new Set(left.preferenceList(p)).size, replicas);
        const after = [...left.replicaCounts().values()];
        assert.ok(Math.max(...after) - Math.min(...after) <= 2, `copies per node ${after.join(',')}`);
      } else {
        assert.throws(() => ring.withoutNode(0), /cannot hold/);
      }
    });
  }

  test('locate() is deterministic: a pinned owner table', () => {
    const ring = new Ring({ nodes: 3 });
    const pinned = Object.fromEntries(
      ['foo', 'bar', 'baz', 'user:1', 'user:2', 'é'].map((k) => [k, ring.locate(k)]),
    );
    assert.deepEqual(pinned.foo, { hash: 4138058784, partition: 986, node: 2, replicas: [2] });
    for (const [key, where] of Object.entries(pinned)) {
      const again = new Ring({ nodes: 3 }).locate(key);
      assert.deepEqual(again, where);
      assert.equal(where.partition, Math.floor((where.hash * 1024) / 2 ** 32));
      assert.equal(where.node, where.partition % 3);
    }
  });

  test('nodeFor() agrees with locate()', () => {
    const ring = new Ring({ nodes: 5, partitions: 64 });
    for (let i = 0; i < 1000; i++) assert.equal(ring.nodeFor(`k${i}`), ring.locate(`k${i}`).node);
  });

  test('every preference list holds `replicas` distinct nodes, led by the partition owner', () => {
    for (const [nodes, replicas, partitions] of [
      [3, 3, 1024],
      [4, 3, 1024],
      [5, 2, 64],
      [16, 3, 1024],
      [7, 7, 16],
    ] as const) {
      const ring = new Ring({ nodes, replicas, partitions });
      const share = new Array<number>(nodes).fill(0);
      for (let p = 0; p < partitions; p++) {
        const list = ring.preferenceList(p);
        assert.equal(list.length, replicas);
        assert.equal(new Set(list).size, replicas, `partition ${p}: ${list.join(',')} are distinct`);
        assert.equal(list[0], ring.ownerOf(p));
        list.forEach((node, i) => assert.equal(ring.replicaOf(p, i), node));
        for (const node of list) share[node]!++;
      }
      // Every node holds about replicas/nodes of the partitions.
      const ideal = (partitions * replicas) / nodes;
      for (const n of share) assert.ok(Math.abs(n - ideal) <= replicas, `${n} copies, ideal ${ideal}`);
    }
  });

  test('preference lists are stable: the same settings give the same table (pinned)', () => {
    const ring = new Ring({ nodes: 4, replicas: 3, partitions: 8 });
    const table = Array.from({ length: 8 }, (_, p) => ring.preferenceList(p));
    assert.deepEqual(table, [
      [0, 1, 2],
      [1, 2, 3],
      [2, 3, 0],
      [3, 0, 1],
      [0, 1, 2],
      [1, 2, 3],
      [2, 3, 0],
      [3, 0, 1],
    ]);
    assert.deepEqual(new Ring({ nodes: 4, replicas: 3, partitions: 8 }).locate('foo'), ring.locate('foo'));
  });

  const bad: [string, ConstructorParameters<typeof Ring>[0], RegExp][] = [
    ['zero nodes', { nodes: 0 }, /nodes must be/],
    ['more replicas than nodes', { nodes: 2, replicas: 3 }, /replicas must be/],
    ['zero replicas', { nodes: 2, replicas: 0 }, /replicas must be/],
    ['fractional nodes', { nodes: 1.5 }, /nodes must be/],
    ['fewer partitions than nodes', { nodes: 4, partitions: 3 }, /partitions must be/],
  ];
  for (const [what, options, message] of bad) {
    test(`new Ring() rejects ${what} with a RangeError naming the option`, () => {
      assert.throws(
        () => new Ring(options),
        (err: Error) => err instanceof RangeError && message.test(err.message),
      );
    });
  }
});
