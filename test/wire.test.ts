import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { KeyBytes } from '../src/ring/key-bytes.js';
import { Op, type OpCode } from '../src/wire/protocol.js';
import { BatchWriter, readBatch, type BatchHandler } from '../src/wire/batch.js';
import { recordExpiresAt, recordValue, recordVersion, ReplyReader, ReplyWriter } from '../src/wire/reply.js';
import { readListPage, readSnapshotSlice, writeListPage, writeSnapshotSlice } from '../src/wire/slices.js';

/** Every operation a batch carried, as the node's handler saw it. */
function decode(batch: ArrayBuffer): { id: number; seen: unknown[] } {
  const seen: unknown[] = [];
  const handler: BatchHandler = {
    key: (op, buf, start, length, hash, version, valueStart, valueLength) =>
      seen.push({
        op,
        key: buf.toString('utf8', start, start + length),
        hash,
        version,
        value:
          op === Op.Put || op === Op.PutExpiring
            ? Buffer.from(buf.subarray(valueStart, valueStart + valueLength))
            : undefined,
      }),
    list: (prefix, after, limit, asOf) => seen.push({ op: Op.ListPage, prefix, after, limit, asOf }),
    snapshot: (from, maxBytes, only, asOf) =>
      seen.push({
        op: Op.SnapshotSlice,
        from,
        maxBytes,
        asOf,
        only: only && { partitions: only.partitions, bits: [...only.bits] },
      }),
    scanRecords: (from, maxBytes, only) =>
      seen.push({
        op: Op.ScanRecords,
        from,
        maxBytes,
        only: { partitions: only.partitions, bits: [...only.bits] },
      }),
    stats: () => seen.push({ op: Op.Stats }),
    digests: () => seen.push({ op: Op.Digests }),
    partitionStats: () => seen.push({ op: Op.PartitionStats }),
    dropPartitions: (from, only) =>
      seen.push({ op: Op.DropPartitions, from, only: { partitions: only.partitions, bits: [...only.bits] } }),
    pause: (ms) => seen.push({ op: Op.Pause, ms }),
    clearExpired: (from, cutoff) => seen.push({ op: Op.ClearExpired, from, cutoff }),
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
    const hash = (k: string) => (key.encode(k), key.hash());
    const writer = new BatchWriter();
    const put = (k: string, value: Uint8Array | string, version: number) => {
      const length = key.encode(k);
      writer.key(Op.Put, key.buffer, length, key.hash(), version, value);
    };
    const op = (code: OpCode, k: string, version = 0) => {
      const length = key.encode(k);
      writer.key(code, key.buffer, length, key.hash(), version);
    };
    put('bytes', every, Number.MAX_SAFE_INTEGER);
    put('empty', Buffer.alloc(0), 1);
    put(longKey, biggest, 2 ** 40 + 17);
    put('latin1', '\u0000\u00ff\u0080abc', 3); // a byte string: one char per byte
    op(Op.Get, longKey);
    op(Op.Delete, '日本', 99);
    op(Op.Size, '');
    op(Op.Purge, 'p', 12345);
    const envelope = Buffer.concat([Buffer.from(Float64Array.of(1_767_225_600_123).buffer), every]);
    writer.key(Op.PutExpiring, Buffer.from('ttl'), 3, hash('ttl'), 4, envelope);
    writer.list('pré', 'après', 1001, 1_767_225_600_001);
    writer.snapshot(123_456, 256 * 1024, null, 1_767_225_600_002);
    writer.snapshot(0, 1, { partitions: 10, bits: Uint8Array.from([0b1000_0001, 0b10]) }, 0);
    writer.clearExpired(2 ** 31, 1_767_225_600_003);
    writer.stats();
    writer.pause(2500);
    const batch = writer.take(0xfffffffe);
    const { id, seen } = decode(batch);
    assert.equal(id, 0xfffffffe);
    assert.deepEqual(seen, [
      { op: Op.Put, key: 'bytes', hash: hash('bytes'), version: Number.MAX_SAFE_INTEGER, value: every },
      { op: Op.Put, key: 'empty', hash: hash('empty'), version: 1, value: Buffer.alloc(0) },
      { op: Op.Put, key: longKey, hash: hash(longKey), version: 2 ** 40 + 17, value: biggest },
      {
        op: Op.Put,
        key: 'latin1',
        hash: hash('latin1'),
        version: 3,
        value: Buffer.from([0, 255, 128, 97, 98, 99]),
      },
      { op: Op.Get, key: longKey, hash: hash(longKey), version: 0, value: undefined },
      { op: Op.Delete, key: '日本', hash: hash('日本'), version: 99, value: undefined },
      { op: Op.Size, key: '', hash: hash(''), version: 0, value: undefined },
      { op: Op.Purge, key: 'p', hash: hash('p'), version: 12345, value: undefined },
      { op: Op.PutExpiring, key: 'ttl', hash: hash('ttl'), version: 4, value: envelope },
      { op: Op.ListPage, prefix: 'pré', after: 'après', limit: 1001, asOf: 1_767_225_600_001 },
      { op: Op.SnapshotSlice, from: 123_456, maxBytes: 256 * 1024, asOf: 1_767_225_600_002, only: null },
      {
        op: Op.SnapshotSlice,
        from: 0,
        maxBytes: 1,
        asOf: 0,
        only: { partitions: 10, bits: [0b1000_0001, 0b10] },
      },
      { op: Op.ClearExpired, from: 2 ** 31, cutoff: 1_767_225_600_003 },
      { op: Op.Stats },
      { op: Op.Pause, ms: 2500 },
    ]);
    // The writer starts over clean: the next batch holds only what comes after.
    writer.stats();
    assert.deepEqual(decode(writer.take(7)), { id: 7, seen: [{ op: Op.Stats }] });
  });

  test('every result round-trips: records of every byte, empty, 1 MiB, tombstones; absent; integers; slices', () => {
    const reply = new ReplyWriter();
    const value = (bytes: Buffer, version: number, expiresAt = 0) => {
      const at = reply.record(version, expiresAt, bytes.length, false);
      bytes.copy(reply.target, at);
    };
    value(every, Number.MAX_SAFE_INTEGER);
    value(Buffer.alloc(0), 1);
    value(biggest, 2 ** 40, 1_767_225_600_123);
    reply.record(77, 0, 0, true);
    reply.absent();
    reply.integer(0);
    reply.integer(1);
    reply.integer(MAX_VALUE);
    const keys = ['a', 'é', longKey].map((key) => Buffer.from(key));
    writeListPage(
      reply,
      true,
      keys.map((key) => key.length),
      (i, target, at) => keys[i]!.copy(target, at),
    );
    writeListPage(reply, false, [], () => {});
    writeSnapshotSlice(reply, { next: 99, json: '"k":"v"' });
    reply.text('{"keys":1}');
    const reader = new ReplyReader(reply.take(42));
    assert.equal(reader.id, 42);
    assert.equal(reader.count, 12);
    const record = () => {
      const payload = reader.next() as Buffer;
      return {
        version: recordVersion(payload),
        expiresAt: recordExpiresAt(payload),
        value: recordValue(payload),
      };
    };
    assert.deepEqual(record(), { version: Number.MAX_SAFE_INTEGER, expiresAt: 0, value: every });
    assert.deepEqual(record(), { version: 1, expiresAt: 0, value: Buffer.alloc(0) });
    assert.deepEqual(record(), { version: 2 ** 40, expiresAt: 1_767_225_600_123, value: biggest });
    assert.deepEqual(record(), { version: -77, expiresAt: 0, value: Buffer.alloc(0) });
    assert.equal(reader.next(), null);
    assert.equal(reader.next(), 0);
    assert.equal(reader.next(), 1);
    assert.equal(reader.next(), MAX_VALUE);
    const page = readListPage(reader.next() as Buffer);
    assert.equal(page.ready, true);
    assert.deepEqual(
      [0, 2, 4].map((i) => page.payload.toString('utf8', page.bounds[i], page.bounds[i + 1])),
      ['a', 'é', longKey],
    );
    assert.equal(page.bounds.length, 6);
    const notReady = readListPage(reader.next() as Buffer);
    assert.equal(notReady.ready, false);
    assert.deepEqual(notReady.bounds, []);
    assert.deepEqual(readSnapshotSlice(reader.next() as Buffer), { next: 99, json: '"k":"v"' });
    assert.equal((reader.next() as Buffer).toString(), '{"keys":1}');
  });

  test('a batch with an unknown opcode is refused, not read out of step', () => {
    const writer = new BatchWriter();
    writer.key(99 as OpCode, Buffer.from('x'), 1, 0, 0);
    assert.throws(() => decode(writer.take(1)), /unknown opcode 99/);
  });
});
