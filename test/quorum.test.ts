import assert from 'node:assert/strict';
import { test } from 'node:test';
import { quorumState } from '../src/cluster/quorum.js';

test('quorumState(): met, pending or lost for every call of up to 7 replicas, by table', () => {
  let cases = 0;
  for (let asked = 1; asked <= 7; asked++) {
    for (let needed = 1; needed <= asked; needed++) {
      for (let answered = 0; answered <= asked; answered++) {
        for (let failed = 0; answered + failed <= asked; failed++) {
          // From first principles: the replicas still out could all answer, or all fail.
          const out = asked - answered - failed;
          const expected = answered >= needed ? 'met' : answered + out >= needed ? 'pending' : 'lost';
          assert.equal(
            quorumState(asked, needed, answered, failed),
            expected,
            `${answered}+${failed} of ${asked}, ${needed}`,
          );
          cases++;
        }
      }
    }
  }
  assert.equal(cases, 630);
});

test('quorumState(): the examples that matter — R = 2 of 3 with one failure is pending, with two lost', () => {
  assert.equal(quorumState(3, 2, 0, 1), 'pending');
  assert.equal(quorumState(3, 2, 1, 1), 'pending');
  assert.equal(quorumState(3, 2, 0, 2), 'lost');
  assert.equal(quorumState(3, 2, 2, 1), 'met');
  assert.equal(quorumState(1, 1, 0, 1), 'lost');
});

test('quorumState(): impossible counts are an internal error, not an answer', () => {
  assert.throws(() => quorumState(3, 4, 0, 0), { code: 'INTERNAL' });
  assert.throws(() => quorumState(3, 0, 0, 0), { code: 'INTERNAL' });
  assert.throws(() => quorumState(3, 2, 2, 2), { code: 'INTERNAL' });
});
