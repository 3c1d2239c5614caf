import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Batcher, type ReplySink } from '../src/batcher.js';
import { NodeUnavailableError, type ThunderError } from '../src/errors.js';
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
    assert.deepEqual(batcher.take(), [Op.Get, 'a', Op.Put, 'b', 'v', Op.ListSlice, 'p', 'q', 5, 0, Op.Stats]);
    assert.equal(batcher.dirty, false);
    assert.equal(batcher.pending, 4);
  });

  test('settle() hands replies to their sinks by position, oldest batch first', () => {
    const batcher = new Batcher();
    const a = new Recorder();
    const b = new Recorder();
    batcher.push(a, 7, Op.Get, 'x');
    batcher.take();
    batcher.push(b, 8, Op.Get, 'y');
    batcher.push(a, 9, Op.Get, 'z');
    batcher.take();
    batcher.settle(['X']);
    batcher.settle(['Y', null]);
    assert.deepEqual(a.seen, [
      [7, 'X'],
      [9, null],
    ]);
    assert.deepEqual(b.seen, [[8, 'Y']]);
    assert.equal(batcher.pending, 0);
  });

  test('settle() with nothing in flight is a bug and throws', () => {
    assert.throws(() => new Batcher().settle([1]), /no batch in flight/);
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
