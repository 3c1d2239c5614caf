import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Batcher, type ReplySink } from '../src/transport/batcher.js';
import { InternalError, NodeTimeoutError, NodeUnavailableError, type ThunderError } from '../src/errors.js';
import { Op, REFUSED_FOR_MEMORY } from '../src/wire/protocol.js';
import { ReplyWriter, type Result } from '../src/wire/reply.js';

/** Records what reaches it. */
class Recorder implements ReplySink {
  readonly seen: [number, string | number | null][] = [];
  settle(tag: number, reply: Result): void {
    this.seen.push([tag, Buffer.isBuffer(reply) ? reply.toString('latin1') : reply]);
  }
  fail(tag: number, error: ThunderError): void {
    this.seen.push([tag, error.code]);
  }
}

/** Queues a Get of `key` for `sink`. */
function get(batcher: Batcher, sink: ReplySink, tag: number, key: string): void {
  const bytes = Buffer.from(key);
  batcher.writer.key(Op.Get, bytes, bytes.length, 0, 0);
  batcher.add(sink, tag);
}

/** A node's reply to batch `id`: each string a value, null absent. */
function reply(id: number, ...values: (string | null)[]): ArrayBuffer {
  const writer = new ReplyWriter();
  for (const value of values) {
    if (value === null) writer.absent();
    else writer.target.write(value, writer.payload(value.length), 'latin1');
  }
  return writer.take(id);
}

describe('Batcher', () => {
  test("a write a node refused for memory fails its caller with OUT_OF_MEMORY; the batch's other results settle", () => {
    const batcher = new Batcher();
    const sink = new Recorder();
    get(batcher, sink, 0, 'a');
    get(batcher, sink, 1, 'b');
    const id = Buffer.from(batcher.take()).readUInt32LE(0);
    const writer = new ReplyWriter();
    writer.integer(REFUSED_FOR_MEMORY);
    writer.integer(1);
    batcher.settle(writer.take(id));
    assert.deepEqual(sink.seen, [
      [0, 'OUT_OF_MEMORY'],
      [1, 1],
    ]);
  });

  test('take() hands over the queued operations as one buffer with a new id each time', () => {
    const batcher = new Batcher();
    const sink = new Recorder();
    assert.equal(batcher.dirty, false);
    get(batcher, sink, 0, 'a');
    get(batcher, sink, 1, 'b');
    assert.equal(batcher.dirty, true);
    const first = Buffer.from(batcher.take());
    assert.equal(first.readUInt32LE(0), 1);
    assert.equal(first.readUInt32LE(4), 2, 'two operations');
    assert.equal(batcher.dirty, false);
    assert.equal(batcher.pending, 2);
    get(batcher, sink, 2, 'c');
    assert.equal(Buffer.from(batcher.take()).readUInt32LE(0), 2);
  });

  test('shared batches: buffers come back once answered (a reply or a failure), never after a timeout or a crash', () => {
    const batcher = new Batcher();
    const sink = new Recorder();
    const seen = new Set<SharedArrayBuffer>();
    let id = 0;
    const send = () => {
      get(batcher, sink, id, `k${id}`);
      const batch = batcher.take(id++, true);
      assert.ok(batch instanceof SharedArrayBuffer);
      assert.deepEqual([Buffer.from(batch).readUInt32LE(0), Buffer.from(batch).readUInt32LE(4)], [id, 1]);
      seen.add(batch);
      return batch;
    };
    // Answered one at a time, by replies and by failures the node sent: two buffers take turns.
    for (let i = 0; i < 10; i++) {
      send();
      if (i % 2 === 0) batcher.settle(reply(id, 'v'));
      else batcher.fail(id, new InternalError('the node failed it'));
    }
    assert.equal(seen.size, 2);
    // Timed out: the node may still read them, so they never come back, even when answered late.
    const late = [send(), send()];
    assert.equal(batcher.expire(id, new NodeTimeoutError('late')), null);
    batcher.settle(reply(id - 1, 'v'));
    for (let i = 0; i < 10; i++) {
      const batch = send();
      assert.ok(!late.includes(batch), "a timed-out batch's buffer is not written again");
      batcher.settle(reply(id, 'v'));
    }
    // The node's thread died (a crash): what it was sent never comes back either.
    const lost = [send(), send()];
    batcher.failAll(new NodeUnavailableError('crashed'));
    id++; // failAll drops what was queued under an id of its own
    for (let i = 0; i < 10; i++) {
      const batch = send();
      assert.ok(!lost.includes(batch), "a crashed node's batch buffer is not written again");
      batcher.settle(reply(id, 'v'));
    }
    get(batcher, sink, id, 'k');
    assert.ok(batcher.take(id, false) instanceof ArrayBuffer, 'not shared when not asked');
    assert.deepEqual(sink.seen.slice(0, 2), [
      [0, 'v'],
      [1, 'INTERNAL'],
    ]);
  });

  test("settle() hands a batch's results to its own sinks by id, in order", () => {
    const batcher = new Batcher();
    const a = new Recorder();
    const b = new Recorder();
    get(batcher, a, 7, 'x');
    batcher.take(10);
    get(batcher, b, 8, 'y');
    get(batcher, a, 9, 'z');
    batcher.take(20);
    // Answered out of order: ids, not arrival, say whose results these are (and when each was sent).
    assert.equal(batcher.settle(reply(2, 'Y', null)), 20);
    assert.equal(batcher.settle(reply(1, 'X')), 10);
    assert.deepEqual(a.seen, [
      [9, null],
      [7, 'X'],
    ]);
    assert.deepEqual(b.seen, [[8, 'Y']]);
    assert.equal(batcher.pending, 0);
  });

  test('batch ids wrap from 2^32 − 1 to 1 instead of overflowing the wire', () => {
    const batcher = new Batcher(0xfffffffe);
    const sink = new Recorder();
    const ids: number[] = [];
    for (let i = 0; i < 3; i++) {
      get(batcher, sink, i, 'k');
      ids.push(Buffer.from(batcher.take()).readUInt32LE(0));
    }
    assert.deepEqual(ids, [0xfffffffe, 0xffffffff, 1]);
    assert.equal(batcher.settle(reply(0xffffffff, 'B')), 0);
    assert.equal(batcher.settle(reply(1, 'C')), 0);
    assert.deepEqual(sink.seen, [
      [1, 'B'],
      [2, 'C'],
    ]);
  });

  test('expire() fails the batches sent by a time, oldest first, and says when the next is due', () => {
    const batcher = new Batcher();
    const sink = new Recorder();
    get(batcher, sink, 1, 'a');
    batcher.take(100);
    get(batcher, sink, 2, 'b');
    batcher.take(150);
    get(batcher, sink, 3, 'c');
    batcher.take(300);
    assert.equal(batcher.expire(99, new NodeTimeoutError()), 100, 'nothing is overdue yet');
    assert.equal(batcher.expire(150, new NodeTimeoutError()), 300);
    assert.deepEqual(sink.seen, [
      [1, 'NODE_TIMEOUT'],
      [2, 'NODE_TIMEOUT'],
    ]);
    // The timed-out batch's late reply settles nobody; the one still waiting is answered.
    assert.equal(batcher.settle(reply(2, 'late')), -1);
    assert.equal(batcher.settle(reply(3, 'C')), 300);
    assert.equal(batcher.expire(1000, new NodeTimeoutError()), null);
    assert.deepEqual(sink.seen.at(-1), [3, 'C']);
    assert.equal(batcher.pending, 0);
  });

  test('a reply for a batch no longer waiting (already failed) is ignored', () => {
    const batcher = new Batcher();
    const sink = new Recorder();
    get(batcher, sink, 1, 'a');
    batcher.take();
    batcher.failAll(new NodeUnavailableError());
    get(batcher, sink, 2, 'b');
    batcher.take();
    // The late reply to batch 1 must not settle batch 3's caller.
    assert.equal(batcher.settle(reply(1, 'late')), -1);
    assert.deepEqual(sink.seen, [[1, 'NODE_UNAVAILABLE']]);
    assert.equal(batcher.pending, 1);
    assert.equal(batcher.settle(reply(3, 'B')), 0);
    assert.deepEqual(sink.seen, [
      [1, 'NODE_UNAVAILABLE'],
      [2, 'B'],
    ]);
  });

  test("fail() fails only the named batch's callers", () => {
    const batcher = new Batcher();
    const a = new Recorder();
    const b = new Recorder();
    get(batcher, a, 1, 'a');
    batcher.take();
    get(batcher, b, 2, 'b');
    batcher.take();
    assert.equal(batcher.fail(1, new InternalError('bad batch')), true);
    assert.equal(batcher.fail(1, new InternalError('again')), false);
    batcher.settle(reply(2, 'B'));
    assert.deepEqual(a.seen, [[1, 'INTERNAL']]);
    assert.deepEqual(b.seen, [[2, 'B']]);
    assert.equal(batcher.pending, 0);
  });

  test('failAll() fails what is in flight and what is queued, once each', () => {
    const batcher = new Batcher();
    const sink = new Recorder();
    get(batcher, sink, 1, 'a');
    batcher.take();
    get(batcher, sink, 2, 'b');
    batcher.failAll(new NodeUnavailableError());
    assert.deepEqual(sink.seen, [
      [1, 'NODE_UNAVAILABLE'],
      [2, 'NODE_UNAVAILABLE'],
    ]);
    assert.equal(batcher.pending, 0);
    assert.equal(batcher.dirty, false);
    // What was queued for the failed callers is not sent with the next batch.
    get(batcher, sink, 3, 'c');
    assert.equal(Buffer.from(batcher.take()).readUInt32LE(4), 1);
  });
});
