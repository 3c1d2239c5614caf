import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SimLoop } from '../src/sim/loop.js';
import { INLINE_VALUE_BYTES, type Change } from '../src/watch/change.js';
import { ChangeFeed, HistoryCompacted, type KeyFilter, type Subscription } from '../src/watch/change-feed.js';
import { ChangeRing } from '../src/watch/change-ring.js';

/** A feed on a simulated clock whose versions for expiries continue from 1000. */
function feedOf(options = { maxChanges: 100, maxAgeMs: 60_000 }) {
  const loop = new SimLoop();
  let next = 1000;
  const feed = new ChangeFeed(loop, () => ++next, options, 0);
  return { loop, feed };
}

/** What a subscriber heard, as `type key@version`. */
function listen(feed: ChangeFeed, filter: KeyFilter, since?: number) {
  const heard: string[] = [];
  const changes: Change[] = [];
  const subscription = feed.subscribe(filter, since, {
    change: (change) => {
      heard.push(`${change.type} ${change.key}@${change.version}`);
      changes.push(change);
    },
  });
  return { heard, changes, subscription };
}

/** Waits `ms` of the loop's time. */
const wait = (loop: SimLoop, ms: number) =>
  loop.run(new Promise<void>((resolve) => loop.setTimer(ms, resolve)));

describe('the change feed', () => {
  test('releases changes in version order, each once every write stamped before it has settled; a failed write is never one', () => {
    const { feed } = feedOf();
    const { heard } = listen(feed, { prefix: '' });
    feed.stamped(1, 'put', 'a', 'one', 0, 0);
    feed.stamped(2, 'put', 'b', 'two', 0, 0);
    feed.stamped(3, 'delete', 'a', undefined, 0, 0);
    feed.stamped(4, 'put', 'c', 'four', 0, 0);
    feed.settled(2, true);
    feed.settled(3, true);
    assert.deepEqual(heard, [], 'version 1 has not settled: nothing after it is released');
    assert.equal(feed.through, 0);
    feed.settled(1, false);
    assert.deepEqual(heard, ['put b@2', 'delete a@3'], 'version 1 failed its quorum: not an event');
    assert.equal(feed.through, 3);
    feed.settled(4, true);
    feed.settled(4, true);
    assert.deepEqual(heard, ['put b@2', 'delete a@3', 'put c@4'], 'settled twice, heard once');
    assert.equal(feed.through, 4);
  });

  test('a watcher resuming from a version hears every kept change after it, then the new ones, none twice', () => {
    const { feed } = feedOf();
    for (let v = 1; v <= 5; v++) {
      feed.stamped(v, 'put', `k${v}`, `v${v}`, 0, 0);
      feed.settled(v, true);
    }
    const { heard } = listen(feed, { prefix: 'k' }, 3);
    assert.deepEqual(heard, ['put k4@4', 'put k5@5']);
    feed.stamped(6, 'put', 'k6', 'v6', 0, 0);
    feed.settled(6, true);
    assert.deepEqual(heard, ['put k4@4', 'put k5@5', 'put k6@6']);
    const fromNow = listen(feed, { prefix: 'k' });
    assert.deepEqual(fromNow.heard, [], 'no since: only what comes next');
  });

  test('a since older than what is kept is refused with the oldest version to resume from, by count and by age', async () => {
    const { loop, feed } = feedOf({ maxChanges: 3, maxAgeMs: 1000 });
    for (let v = 1; v <= 5; v++) {
      feed.stamped(v, 'put', 'k', `v${v}`, 0, 0);
      feed.settled(v, true);
    }
    assert.equal(feed.kept, 3);
    assert.equal(feed.oldest, 2, 'versions 1 and 2 were dropped: resume from 2 or later');
    const refused = feed.subscribe({ key: 'k' }, 1, { change: () => assert.fail('refused') });
    assert.ok(refused instanceof HistoryCompacted);
    assert.equal(refused.oldest, 2);
    assert.deepEqual(listen(feed, { key: 'k' }, 2).heard, ['put k@3', 'put k@4', 'put k@5']);
    await wait(loop, 1001);
    const aged = feed.subscribe({ key: 'k' }, 4, { change: () => assert.fail('refused') });
    assert.ok(aged instanceof HistoryCompacted, 'every change is older than 1000 ms now');
    assert.equal(aged.oldest, 5);
    assert.deepEqual(listen(feed, { key: 'k' }, 5).heard, [], 'resuming from the newest loses nothing');
  });

  test('a key watcher hears its key only; prefix watchers of any length hear their keys', () => {
    const { feed } = feedOf();
    const key = listen(feed, { key: 'user:1' });
    const users = listen(feed, { prefix: 'user:' });
    const u = listen(feed, { prefix: 'u' });
    const exact = listen(feed, { prefix: 'user:10' });
    const keys = ['user:1', 'user:10', 'order:1', 'u'];
    keys.forEach((k, i) => {
      feed.stamped(i + 1, 'put', k, 'x', 0, 0);
      feed.settled(i + 1, true);
    });
    assert.deepEqual(key.heard, ['put user:1@1']);
    assert.deepEqual(users.heard, ['put user:1@1', 'put user:10@2']);
    assert.deepEqual(u.heard, ['put user:1@1', 'put user:10@2', 'put u@4']);
    assert.deepEqual(exact.heard, ['put user:10@2']);
    (users.subscription as Subscription).close();
    feed.stamped(5, 'put', 'user:2', 'x', 0, 0);
    feed.settled(5, true);
    assert.deepEqual(users.heard, ['put user:1@1', 'put user:10@2'], 'closed: hears no more');
    assert.deepEqual(u.heard.at(-1), 'put user:2@5');
  });

  test('a value that expires becomes an expire change at its expiry, newer than every change before; a later write of the key cancels it', async () => {
    const { loop, feed } = feedOf();
    const { heard } = listen(feed, { prefix: '' });
    const at = loop.wall();
    feed.stamped(1, 'put', 'a', 'x', 0, at + 100);
    feed.stamped(2, 'put', 'b', 'x', 0, at + 200);
    feed.stamped(3, 'put', 'c', 'x', 0, at + 50);
    for (const v of [1, 2, 3]) feed.settled(v, true);
    feed.stamped(4, 'put', 'b', 'y', 0, 0);
    feed.settled(4, true);
    await wait(loop, 150);
    assert.deepEqual(heard.slice(4), ['expire c@1001', 'expire a@1002']);
    await wait(loop, 100);
    assert.deepEqual(heard.slice(6), [], 'b was written again without an expiry: it does not expire');
  });

  test('values up to INLINE_VALUE_BYTES travel (a copy), larger ones as their size; an expiry envelope is not the value', () => {
    const { feed } = feedOf();
    const { changes } = listen(feed, { prefix: '' });
    const small = Buffer.from('small value');
    feed.stamped(1, 'put', 'a', small, 0, 0);
    small.fill(0);
    feed.stamped(2, 'put', 'b', Buffer.alloc(INLINE_VALUE_BYTES + 1), 0, 0);
    feed.stamped(3, 'put', 'c', 'EEEEEEEEvalue', 8, 1e15);
    for (const v of [1, 2, 3]) feed.settled(v, true);
    assert.equal(changes[0]!.value?.toString(), 'small value');
    assert.equal(changes[1]!.value, null);
    assert.equal(changes[1]!.size, INLINE_VALUE_BYTES + 1);
    assert.equal(changes[2]!.value?.toString(), 'value');
    assert.equal(changes[2]!.size, 5);
  });
});

describe('the change ring (the history kept)', () => {
  const change = (version: number, valueBytes = 90): Change => ({
    version,
    type: 'put',
    key: `key-${version}`,
    size: valueBytes,
    value: Buffer.alloc(valueBytes, version % 251),
    expiresAt: version % 2 === 0 ? 1e12 + version : 0,
  });

  test('keeps the newest changes within its count and its bytes, whole, across wrap-arounds and growth', () => {
    const ring = new ChangeRing(1000, 64 * 1024);
    let compacted = 0;
    for (let v = 1; v <= 3000; v++) {
      const dropped = ring.push(change(v), v);
      if (dropped !== 0) {
        assert.ok(dropped > compacted, 'the oldest go first');
        compacted = dropped;
      }
    }
    assert.ok(
      ring.size > 500 && ring.size < 1000,
      `bounded by 64 KiB of ~100-byte changes: ${ring.size} kept`,
    );
    assert.equal(
      ring.versionAt(ring.head),
      compacted + 1,
      'nothing between the last dropped and the oldest kept',
    );
    for (let i = ring.head; i < ring.tail; i++) {
      const version = 3000 - (ring.tail - 1 - i);
      assert.deepEqual(ring.at(i), change(version), `change ${version}`);
    }
    const small = new ChangeRing(10, 1 << 20);
    for (let v = 1; v <= 25; v++) small.push(change(v), v);
    assert.deepEqual([small.size, small.versionAt(small.head)], [10, 16], 'bounded by its count');
  });

  test('keeps nothing when asked to keep nothing, and no change larger than itself', () => {
    assert.equal(new ChangeRing(0, 1 << 20).push(change(7), 0), 7);
    const ring = new ChangeRing(100, 64 * 1024);
    ring.push(change(1), 0);
    assert.equal(ring.push(change(2, 70 * 1024), 0), 2);
    assert.deepEqual([ring.size, ring.versionAt(ring.head)], [1, 1]);
  });
});
