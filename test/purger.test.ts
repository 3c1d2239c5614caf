import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Clock } from '../src/time/clock.js';
import { Purger } from '../src/cluster/purger.js';
import { Rng } from '../src/time/rng.js';

/** A clock whose wall time the test sets; timers are recorded, never fired by themselves. */
function manualClock(): Clock & { at: number; armed: number[] } {
  const clock = {
    at: 0,
    armed: [] as number[],
    now: () => clock.at,
    wall: () => clock.at,
    setTimer: (ms: number) => {
      clock.armed.push(clock.at + ms);
      return () => {};
    },
    defer: (fire: () => void) => fire(),
  };
  return clock;
}

test('values are purged in order of expiry plus grace, however they were added, each once', () => {
  const clock = manualClock();
  const purged: [string, number][] = [];
  const purger = new Purger(clock, 100, (key, version) => purged.push([key, version]));
  const rng = new Rng(7);
  const expiries = Array.from({ length: 500 }, () => rng.int(1, 10_000));
  expiries.forEach((expiresAt, i) => purger.add(`k${i}`, i + 1, expiresAt));
  assert.equal(purger.waiting, 500);
  assert.equal(clock.armed.at(-1), Math.min(...expiries) + 100, 'armed for the earliest');
  clock.at = 5_100;
  const first = purger.purgeDue();
  assert.equal(first, expiries.filter((e) => e <= 5_000).length);
  clock.at = 20_000;
  purger.purgeDue();
  assert.equal(purger.waiting, 0);
  assert.equal(purger.purged, 500);
  const dueOf = (key: string) => expiries[Number(key.slice(1))]!;
  for (let i = 1; i < purged.length; i++) {
    assert.ok(dueOf(purged[i - 1]![0]) <= dueOf(purged[i]![0]), `purge ${i} out of order`);
  }
  assert.deepEqual(new Set(purged.map(([, v]) => v)).size, 500);
});

test('a tombstone is due when added: purged once the grace period has passed, not before', () => {
  const clock = manualClock();
  const purged: string[] = [];
  const purger = new Purger(clock, 100, (key) => purged.push(key));
  clock.at = 1_000;
  purger.add('deleted', 7);
  clock.at = 1_099;
  assert.equal(purger.purgeDue(), 0);
  clock.at = 1_100;
  assert.equal(purger.purgeDue(), 1);
  assert.deepEqual(purged, ['deleted']);
});
