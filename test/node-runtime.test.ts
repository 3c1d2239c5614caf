import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { KeyBytes } from '../src/ring/key-bytes.js';
import { HASH_SPACE } from '../src/ring/murmur3.js';
import { DIGEST_ABOVE_BYTES, Op, type NodeStats, type OpCode } from '../src/wire/protocol.js';
import { NodeRuntime } from '../src/node/runtime.js';
import { NodeStore } from '../src/node/store.js';
import { Written } from '../src/wire/protocol.js';
import { BatchWriter } from '../src/wire/batch.js';
import { isDigest, recordValue, recordVersion, ReplyReader } from '../src/wire/reply.js';

type Operation =
  | ['get' | 'size' | 'digest', string]
  | ['delete', string, number]
  | ['put', string, string, number]
  | ['purge', string, number]
  | ['stats'];

/** Encodes operations as the front end does, with each key's ring hash. */
function batch(id: number, ...operations: Operation[]): ArrayBuffer {
  const writer = new BatchWriter();
  const key = new KeyBytes();
  for (const operation of operations) {
    if (operation[0] === 'stats') {
      writer.stats();
      continue;
    }
    const length = key.encode(operation[1]);
    const hash = key.hash();
    switch (operation[0]) {
      case 'put':
        writer.key(Op.Put, key.buffer, length, hash, operation[3], operation[2]);
        break;
      case 'delete':
        writer.key(Op.Delete, key.buffer, length, hash, operation[2]);
        break;
      case 'purge':
        writer.key(Op.Purge, key.buffer, length, hash, operation[2]);
        break;
      default: {
        const op = { get: Op.Get, size: Op.Size, digest: Op.GetDigest }[operation[0]];
        writer.key(op, key.buffer, length, hash, 0);
      }
    }
  }
  return writer.take(id);
}

/** A reply's id and results, payloads as byte strings. */
function results(reply: ArrayBuffer | SharedArrayBuffer): [number, ...(string | number | null)[]] {
  const reader = new ReplyReader(reply);
  const out: [number, ...(string | number | null)[]] = [reader.id];
  for (let i = 0; i < reader.count; i++) {
    const result = reader.next();
    out.push(Buffer.isBuffer(result) ? result.toString('latin1') : result);
  }
  return out;
}

/** A Get's record as `version:value`, the version negative for a tombstone. */
function record(result: string | number | null | undefined): string | null {
  if (typeof result !== 'string') return null;
  const bytes = Buffer.from(result, 'latin1');
  return `${recordVersion(bytes)}:${recordValue(bytes).toString('latin1')}`;
}

describe('NodeRuntime over a NodeStore', () => {
  test('with sharedReplies, a reply is a SharedArrayBuffer of its own holding the same results', () => {
    const shared = new NodeRuntime(new NodeStore(), { sharedReplies: true });
    const plain = new NodeRuntime(new NodeStore());
    const ops: Operation[] = [
      ['put', 'a', 'one', 10],
      ['get', 'a'],
      ['get', 'b'],
    ];
    const first = shared.apply(batch(3, ...ops));
    const second = shared.apply(batch(4, ['get', 'a']));
    assert.ok(first instanceof SharedArrayBuffer && second instanceof SharedArrayBuffer);
    assert.notEqual(first, second);
    assert.deepEqual(results(first), results(plain.apply(batch(3, ...ops))));
    assert.ok(plain.apply(batch(5, ['get', 'a'])) instanceof ArrayBuffer);
  });

  test('GetDigest answers a large value by its version alone, a small one and a tombstone whole', () => {
    const node = new NodeRuntime(new NodeStore());
    const large = 'x'.repeat(DIGEST_ABOVE_BYTES + 1);
    const small = 'y'.repeat(DIGEST_ABOVE_BYTES);
    const reply = node.apply(
      batch(
        7,
        ['put', 'large', large, 10],
        ['put', 'small', small, 11],
        ['delete', 'gone', 12],
        ['digest', 'large'],
        ['digest', 'small'],
        ['digest', 'gone'],
        ['digest', 'absent'],
      ),
    );
    const [, , , , l, s, g, a] = results(reply);
    const bytes = (r: unknown) => Buffer.from(r as string, 'latin1');
    assert.deepEqual([isDigest(bytes(l)), recordVersion(bytes(l)), bytes(l).length], [true, 10, 16]);
    assert.deepEqual([isDigest(bytes(s)), record(s)], [false, `11:${small}`]);
    assert.deepEqual([isDigest(bytes(g)), record(g)], [false, '-12:']);
    assert.equal(a, null);
  });

  test('apply() runs a batch in order and answers its id, then one result per operation', () => {
    const store = new NodeStore();
    const node = new NodeRuntime(store);
    const reply = node.apply(
      batch(
        41,
        ['get', 'a'],
        ['put', 'a', 'one', 10],
        ['get', 'a'],
        ['size', 'a'],
        ['put', 'a', 'three', 20],
        ['delete', 'a', 30],
        ['delete', 'a', 40],
        ['size', 'a'],
        ['get', 'a'],
      ),
    );
    const [id, ...out] = results(reply);
    assert.equal(id, 41);
    // Puts and deletes answer what they did: 1 written over nothing, 2 over a value.
    assert.deepEqual(
      out.slice(0, 9).map((r, i) => ([2, 8].includes(i) ? record(r) : r)),
      [
        null,
        Written.WasAbsent,
        '10:one',
        3,
        Written.WasLive,
        Written.WasLive,
        Written.WasAbsent,
        null,
        '-40:',
      ],
    );
    assert.equal(store.get('a'), undefined);
  });

  test('the newest version wins whatever order writes arrive in; a tombstone holds off older writes', () => {
    const store = new NodeStore();
    const node = new NodeRuntime(store);
    const [, ...out] = results(
      node.apply(
        batch(
          1,
          ['put', 'k', 'new', 20],
          ['put', 'k', 'old', 10],
          ['put', 'k', 'same', 20],
          ['get', 'k'],
          ['delete', 'k', 30],
          ['put', 'k', 'late', 25],
          ['get', 'k'],
          ['purge', 'k', 29],
          ['purge', 'k', 30],
          ['get', 'k'],
          ['put', 'k', 'after', 26],
          ['get', 'k'],
        ),
      ),
    );
    assert.deepEqual(
      out.map((r, i) => ([3, 6, 9, 11].includes(i) ? record(r) : r)),
      [
        Written.WasAbsent,
        Written.Stale,
        Written.Stale,
        '20:new',
        Written.WasLive,
        Written.Stale,
        '-30:',
        0, // a purge names the tombstone's exact version
        1,
        null,
        Written.WasAbsent, // once purged, nothing holds off an old write: hence the grace period
        '26:after',
      ],
    );
  });

  test('apply() throws on an unknown opcode rather than misalign results, and the next batch is clean', () => {
    const store = new NodeStore();
    const node = new NodeRuntime(store);
    const writer = new BatchWriter();
    writer.key(Op.Get, Buffer.from('a'), 1, 0, 0);
    writer.key(99 as OpCode, Buffer.from('x'), 1, 0, 0);
    assert.throws(() => node.apply(writer.take(1)), /unknown opcode 99/);
    assert.deepEqual(results(node.apply(batch(2, ['get', 'b']))), [2, null]);
  });

  test('stats() counts keys, bytes (with overwrites and deletes) and operations', () => {
    const store = new NodeStore();
    const node = new NodeRuntime(store);
    node.apply(
      batch(1, ['put', 'ab', 'xyz', 1], ['put', 'ab', 'x', 2], ['put', 'c', '12345', 3], ['delete', 'c', 4]),
    );
    const [, text] = results(node.apply(batch(2, ['stats'])));
    const stats = JSON.parse(text as string) as NodeStats;
    assert.equal(stats.keys, 1);
    assert.equal(stats.tombstones, 1);
    assert.equal(stats.bytes, 3);
    assert.ok(stats.storeBytes > 0);
    assert.equal(stats.ops, 5);
    assert.ok(stats.heapUsed > 0);
  });

  test('snapshotSlice() covers every pair once, values decoded as UTF-8, each slice cut by bytes', () => {
    const store = new NodeStore();
    store.put('k"1', 'caf\u00c3\u00a9'); // the UTF-8 bytes of "café" as a byte string
    store.put('k2', '');
    for (let i = 0; i < 2000; i++) store.put(`n${i}`, 'x'.repeat(100));
    const parts: string[] = [];
    for (let from = 0; from < HASH_SPACE;) {
      const slice = store.snapshotSlice(from, 4096);
      assert.ok(slice.json.length < 4096 + 200, `slice of ${slice.json.length} chars`);
      if (slice.json) parts.push(slice.json);
      from = slice.next;
    }
    assert.ok(parts.length > 40, `${parts.length} slices`);
    const all = JSON.parse('{' + parts.join(',') + '}') as Record<string, string>;
    assert.equal(Object.keys(all).length, 2002);
    assert.equal(all['k"1'], 'café');
    assert.equal(all['k2'], '');
    assert.equal(all['n1999'], 'x'.repeat(100));
  });
});
