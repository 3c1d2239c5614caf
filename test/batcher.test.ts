import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Batcher, type ReplySink } from '../src/batcher.js';
import { InternalError, NodeUnavailableError, type ThunderError } from '../src/errors.js';
import { Op, type Reply } from '../src/protocol.js';

/** Records what reaches it. */
class Recorder implements ReplySink {
  readonly seen: [number, Reply | string][] = [];
  settle(tag: number, reply: Reply): void {
    this.seen.push([tag, reply]);
  }
  fail(tag: number, error: ThunderError): void {
    this.seen.push([tag, error.code]);
  }
}

describe('Batcher', () => {
  test('take() packs queued operations into one flat batch with their operands', () => {
    const batcher = new Batcher();
    const sink = new Recorder();
    batcher.push(sink, 0, Op.Get, 'a');
    batcher.push(sink, 1, Op.Put, 'b', 'v');
    batcher.push(sink, 2, Op.ListSlice, 'p', 'q', 5, 0);
    batcher.push(sink, 3, Op.Stats);
    assert.equal(batcher.dirty, true);
    assert.deepEqual(batcher.take(), [
      1,
      Op.Get,
      'a',
      Op.Put,
      'b',
      'v',
      Op.ListSlice,
      'p',
      'q',
      5,
      0,
      Op.Stats,
    ]);
    assert.equal(batcher.dirty, false);
    assert.equal(batcher.pending, 4);
  });

  test("settle() hands a batch's replies to its own sinks by id, in order", () => {
    const batcher = new Batcher();
    const a = new Recorder();
    const b = new Recorder();
    batcher.push(a, 7, Op.Get, 'x');
    assert.equal(batcher.take()[0], 1);
    batcher.push(b, 8, Op.Get, 'y');
    batcher.push(a, 9, Op.Get, 'z');
    assert.equal(batcher.take()[0], 2);
    // Answered out of order: ids, not arrival, say whose replies these are.
    assert.equal(batcher.settle([2, 'Y', null]), true);
    assert.equal(batcher.settle([1, 'X']), true);
    assert.deepEqual(a.seen, [
      [9, null],
      [7, 'X'],
    ]);
    assert.deepEqual(b.seen, [[8, 'Y']]);
    assert.equal(batcher.pending, 0);
  });

  test('a reply for a batch no longer waiting (failed, timed out) is ignored', () => {
    const batcher = new Batcher();
    const sink = new Recorder();
    batcher.push(sink, 1, Op.Get, 'a');
    batcher.take();
    batcher.failAll(new NodeUnavailableError());
    batcher.push(sink, 2, Op.Get, 'b');
    batcher.take();
    // The late reply to batch 1 must not settle batch 2's caller.
    assert.equal(batcher.settle([1, 'late']), false);
    assert.deepEqual(sink.seen, [[1, 'NODE_UNAVAILABLE']]);
    assert.equal(batcher.pending, 1);
    assert.equal(batcher.settle([3, 'B']), true);
    assert.deepEqual(sink.seen, [
      [1, 'NODE_UNAVAILABLE'],
      [2, 'B'],
    ]);
  });

  test("fail() fails only the named batch's callers", () => {
    const batcher = new Batcher();
    const a = new Recorder();
    const b = new Recorder();
    batcher.push(a, 1, Op.Get, 'a');
    batcher.take();
    batcher.push(b, 2, Op.Get, 'b');
    batcher.take();
    assert.equal(batcher.fail(1, new InternalError('bad batch')), true);
    assert.equal(batcher.fail(1, new InternalError('again')), false);
    batcher.settle([2, 'B']);
    assert.deepEqual(a.seen, [[1, 'INTERNAL']]);
    assert.deepEqual(b.seen, [[2, 'B']]);
    assert.equal(batcher.pending, 0);
  });

  test('failAll() fails what is in flight and what is queued, once each', () => {
    const batcher = new Batcher();
    const sink = new Recorder();
    batcher.push(sink, 1, Op.Get, 'a');
    batcher.take();
    batcher.push(sink, 2, Op.Get, 'b');
    batcher.failAll(new NodeUnavailableError());
    assert.deepEqual(sink.seen, [
      [1, 'NODE_UNAVAILABLE'],
      [2, 'NODE_UNAVAILABLE'],
    ]);
    assert.equal(batcher.pending, 0);
    assert.equal(batcher.dirty, false);
  });
});
