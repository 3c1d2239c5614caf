import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ByteMap } from '../src/node/byte-map.js';
import { BUILD_SLOTS, FAN_IN, KeyOrder, NOTED_STEP_KEYS } from '../src/node/key-order.js';
import { NodeRuntime } from '../src/node/runtime.js';
import { LIST_IDLE_MS, NodeStore } from '../src/node/store.js';
import { compareKeys, KeyBytes } from '../src/ring/key-bytes.js';
import { murmur3 } from '../src/ring/murmur3.js';
import { Rng } from '../src/time/rng.js';
import { Op } from '../src/wire/protocol.js';
import { BatchWriter } from '../src/wire/batch.js';

/** A listing's time (Unix ms): values expiring before it are left out. */
const AS_OF = 1_800_000_000_000;

/** Asks for a page until the shard is ready, as Cluster.list does; the page and how many asks it took. */
function ask(
  shard: NodeStore,
  prefix: string,
  after: string,
  limit: number,
): { keys: string[]; asks: number } {
  for (let asks = 1; ; asks++) {
    const page = shard.listPage(prefix, after, limit, AS_OF);
    if (page.ready) return { keys: page.keys, asks };
  }
}

/** Every key with `prefix` after `after`, a page of `limit` at a time, as a client walks `next`. */
function listAll(shard: NodeStore, prefix: string, after: string, limit: number): string[] {
  const keys: string[] = [];
  for (;;) {
    const page = ask(shard, prefix, after, limit + 1).keys;
    keys.push(...page.slice(0, limit));
    if (page.length <= limit) return keys;
    after = page[limit - 1]!;
  }
}

/**
 * Writes through the shard's batch path, as replicas are written: versioned, optionally
 * expiring. Writes gather in one batch, applied by {@link flush}.
 */
class Writer {
  readonly #node: NodeRuntime;
  readonly #key = new KeyBytes();
  readonly #batch = new BatchWriter();
  #version = 0;

  constructor(shard: NodeStore) {
    this.#node = new NodeRuntime(shard);
  }

  put(key: string, expiresAt = 0): void {
    const length = this.#key.encode(key);
    const [bytes, hash, version] = [this.#key.buffer, this.#key.hash(), ++this.#version];
    if (expiresAt === 0) return this.#batch.key(Op.Put, bytes, length, hash, version, 'v');
    const envelope = Buffer.concat([Buffer.from(Float64Array.of(expiresAt).buffer), Buffer.from('v')]);
    this.#batch.key(Op.PutExpiring, bytes, length, hash, version, envelope);
  }

  /** Deletes `key`, leaving a tombstone; with `purge`, then removes the tombstone too. */
  delete(key: string, purge = false): void {
    const length = this.#key.encode(key);
    const [bytes, hash, version] = [this.#key.buffer, this.#key.hash(), ++this.#version];
    this.#batch.key(Op.Delete, bytes, length, hash, version);
    if (purge) this.#batch.key(Op.Purge, bytes, length, hash, version);
  }

  /** Applies the writes gathered so far. */
  flush(): void {
    this.#node.apply(this.#batch.take(1));
  }
}

/** A clock whose timers fire as the test moves time on. */
function manualClock(): {
  now(): number;
  setTimer(ms: number, fire: () => void): () => void;
  advance(ms: number): void;
} {
  let at = 0;
  let timers: { due: number; fire: () => void }[] = [];
  return {
    now: () => at,
    setTimer(ms, fire) {
      const timer = { due: at + ms, fire };
      timers.push(timer);
      return () => (timers = timers.filter((t) => t !== timer));
    },
    advance(ms) {
      at += ms;
      for (
        let due = timers.filter((t) => t.due <= at);
        due.length > 0;
        due = timers.filter((t) => t.due <= at)
      ) {
        timers = timers.filter((t) => !due.includes(t));
        for (const timer of due) timer.fire();
      }
    },
  };
}

describe('listings read a shard by its order of keys', () => {
  test('listPage() gives the keys with the prefix after the cursor, in UTF-8 byte order, at most limit', () => {
    const shard = new NodeStore();
    for (const k of ['b3', 'a1', 'b1', 'b2', 'c1', 'b10', 'bé', 'b😀']) shard.put(k, 'v');
    assert.deepEqual(ask(shard, 'b', '', 10).keys, ['b1', 'b10', 'b2', 'b3', 'bé', 'b😀']);
    assert.deepEqual(ask(shard, 'b', '', 2).keys, ['b1', 'b10']);
    assert.deepEqual(ask(shard, 'b', 'b10', 2).keys, ['b2', 'b3']);
    assert.deepEqual(ask(shard, '', 'b3', 10).keys, ['bé', 'b😀', 'c1']);
    assert.deepEqual(ask(shard, 'b', 'a', 1).keys, ['b1'], 'a cursor before the prefix starts at it');
    assert.deepEqual(ask(shard, 'b', 'b😀', 10).keys, []);
    assert.deepEqual(ask(shard, 'é', '', 10).keys, []);
    // UTF-8 byte order: U+E000 (EE 80 80) before U+1F600 (F0 9F 98 80), though UTF-16 puts
    // the surrogate pair first. Both are new since the order was built.
    shard.put('z😀', 'v');
    shard.put('z\ue000', 'v');
    assert.deepEqual(ask(shard, 'z', '', 10).keys, ['z\ue000', 'z😀']);
  });

  test('the order is built in bounded steps, one a message; then each page is answered at once', () => {
    const shard = new NodeStore();
    const keys = Array.from({ length: 100_000 }, (_, i) => `key${i}`);
    for (const key of keys) shard.put(key, 'v');
    const first = ask(shard, '', '', 1001);
    // 100,000 keys sit in 2^18 index slots (load ≤ 0.75): at least one step per BUILD_SLOTS.
    assert.ok(first.asks > 2 ** 18 / BUILD_SLOTS, `${first.asks} asks`);
    const listed = first.keys.slice(0, 1000);
    for (let after = listed.at(-1)!; ; after = listed.at(-1)!) {
      const page = ask(shard, '', after, 1001);
      assert.equal(page.asks, 1, 'once built, a page is one message');
      listed.push(...page.keys.slice(0, 1000));
      if (page.keys.length <= 1000) break;
    }
    assert.deepEqual(listed, keys.sort(compareKeys));
    // New keys since are sorted in before the next page, NOTED_STEP_KEYS a message.
    for (let i = 0; i < 3 * NOTED_STEP_KEYS; i++) shard.put(`new${i}`, 'v');
    const next = ask(shard, 'new', '', 5);
    assert.ok(next.asks >= 3, `${next.asks} asks`);
    assert.deepEqual(next.keys, ['new0', 'new1', 'new10', 'new100', 'new1000']);
  });

  test('a page looks at about the page: a few lookups per key, not a pass over the shard', () => {
    let lookups = 0;
    let visits = 0;
    class CountingMap extends ByteMap {
      override locateEntry(hash: number, fingerprint: number): number {
        lookups++;
        return super.locateEntry(hash, fingerprint);
      }
      override visitRange(from: number, slots: number, visit: (hash: number, location: number) => void) {
        visits++;
        return super.visitRange(from, slots, visit);
      }
    }
    const map = new CountingMap();
    for (let i = 0; i < 100_000; i++) map.set(`key${i}`, 'v');
    const order = new KeyOrder(map);
    // Build it, and let the merges due run out (100,000 entries: about 25 steps a level).
    for (let step = 0; step < 1000; step++) order.advance();
    assert.equal(order.advance(), true);
    lookups = visits = 0;
    const keys = order.page(Buffer.from('key5'), Buffer.from('key5000'), 100, AS_OF);
    assert.equal(keys.length, 100);
    assert.equal(map.keyAt(keys[0]!), 'key50000');
    assert.equal(visits, 0);
    // One a key read, and a few where first 8 bytes tie.
    assert.ok(lookups < 2 * 100, `${lookups} lookups for a page of 100 of 100,000 keys`);
  });

  test('keys written, deleted, purged and expiring between pages: every key held throughout is listed once, in order (seeded)', () => {
    const rng = new Rng(17);
    const alphabet = ['a', 'b', 'é', '😀', '\ue000', '/', 'z'];
    const randomKey = () =>
      Array.from({ length: rng.int(1, 7) }, () => rng.pick(alphabet)).join('') + rng.int(0, 99);
    const shard = new NodeStore();
    const writer = new Writer(shard);
    /** The model: each key's expiry (0: never) while it holds a value. */
    const live = new Map<string, number>();
    const held = (key: string) => live.has(key) && (live.get(key) === 0 || live.get(key)! > AS_OF);
    const put = (key: string) => {
      const expiresAt = rng.next() < 0.1 ? AS_OF + rng.pick([-1000, 1000]) : 0;
      writer.put(key, expiresAt);
      live.set(key, expiresAt);
    };
    const remove = (key: string) => {
      writer.delete(key, rng.next() < 0.5);
      live.delete(key);
    };
    for (let i = 0; i < 60_000; i++) put(randomKey());
    writer.flush();
    for (let round = 0; round < 5; round++) {
      const prefix = rng.pick(['', '', 'a', 'é', '😀b', '/']);
      const start = rng.pick(['', '', randomKey()]);
      const limit = rng.pick([1, 7, 100, 1000]);
      // Keys held at the start and left alone must each be listed once; others may be.
      const stable = new Set(
        [...live.keys()].filter((k) => held(k) && k.startsWith(prefix) && compareKeys(k, start) > 0),
      );
      const touchable = [...stable];
      const everHeld = new Set([...live.keys()].filter(held));
      const listed: string[] = [];
      let complete = false;
      for (let after = start, pages = 0; pages < 150; pages++) {
        const page = ask(shard, prefix, after, limit + 1).keys;
        listed.push(...page.slice(0, limit));
        if (page.length <= limit) {
          complete = true;
          break;
        }
        after = page[limit - 1]!;
        // Between pages: new keys (before the cursor and past it), deletes, purges, rewrites.
        const changes = rng.pick([0, 0, 3, 3, 50, 50, 5000]);
        for (let i = 0; i < changes; i++) {
          const key = rng.next() < 0.5 || touchable.length === 0 ? randomKey() : rng.pick(touchable);
          stable.delete(key);
          if (rng.next() < 0.6) put(key);
          else remove(key);
          if (held(key)) everHeld.add(key);
        }
        writer.flush();
      }
      for (let i = 1; i < listed.length; i++) {
        assert.ok(compareKeys(listed[i - 1]!, listed[i]!) < 0, `out of order: ${listed[i - 1]} ${listed[i]}`);
      }
      // A listing cut short (150 pages) owes the keys up to where it stopped.
      const seen = new Set(listed);
      const owed = [...stable].filter((k) => complete || compareKeys(k, listed.at(-1)!) <= 0);
      const missing = owed.filter((k) => !seen.has(k));
      assert.deepEqual(
        missing.slice(0, 5),
        [],
        `round ${round}: ${missing.length} keys held throughout missing`,
      );
      const wrong = listed.filter(
        (k) => !k.startsWith(prefix) || compareKeys(k, start) <= 0 || !everHeld.has(k),
      );
      assert.deepEqual(wrong.slice(0, 5), [], `round ${round}: keys that should not be listed`);
      // Left alone, a listing gives exactly the model.
      const expected = [...live.keys()].filter((k) => held(k) && k.startsWith(prefix)).sort(compareKeys);
      assert.deepEqual(listAll(shard, prefix, '', 997), expected);
    }
  });

  test('two keys of one ring hash are told apart, also when one is removed and the other takes its place', () => {
    // Found by search: both hash to 715109525.
    const [a, b] = ['key/34256', 'key/89843'];
    const hash = (k: string) => murmur3(Buffer.from(k), 0, Buffer.byteLength(k), 0);
    assert.equal(hash(a), hash(b));
    const shard = new NodeStore();
    const writer = new Writer(shard);
    const others = Array.from({ length: 5000 }, (_, i) => `key/${40000 + i}`);
    for (const key of [...others, a]) writer.put(key);
    writer.flush();
    assert.deepEqual(listAll(shard, 'key/', '', 1000), [...others, a].sort(compareKeys));
    // a goes (purged: its slot is freed) and b, of the same hash, comes: a's entry must not name b.
    writer.delete(a, true);
    writer.put(b);
    writer.flush();
    assert.deepEqual(listAll(shard, 'key/', '', 1000), [...others, b].sort(compareKeys));
    writer.put(a);
    writer.flush();
    assert.deepEqual(listAll(shard, 'key/', '', 1000), [...others, a, b].sort(compareKeys));
    assert.deepEqual(listAll(shard, 'key/3', '', 1), [a]);
  });

  test('the order is released once no listing has come for LIST_IDLE_MS, and built afresh for the next', () => {
    const clock = manualClock();
    const shard = new NodeStore({ clock });
    for (let i = 0; i < 20_000; i++) shard.put(`k${i}`, 'v');
    assert.equal(shard.listOrderBytes, 0, 'nothing is held before a listing');
    assert.ok(ask(shard, '', '', 10).asks > 1);
    const held = shard.listOrderBytes;
    assert.ok(held >= 20_000 * 8, `${held} bytes`);
    clock.advance(LIST_IDLE_MS - 1);
    assert.equal(ask(shard, '', 'k1', 10).asks, 1, 'kept while listings come');
    clock.advance(LIST_IDLE_MS - 1);
    assert.equal(shard.listOrderBytes, held, 'idle for less than LIST_IDLE_MS since the last listing');
    clock.advance(1);
    assert.equal(shard.listOrderBytes, 0);
    shard.put('new', 'v'); // not noted: nothing to note it for
    assert.equal(shard.listOrderBytes, 0);
    const again = ask(shard, '', 'k1', 10);
    assert.ok(again.asks > 1, 'built afresh');
    assert.deepEqual(again.keys.slice(0, 2), ['k10', 'k100']);
  });

  test('more new keys than the order holds, with no listing to sort them in, release it', () => {
    const shard = new NodeStore();
    for (let i = 0; i < 1000; i++) shard.put(`k${i}`, 'v');
    ask(shard, '', '', 10);
    const held = shard.listOrderBytes;
    for (let i = 0; i < FAN_IN * NOTED_STEP_KEYS; i++) shard.put(`n${i}`, 'v');
    assert.ok(shard.listOrderBytes > held, 'new keys are noted');
    shard.put('one more', 'v');
    assert.equal(shard.listOrderBytes, 0);
    assert.equal(listAll(shard, '', '', 1000).length, 1001 + FAN_IN * NOTED_STEP_KEYS);
  });
});
