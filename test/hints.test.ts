import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { Hints } from '../src/cluster/hints.js';
import { Op } from '../src/wire/protocol.js';
import { DEFAULT_HINT_BYTES } from '../src/config.js';

const bytes = (n: number, fill = 1) => new Uint8Array(n).fill(fill);

describe('Hints', () => {
  test('the budget counts key and value bytes: a hint that fits exactly is kept, one byte more is dropped', () => {
    const hints = new Hints(100);
    hints.add(0, Op.Put, 'k1', 1, bytes(48)); // 50 bytes
    hints.add(0, Op.Put, 'k2', 2, 'v'.repeat(48)); // 50: 100 in all, exactly the budget
    assert.equal(hints.pending(0), 2);
    assert.equal(hints.dropped(0), 0);
    hints.add(0, Op.Delete, 'k', 3); // 1 byte more
    assert.equal(hints.pending(0), 2, 'past the budget nothing is kept');
    assert.equal(hints.dropped(0), 1);
  });

  test('drops are counted per node, and the budget is shared by all nodes', () => {
    const hints = new Hints(10);
    hints.add(0, Op.Put, 'a', 1, bytes(9));
    hints.add(1, Op.Put, 'b', 2, bytes(1));
    hints.add(1, Op.Put, 'c', 3, bytes(1));
    hints.add(2, Op.Delete, 'd', 4);
    assert.deepEqual(
      [0, 1, 2].map((node) => [hints.pending(node), hints.dropped(node)]),
      [
        [1, 0],
        [0, 2],
        [0, 1],
      ],
    );
  });

  test('take() hands over a node’s hints oldest first, once, and gives their bytes back to the budget', () => {
    const hints = new Hints(35);
    hints.add(0, Op.Put, 'first', 1, bytes(5));
    hints.add(1, Op.Put, 'other', 2, bytes(5));
    hints.add(0, Op.Delete, 'second', 3);
    hints.add(0, Op.PutExpiring, 'third', 4, bytes(4)); // 35 bytes in all: the budget is spent
    hints.add(1, Op.Put, 'x', 5);
    assert.equal(hints.dropped(1), 1);
    const taken = hints.take(0);
    assert.deepEqual(
      taken.map((h) => [h.op, h.key, h.version]),
      [
        [Op.Put, 'first', 1],
        [Op.Delete, 'second', 3],
        [Op.PutExpiring, 'third', 4],
      ],
    );
    assert.equal(hints.pending(0), 0);
    assert.deepEqual(hints.take(0), [], 'taken once');
    assert.equal(hints.pending(1), 1, "another node's hints stay");
    // Node 0's 25 bytes are free again; node 1's 10 are still held.
    hints.add(2, Op.Put, 'y', 6, bytes(24));
    assert.equal(hints.pending(2), 1);
    hints.add(2, Op.Put, 'z', 7);
    assert.equal(hints.dropped(2), 1, 'and no more than those');
    assert.equal(hints.dropped(1), 1, 'drops stay counted after a take');
  });

  test('values are copied as they were added; a delete keeps no value; text is one byte per char', () => {
    const hints = new Hints();
    const value = bytes(3, 7);
    hints.add(0, Op.Put, 'k', 1, value);
    value.fill(9); // the caller reuses its buffer
    hints.add(0, Op.Delete, 'k', 2, bytes(3));
    hints.add(0, Op.Put, 'k', 3, 'é\u00ff');
    const [put, del, text] = hints.take(0);
    assert.deepEqual(put!.value, Buffer.from([7, 7, 7]));
    assert.equal(del!.value, null);
    assert.deepEqual(text!.value, Buffer.from([0xe9, 0xff]));
  });

  test('the default budget is 64 MiB', () => {
    assert.equal(DEFAULT_HINT_BYTES, 64 * 1024 * 1024);
    const hints = new Hints();
    hints.add(0, Op.Put, 'k', 1, new Uint8Array(DEFAULT_HINT_BYTES - 1));
    hints.add(0, Op.Delete, 'j', 2);
    assert.deepEqual([hints.pending(0), hints.dropped(0)], [1, 1]);
  });
});
