import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ReplySink } from '../src/transport/batcher.js';
import { NodeTimeoutError, type ThunderError } from '../src/errors.js';
import { KeyCalls, type KeySink, type ReplicaSender } from '../src/cluster/key-call.js';
import { Op } from '../src/wire/protocol.js';
import { ReplyReader, ReplyWriter, type Result } from '../src/wire/reply.js';

/** A Get's record as a node answers it: version (negative: tombstone), then the value. */
function record(version: number, value: string): Buffer {
  const writer = new ReplyWriter();
  const at = writer.record(Math.abs(version), 0, value.length, version < 0);
  writer.target.write(value, at, 'latin1');
  return new ReplyReader(writer.take(1)).next() as Buffer;
}

/** A sender that records what is sent and, when told, fails repairs as they are sent. */
class Sender implements ReplicaSender {
  sent: { node: number; op: number; version: number }[] = [];
  failRepairs = false;
  repairs = 0;
  sendKey(node: number, sink: ReplySink, tag: number, op: number, _key: string, version: number): void {
    this.sent.push({ node, op, version });
    if (this.failRepairs) sink.fail(tag, new NodeTimeoutError('no answer'));
  }
  tombstoneWritten(): void {}
  expiringWritten(): void {}
  repaired(): void {
    this.repairs++;
  }
  wall(): number {
    return Date.UTC(2026, 0, 1);
  }
}

/** A client that keeps what it heard. */
class Client implements KeySink {
  heard: (string | null)[] = [];
  settle(_tag: number, reply: Result, version: number): void {
    this.heard.push(reply instanceof Buffer ? `${reply.toString('latin1')}@${version}` : String(reply));
  }
  fail(_tag: number, error: ThunderError): void {
    this.heard.push(error.code);
  }
}

describe('KeyCalls', () => {
  test('a read answers the newest of R answers, then repairs the stale replica once all have answered', () => {
    const sender = new Sender();
    const calls = new KeyCalls(sender);
    const client = new Client();
    const base = calls.begin(client, 0, Op.Get, 'k', [4, 5, 6], 2, false, 0);
    calls.settle(base + 0, record(10, 'old'));
    calls.settle(base + 1, record(20, 'new'));
    assert.deepEqual(client.heard, ['new@20']);
    assert.equal(sender.sent.length, 0, 'no repair before every replica answered');
    calls.settle(base + 2, null);
    assert.deepEqual(sender.sent, [
      { node: 4, op: Op.Put, version: 20 },
      { node: 6, op: Op.Put, version: 20 },
    ]);
    assert.equal(calls.size, 0, 'the slot is free again');
  });

  test('a blocking repair that fails turns the read into QUORUM_NOT_MET', () => {
    const sender = new Sender();
    sender.failRepairs = true;
    const calls = new KeyCalls(sender);
    const client = new Client();
    const base = calls.begin(client, 0, Op.Get, 'k', [0, 1, 2], 3, true, 0);
    calls.settle(base + 0, record(20, 'new'));
    calls.settle(base + 1, record(20, 'new'));
    calls.settle(base + 2, record(10, 'old'));
    assert.deepEqual(client.heard, ['QUORUM_NOT_MET']);
    assert.equal(calls.size, 0);
  });

  test('too many failures refuse once with QUORUM_NOT_MET; a late answer changes nothing', () => {
    const sender = new Sender();
    const calls = new KeyCalls(sender);
    const client = new Client();
    const base = calls.begin(client, 7, Op.Put, 'k', [0, 1, 2], 2, false, 99);
    calls.fail(base + 0, new NodeTimeoutError('slow'));
    assert.deepEqual(client.heard, []);
    calls.fail(base + 1, new NodeTimeoutError('slow'));
    assert.deepEqual(client.heard, ['QUORUM_NOT_MET']);
    calls.settle(base + 2, 1);
    assert.deepEqual(client.heard, ['QUORUM_NOT_MET']);
    assert.equal(calls.size, 0);
    // With one replica there is no quorum to speak of: its own error.
    const single = new Client();
    calls.fail(calls.begin(single, 0, Op.Put, 'k', [0], 1, false, 100), new NodeTimeoutError('slow'));
    assert.deepEqual(single.heard, ['NODE_TIMEOUT']);
  });

  test('slots are reused: many calls in flight, then none', () => {
    const calls = new KeyCalls(new Sender());
    const client = new Client();
    const bases = Array.from({ length: 1000 }, (_, i) =>
      calls.begin(client, i, Op.Put, `k${i}`, [0], 1, false, i + 1),
    );
    assert.equal(calls.size, 1000);
    for (const base of bases) calls.settle(base, 1);
    assert.equal(calls.size, 0);
    assert.equal(client.heard.length, 1000);
  });
});
