import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NodeUnavailableError, type ThunderError } from '../src/errors.js';
import { copyPartitions, type CopyChannel } from '../src/cluster/partition-copy.js';
import type { ReplySink } from '../src/transport/batcher.js';
import { emptyPartitionSet, addPartition } from '../src/ring/partition-set.js';
import { RECORD_SLICE_HEADER } from '../src/wire/slices.js';

/** One record as a scan slice carries it: hash, key length, version, expiry, value length, key, value. */
function record(key: string, hash: number, version: number, value: string): Buffer {
  const out = Buffer.alloc(RECORD_SLICE_HEADER + key.length + value.length);
  out.writeUInt32LE(hash, 0);
  out.writeUInt16LE(key.length, 4);
  out.writeDoubleLE(version, 6);
  out.writeDoubleLE(0, 14);
  out.writeUInt32LE(value.length, 22);
  out.write(key, RECORD_SLICE_HEADER, 'latin1');
  out.write(value, RECORD_SLICE_HEADER + key.length, 'latin1');
  return out;
}

test('copyPartitions(): the source failing its next scan while a slice’s writes are in flight rejects the copy, and leaves no unhandled rejection', async () => {
  const unhandled: unknown[] = [];
  const listener = (err: unknown) => unhandled.push(err);
  process.on('unhandledRejection', listener);
  try {
    const crashed = new NodeUnavailableError('node 1 is down');
    const pending: ReplySink[] = [];
    let failScan!: (error: ThunderError) => void;
    let scans = 0;
    const channel: CopyChannel = {
      scan: () => {
        scans++;
        // The first slice, then a second that fails once the source crashes.
        if (scans === 1) return Promise.resolve({ next: 1000, records: record('k', 5, 1, 'v') });
        return new Promise((_resolve, reject) => (failScan = reject));
      },
      write: (_node, sink) => pending.push(sink),
    };
    const only = emptyPartitionSet(8);
    addPartition(only, 0);
    const copying = copyPartitions(channel, 1, only, () => [2]);
    // The first slice's write is in flight, and the second scan asked for.
    while (pending.length === 0 || scans < 2) await new Promise((resolve) => setImmediate(resolve));
    failScan(crashed);
    // Turns pass with the rejection unawaited: the write has not been acknowledged yet.
    for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
    pending[0]!.settle(0, 1);
    await assert.rejects(copying, (err) => err === crashed);
    assert.deepEqual(unhandled, []);
  } finally {
    process.off('unhandledRejection', listener);
  }
});
