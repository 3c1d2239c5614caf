import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SimLoop } from '../src/sim/loop.js';
import { INLINE_VALUE_BYTES, type Change, type ChangeType } from '../src/watch/change.js';
import { ChangeFeed, HistoryCompacted, type KeyFilter, type Subscription } from '../src/watch/change-feed.js';
import { ChangeRing, State } from '../src/watch/change-ring.js';

/** A feed on a simulated clock, keeping changes from version 0. */
function feedOf(options = { maxChanges: 100, maxAgeMs: 60_000 }) {
  const loop = new SimLoop();
  // The feed begins at version 0 (the test's writes are 1, 2, …); expiries stamp from 1001.
  let next: number | null = null;
  const feed = new ChangeFeed(loop, () => (next === null ? ((next = 1000), 0) : ++next), options, true);
  assert.equal(feed.through, 0, 'asked where it is, the feed begins keeping changes');
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

/** Stamps a write as the coordinator does, its key as UTF-8 bytes. */
function stamp(
  feed: ChangeFeed,
  version: number,
  type: ChangeType,
  key: string,
  value: Uint8Array | string | undefined,
  valueStart: number,
  expiresAt: number,
): void {
  const bytes = Buffer.from(key, 'utf8');
  feed.stamped(version, type, bytes, bytes.length, value, valueStart, expiresAt);
}

/** Waits `ms` of the loop's time. */
const wait = (loop: SimLoop, ms: number) =>
  loop.run(new Promise<void>((resolve) => loop.setTimer(ms, resolve)));

describe('the change feed', () => {
  test('releases changes in version order, each once every write stamped before it has settled; a failed write is never one', () => {
    const { feed } = feedOf();
    const { heard } = listen(feed, { prefix: '' });
    stamp(feed, 1, 'put', 'a', 'one', 0, 0);
    stamp(feed, 2, 'put', 'b', 'two', 0, 0);
    stamp(feed, 3, 'delete', 'a', undefined, 0, 0);
    stamp(feed, 4, 'put', 'c', 'four', 0, 0);
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

  test('keeps nothing until first watched: writes before cost one test, and a since from before them is refused', () => {
    const loop = new SimLoop();
    let next = 100;
    const feed = new ChangeFeed(loop, () => ++next, { maxChanges: 100, maxAgeMs: 60_000 }, true);
    stamp(feed, 1, 'put', 'early', 'x', 0, 0);
    feed.settled(1, true);
    assert.equal(feed.kept, 0);
    const refused = feed.subscribe({ prefix: '' }, 0, { change: () => assert.fail('refused') });
    assert.ok(refused instanceof HistoryCompacted, 'a write came before: 0 cannot mean everything');
    assert.equal(refused.oldest, 101, 'the feed began at a fresh version, after the write it did not keep');
    const { heard } = listen(feed, { prefix: '' }, 101);
    stamp(feed, 102, 'put', 'late', 'y', 0, 0);
    feed.settled(102, true);
    assert.deepEqual(heard, ['put late@102']);
  });

  test('a watcher resuming from a version hears every kept change after it, then the new ones, none twice', () => {
    const { feed } = feedOf();
    for (let v = 1; v <= 5; v++) {
      stamp(feed, v, 'put', `k${v}`, `v${v}`, 0, 0);
      feed.settled(v, true);
    }
    const { heard } = listen(feed, { prefix: 'k' }, 3);
    assert.deepEqual(heard, ['put k4@4', 'put k5@5']);
    stamp(feed, 6, 'put', 'k6', 'v6', 0, 0);
    feed.settled(6, true);
    assert.deepEqual(heard, ['put k4@4', 'put k5@5', 'put k6@6']);
    const fromNow = listen(feed, { prefix: 'k' });
    assert.deepEqual(fromNow.heard, [], 'no since: only what comes next');
  });

  test('a since older than what is kept is refused with the oldest version to resume from, by count and by age', async () => {
    const { loop, feed } = feedOf({ maxChanges: 3, maxAgeMs: 1000 });
    for (let v = 1; v <= 5; v++) {
      stamp(feed, v, 'put', 'k', `v${v}`, 0, 0);
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
      stamp(feed, i + 1, 'put', k, 'x', 0, 0);
      feed.settled(i + 1, true);
    });
    assert.deepEqual(key.heard, ['put user:1@1']);
    assert.deepEqual(users.heard, ['put user:1@1', 'put user:10@2']);
    assert.deepEqual(u.heard, ['put user:1@1', 'put user:10@2', 'put u@4']);
    assert.deepEqual(exact.heard, ['put user:10@2']);
    (users.subscription as Subscription).close();
    stamp(feed, 5, 'put', 'user:2', 'x', 0, 0);
    feed.settled(5, true);
    assert.deepEqual(users.heard, ['put user:1@1', 'put user:10@2'], 'closed: hears no more');
    assert.deepEqual(u.heard.at(-1), 'put user:2@5');
  });

  test('a value that expires becomes an expire change at its expiry, newer than every change before; a later write of the key cancels it', async () => {
    const { loop, feed } = feedOf();
    const { heard } = listen(feed, { prefix: '' });
    const at = loop.wall();
    stamp(feed, 1, 'put', 'a', 'x', 0, at + 100);
    stamp(feed, 2, 'put', 'b', 'x', 0, at + 200);
    stamp(feed, 3, 'put', 'c', 'x', 0, at + 50);
    for (const v of [1, 2, 3]) feed.settled(v, true);
    stamp(feed, 4, 'put', 'b', 'y', 0, 0);
    feed.settled(4, true);
    await wait(loop, 150);
    assert.deepEqual(heard.slice(4), ['expire c@1001', 'expire a@1002']);
    await wait(loop, 100);
    assert.deepEqual(heard.slice(6), [], 'b was written again without an expiry: it does not expire');
  });

  test('a watch from a version never hears a change at or below it, even one released after it (a write that waited)', () => {
    const { feed } = feedOf();
    stamp(feed, 1, 'put', 'k', 'slow', 0, 0);
    stamp(feed, 2, 'put', 'k', 'fast', 0, 0);
    feed.settled(2, true); // its client is answered; 1 still waits, so 2 is not released yet
    const { heard } = listen(feed, { prefix: '' }, 2);
    feed.settled(1, true);
    stamp(feed, 3, 'delete', 'k', undefined, 0, 0);
    feed.settled(3, true);
    assert.deepEqual(heard, ['delete k@3'], 'versions 1 and 2 are at or below since');
  });

  test('an expiry overtaken by a write of its key still waiting for its quorum is not reported', async () => {
    const { loop, feed } = feedOf();
    const { heard } = listen(feed, { prefix: '' });
    stamp(feed, 1, 'put', 'k', 'x', 0, loop.wall() + 100);
    feed.settled(1, true);
    stamp(feed, 2, 'put', 'k', 'y', 0, 0); // stamped before the expiry, acknowledged after it
    await wait(loop, 150);
    assert.deepEqual(heard, ['put k@1'], 'the expiry waits behind version 2');
    feed.settled(2, true);
    assert.deepEqual(heard, ['put k@1', 'put k@2'], 'k holds y: no expiry after it');
  });

  test('values up to INLINE_VALUE_BYTES travel (a copy), larger ones as their size; an expiry envelope is not the value', () => {
    const { feed } = feedOf();
    const { changes } = listen(feed, { prefix: '' });
    const small = Buffer.from('small value');
    stamp(feed, 1, 'put', 'a', small, 0, 0);
    small.fill(0);
    stamp(feed, 2, 'put', 'b', Buffer.alloc(INLINE_VALUE_BYTES + 1), 0, 0);
    stamp(feed, 3, 'put', 'c', 'EEEEEEEEvalue', 8, 1e15);
    for (const v of [1, 2, 3]) feed.settled(v, true);
    assert.equal(changes[0]!.value?.toString(), 'small value');
    assert.equal(changes[1]!.value, null);
    assert.equal(changes[1]!.size, INLINE_VALUE_BYTES + 1);
    assert.equal(changes[2]!.value?.toString(), 'value');
    assert.equal(changes[2]!.size, 5);
  });
});

describe('the change ring (the history kept, then the writes waiting)', () => {
  const change = (version: number, valueBytes = 90): Change => ({
    version,
    type: 'put',
    key: `key-${version}`,
    size: valueBytes,
    value: Buffer.alloc(valueBytes, version % 251),
    expiresAt: version % 2 === 0 ? 1e12 + version : 0,
  });
  /** Stamps a change as the feed does. */
  const stampIn = (ring: ChangeRing, c: Change) =>
    ring.stamp(
      c.version,
      c.type,
      Buffer.from(c.key),
      c.key.length,
      c.value!,
      0,
      c.size <= 1024,
      c.size,
      c.expiresAt,
    );
  /** Stamps, acknowledges and releases a change. */
  const keep = (ring: ChangeRing, c: Change) => {
    stampIn(ring, c);
    ring.settle(ring.tail - 1, State.Acknowledged);
    ring.release(c.version);
    ring.dropOverCount();
  };
  const kept = (c: Change): Change => (c.size <= 1024 ? c : { ...c, value: null });

  test('keeps the newest changes within its count and its bytes, whole, across wrap-arounds and growth', () => {
    const ring = new ChangeRing(1000, 64 * 1024);
    for (let v = 1; v <= 3000; v++) keep(ring, change(v));
    assert.ok(
      ring.kept > 500 && ring.kept < 1000,
      `bounded by 64 KiB of ~100-byte changes: ${ring.kept} kept`,
    );
    assert.equal(
      ring.versionAt(ring.head),
      ring.droppedThrough + 1,
      'nothing between the last dropped and the oldest kept',
    );
    for (let i = ring.head; i < ring.tail; i++) {
      const version = 3000 - (ring.tail - 1 - i);
      assert.deepEqual(ring.at(i), change(version), `change ${version}`);
    }
    const small = new ChangeRing(10, 1 << 20);
    for (let v = 1; v <= 25; v++) keep(small, change(v));
    assert.deepEqual(
      [small.kept, small.versionAt(small.head), small.droppedThrough],
      [10, 16, 15],
      'bounded by its count',
    );
  });

  test('never drops a write still waiting: the ring grows for them past its bytes', () => {
    const ring = new ChangeRing(100, 64 * 1024);
    keep(ring, change(1));
    // 2,000 writes of ~1 KiB in flight: 2 MiB waiting in a 64 KiB ring.
    for (let v = 2; v <= 2001; v++) stampIn(ring, change(v, 1000));
    assert.equal(ring.released, 1);
    for (let i = ring.released; i < ring.tail; i++) ring.settle(i, State.Acknowledged);
    for (let v = 2; v <= 2001; v++) ring.release(v);
    assert.deepEqual(ring.at(ring.released - 1), change(2001, 1000), 'the newest whole');
    assert.deepEqual(ring.at(1), change(2, 1000), 'the oldest waiting one whole too');
    ring.dropOverCount();
    assert.equal(ring.kept, 100);
  });

  test('a value too large to travel is kept as its size alone; nothing is kept when asked to keep nothing', () => {
    const ring = new ChangeRing(10, 64 * 1024);
    keep(ring, change(1, 5000));
    assert.deepEqual(ring.at(ring.head), kept(change(1, 5000)));
    const none = new ChangeRing(0, 64 * 1024);
    keep(none, change(7));
    assert.deepEqual([none.kept, none.droppedThrough], [0, 7]);
  });
});
