import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { KeyBytes } from '../src/key-bytes.js';
import { Op, type OpCode } from '../src/protocol.js';
import {
  BatchWriter,
  readBatch,
  readListSlice,
  readSnapshotSlice,
  ReplyReader,
  ReplyWriter,
  writeListSlice,
  writeSnapshotSlice,
  type BatchHandler,
} from '../src/wire.js';

/** Every operation a batch carried, as the node's handler saw it. */
function decode(batch: ArrayBuffer): { id: number; seen: unknown[] } {
  const seen: unknown[] = [];
  const handler: BatchHandler = {
    key: (op, buf, start, length, hash, valueStart, valueLength) =>
      seen.push({
        op,
        key: buf.toString('utf8', start, start + length),
        hash,
        value: op === Op.Put ? Buffer.from(buf.subarray(valueStart, valueStart + valueLength)) : undefined,
      }),
    list: (prefix, after, limit, from) => seen.push({ op: Op.ListSlice, prefix, after, limit, from }),
    snapshot: (from, maxBytes) => seen.push({ op: Op.SnapshotSlice, from, maxBytes }),
    stats: () => seen.push({ op: Op.Stats }),
    pause: (ms) => seen.push({ op: Op.Pause, ms }),
  };
  return { id: readBatch(batch, handler), seen };
}

describe('wire', () => {
  const every = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const MAX_VALUE = 1024 * 1024;
  const longKey = 'k'.repeat(1020) + 'é日'; // 1,025 UTF-8 bytes: past the default key limit
  const biggest = Buffer.alloc(MAX_VALUE, 0xab);

  test('every operation round-trips: keys at the limit, every byte value, empty and 1 MiB values', () => {
    const key = new KeyBytes();
    const writer = new BatchWriter();
    const put = (k: string, value: Uint8Array | string) => {
      const length = key.encode(k);
      writer.key(Op.Put, key.buffer, length, key.hash(), value);
    };
    const op = (code: OpCode, k: string) => {
      const length = key.encode(k);
      writer.key(code, key.buffer, length, key.hash());
    };
    put('bytes', every);
    put('empty', Buffer.alloc(0));
    put(longKey, biggest);
    put('latin1', '\u0000\u00ff\u0080abc'); // a byte string: one char per byte
    op(Op.Get, longKey);
    op(Op.Delete, '日本');
    op(Op.Size, '');
    writer.list('pré', 'après', 1001, 2 ** 32 - 1);
    writer.snapshot(123_456, 256 * 1024);
    writer.stats();
    writer.pause(2500);
    const batch = writer.take(0xfffffffe);
    const { id, seen } = decode(batch);
    assert.equal(id, 0xfffffffe);
    const hash = (k: string) => (key.encode(k), key.hash());
    assert.deepEqual(seen, [
      { op: Op.Put, key: 'bytes', hash: hash('bytes'), value: every },
      { op: Op.Put, key: 'empty', hash: hash('empty'), value: Buffer.alloc(0) },
      { op: Op.Put, key: longKey, hash: hash(longKey), value: biggest },
      { op: Op.Put, key: 'latin1', hash: hash('latin1'), value: Buffer.from([0, 255, 128, 97, 98, 99]) },
      { op: Op.Get, key: longKey, hash: hash(longKey), value: undefined },
      { op: Op.Delete, key: '日本', hash: hash('日本'), value: undefined },
      { op: Op.Size, key: '', hash: hash(''), value: undefined },
      { op: Op.ListSlice, prefix: 'pré', after: 'après', limit: 1001, from: 2 ** 32 - 1 },
      { op: Op.SnapshotSlice, from: 123_456, maxBytes: 256 * 1024 },
      { op: Op.Stats },
      { op: Op.Pause, ms: 2500 },
    ]);
    // The writer starts over clean: the next batch holds only what comes after.
    writer.stats();
    assert.deepEqual(decode(writer.take(7)), { id: 7, seen: [{ op: Op.Stats }] });
  });

  test('every result round-trips: values of every byte, empty, 1 MiB; absent; integers; slices', () => {
    const reply = new ReplyWriter();
    const value = (bytes: Buffer) => {
      const at = reply.payload(bytes.length);
      bytes.copy(reply.target, at);
    };
    value(every);
    value(Buffer.alloc(0));
    value(biggest);
    reply.absent();
    reply.integer(0);
    reply.integer(1);
    reply.integer(MAX_VALUE);
    writeListSlice(reply, { next: 2 ** 32, keys: ['a', 'é', longKey] });
    writeSnapshotSlice(reply, { next: 99, json: '"k":"v"' });
    reply.text('{"keys":1}');
    const reader = new ReplyReader(reply.take(42));
    assert.equal(reader.id, 42);
    assert.equal(reader.count, 10);
    assert.deepEqual(reader.next(), every);
    assert.deepEqual(reader.next(), Buffer.alloc(0));
    assert.deepEqual(reader.next(), biggest);
    assert.equal(reader.next(), null);
    assert.equal(reader.next(), 0);
    assert.equal(reader.next(), 1);
    assert.equal(reader.next(), MAX_VALUE);
    assert.deepEqual(readListSlice(reader.next() as Buffer), { next: 2 ** 32, keys: ['a', 'é', longKey] });
    assert.deepEqual(readSnapshotSlice(reader.next() as Buffer), { next: 99, json: '"k":"v"' });
    assert.equal((reader.next() as Buffer).toString(), '{"keys":1}');
  });

  test('a batch with an unknown opcode is refused, not read out of step', () => {
    const writer = new BatchWriter();
    writer.key(99 as OpCode, Buffer.from('x'), 1, 0);
    assert.throws(() => decode(writer.take(1)), /unknown opcode 99/);
  });
});
