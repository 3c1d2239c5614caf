import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Op, type NodeStats } from '../src/protocol.js';
import { Shard } from '../src/shard.js';

describe('Shard', () => {
  test('apply() runs a batch in order and answers one reply per operation', () => {
    const shard = new Shard();
    const replies = shard.apply([
      Op.Get, 'a',
      Op.Put, 'a', 'one',
      Op.Get, 'a',
      Op.Size, 'a',
      Op.Put, 'a', 'three',
      Op.Delete, 'a',
      Op.Delete, 'a',
      Op.Size, 'a',
    ]); // prettier-ignore
    assert.deepEqual(replies, [null, 1, 'one', 3, 1, 1, 0, -1]);
  });

  test('apply() throws on an unknown opcode rather than misalign replies', () => {
    assert.throws(() => new Shard().apply([99, 'x']), /unknown opcode 99/);
  });

  test('stats() counts keys, bytes (with overwrites and deletes) and operations', () => {
    const shard = new Shard();
    shard.apply([Op.Put, 'ab', 'xyz', Op.Put, 'ab', 'x', Op.Put, 'c', '12345', Op.Delete, 'c']);
    const stats = shard.apply([Op.Stats])[0] as NodeStats;
    assert.equal(stats.keys, 1);
    assert.equal(stats.bytes, 3);
    assert.ok(stats.storeBytes > 0);
    assert.equal(stats.ops, 5);
    assert.ok(stats.heapUsed > 0);
  });

  test('scan() returns sorted keys with the prefix after the cursor, at most limit', () => {
    const shard = new Shard();
    for (const k of ['b3', 'a1', 'b1', 'b2', 'c1', 'b10']) shard.put(k, 'v');
    assert.deepEqual(shard.scan('b', '', 10), ['b1', 'b10', 'b2', 'b3']);
    assert.deepEqual(shard.scan('b', '', 2), ['b1', 'b10']);
    assert.deepEqual(shard.scan('b', 'b10', 2), ['b2', 'b3']);
    assert.deepEqual(shard.scan('', 'b3', 10), ['c1']);
  });

  test('snapshot() is the inside of a JSON object, values decoded as UTF-8', () => {
    const shard = new Shard();
    shard.put('k"1', 'caf\u00c3\u00a9'); // the UTF-8 bytes of "café" as a byte string
    shard.put('k2', '');
    assert.deepEqual(JSON.parse('{' + shard.snapshot() + '}'), { 'k"1': 'café', k2: '' });
  });
});
