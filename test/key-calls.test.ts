import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ReplySink } from '../src/transport/batcher.js';
import { NodeTimeoutError, OutOfMemoryError, type ThunderError } from '../src/errors.js';
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

/** A Get's record of a value that expires at `expiresAt` (Unix ms). */
function expiring(version: number, value: string, expiresAt: number): Buffer {
  const writer = new ReplyWriter();
  const at = writer.record(version, expiresAt, value.length, false);
  writer.target.write(value, at, 'latin1');
  return new ReplyReader(writer.take(1)).next() as Buffer;
}

/** A digest of a large value (Op.GetDigest's answer): its version and expiry, no value. A tombstone comes whole. */
function digest(version: number): Buffer {
  if (version < 0) return record(version, '');
  const writer = new ReplyWriter();
  writer.digest(version, 0);
  return new ReplyReader(writer.take(1)).next() as Buffer;
}

/** A node's answer that its storage backend lost the value of `version` (src/storage/values.ts). */
function lost(version: number, expiresAt = 0): Buffer {
  const writer = new ReplyWriter();
  writer.lost(version, expiresAt);
  return new ReplyReader(writer.take(1)).next() as Buffer;
}

/**
 * A sender that records what is sent (with each tag, to answer it) and, when told, fails
 * what it sends to the nodes in `down` as it is sent; its turn ends when the test says.
 */
class Sender implements ReplicaSender {
  sent: { node: number; op: number; version: number }[] = [];
  tags: number[] = [];
  failRepairs = false;
  down = new Set<number>();
  repairs = 0;
  fetches = 0;
  #endOfTurn: (() => void)[] = [];
  sendKey(node: number, sink: ReplySink, tag: number, op: number, _key: string, version: number): void {
    this.sent.push({ node, op, version });
    this.tags.push(tag);
    if (this.failRepairs || this.down.has(node)) sink.fail(tag, new NodeTimeoutError('no answer'));
  }
  fetched(): void {
    this.fetches++;
  }
  /** Writes settled, in order: version and whether acknowledged. */
  settledWrites: [number, boolean][] = [];
  writeSettled(version: number, acknowledged: boolean): void {
    this.settledWrites.push([version, acknowledged]);
  }
  lost = 0;
  valueLost(): void {
    this.lost++;
  }
  endOfTurn(fire: () => void): void {
    this.#endOfTurn.push(fire);
  }
  /** Ends the turn: runs what waited for it. */
  turn(): void {
    const fires = this.#endOfTurn;
    this.#endOfTurn = [];
    for (const fire of fires) fire();
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

/**
 * A read of 'k' needing `r` answers, sent as the coordinator sends it: the record asked of
 * the first of `nodes`, digests of the rest.
 */
function digestRead(
  r: number,
  { nodes = [0, 1, 2], sync = false }: { nodes?: number[]; sync?: boolean } = {},
) {
  const sender = new Sender();
  const calls = new KeyCalls(sender);
  const client = new Client();
  const base = calls.begin(client, 0, Op.Get, 'k', nodes, r, sync, 0);
  for (let i = 1; i < nodes.length; i++) calls.digestFrom(base + i);
  return { sender, calls, client, base };
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

  test('a write every failed replica refused for memory is OUT_OF_MEMORY; with another failure among them, QUORUM_NOT_MET', () => {
    const sender = new Sender();
    const calls = new KeyCalls(sender);
    const full = new Client();
    const base = calls.begin(full, 0, Op.Put, 'k', [0, 1, 2], 2, false, 99);
    calls.fail(base + 0, new OutOfMemoryError());
    calls.fail(base + 1, new OutOfMemoryError());
    assert.deepEqual(full.heard, ['OUT_OF_MEMORY']);
    calls.settle(base + 2, 1);
    const mixed = new Client();
    const other = calls.begin(mixed, 0, Op.Put, 'k', [0, 1, 2], 2, false, 100);
    calls.fail(other + 0, new OutOfMemoryError());
    calls.fail(other + 1, new NodeTimeoutError('slow'));
    assert.deepEqual(mixed.heard, ['QUORUM_NOT_MET']);
    calls.settle(other + 2, 1);
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
    assert.deepEqual(
      sender.settledWrites,
      [
        [99, false],
        [100, false],
      ],
      'the change feed hears each refused write once, as not written',
    );
  });

  test('the change feed hears of an acknowledged write (or delete) once, before its client', () => {
    const sender = new Sender();
    const calls = new KeyCalls(sender);
    const heard: string[] = [];
    const client: KeySink = {
      settle: (_tag, _reply, version) => heard.push(`client ${version}`),
      fail: () => heard.push('failed'),
    };
    sender.writeSettled = (version, acknowledged) => heard.push(`feed ${version} ${acknowledged}`);
    const put = calls.begin(client, 0, Op.Put, 'k', [0, 1, 2], 2, false, 5);
    calls.settle(put + 0, 1);
    calls.settle(put + 1, 1);
    calls.settle(put + 2, 1);
    const del = calls.begin(client, 0, Op.Delete, 'k', [0, 1, 2], 2, false, 6);
    for (let i = 0; i < 3; i++) calls.settle(del + i, 1);
    const read = calls.begin(client, 0, Op.Get, 'k', [0, 1, 2], 2, false, 0);
    for (let i = 0; i < 3; i++) calls.settle(read + i, null);
    assert.deepEqual(heard, ['feed 5 true', 'client 5', 'feed 6 true', 'client 6', 'client 0']);
  });

  test("digests: a read answers once the newest version's record is here, fetching it when only a digest has it", () => {
    const { sender, calls, client, base } = digestRead(2, { nodes: [4, 5, 6] });
    calls.settle(base + 1, digest(20));
    calls.settle(base + 0, record(10, 'old'));
    assert.deepEqual(client.heard, [], 'the quorum saw version 20 but holds only 10: no answer yet');
    calls.settle(base + 2, digest(20));
    sender.turn();
    assert.deepEqual(sender.sent, [{ node: 5, op: Op.Get, version: 0 }], 'fetched from the first holder');
    assert.equal(sender.fetches, 1);
    calls.settle(sender.tags[0]!, record(20, 'new'));
    assert.deepEqual(client.heard, ['new@20']);
    assert.deepEqual(
      sender.sent.slice(1),
      [{ node: 4, op: Op.Put, version: 20 }],
      'the stale replica is repaired',
    );
    assert.equal(calls.size, 0);
  });

  test('a value lost on the replica asked for the record is fetched from another holder, and the lost one repaired', () => {
    const { sender, calls, client, base } = digestRead(2, { nodes: [4, 5, 6] });
    calls.settle(base + 0, lost(20));
    calls.settle(base + 1, digest(20));
    sender.turn();
    assert.deepEqual(sender.sent, [{ node: 5, op: Op.Get, version: 0 }], 'fetched from the holder not lost');
    assert.equal(sender.lost, 1);
    calls.settle(sender.tags[0]!, record(20, 'kept'));
    assert.deepEqual(client.heard, ['kept@20']);
    calls.settle(base + 2, digest(20));
    assert.deepEqual(
      sender.sent.slice(1),
      [{ node: 4, op: Op.Put, version: 20 }],
      'the lost replica is written back',
    );
    assert.equal(calls.size, 0);
  });

  test('a value lost on every holder of the newest version is VALUE_LOST, never an older value', () => {
    const { sender, calls, client, base } = digestRead(3);
    calls.settle(base + 0, record(10, 'older'));
    calls.settle(base + 1, lost(20));
    calls.settle(base + 2, lost(20));
    sender.turn();
    assert.deepEqual(client.heard, ['VALUE_LOST']);
    assert.deepEqual(sender.sent, [], 'nothing to fetch, nothing whole to repair with');
    assert.equal(calls.size, 0);
  });

  test('a value lost on every holder that has expired anyway reads as absent, not VALUE_LOST', () => {
    const { sender, calls, client, base } = digestRead(3);
    const expired = Date.UTC(2025, 0, 1); // the sender's wall clock is 2026-01-01
    calls.settle(base + 0, lost(20, expired));
    calls.settle(base + 1, lost(20, expired));
    calls.settle(base + 2, lost(20, expired));
    sender.turn();
    assert.deepEqual(client.heard, ['null']);
    assert.equal(calls.size, 0);
  });

  test('digests: a record arriving in the same turn needs no fetch', () => {
    const { sender, calls, client, base } = digestRead(2);
    calls.settle(base + 1, digest(20));
    calls.settle(base + 2, digest(20));
    calls.settle(base + 0, record(20, 'same'));
    assert.deepEqual(client.heard, ['same@20']);
    sender.turn();
    assert.deepEqual(sender.sent, [], 'nothing fetched, nothing repaired');
    assert.equal(calls.size, 0);
  });

  test('digests: a small value comes whole from a replica asked for its digest, and needs no fetch', () => {
    const { sender, calls, client, base } = digestRead(2);
    calls.settle(base + 1, record(20, 'small'));
    calls.settle(base + 2, record(20, 'small'));
    assert.deepEqual(client.heard, ['small@20'], 'answered before the replica asked for the record');
    calls.settle(base + 0, record(10, 'old'));
    sender.turn();
    assert.deepEqual(sender.sent, [{ node: 0, op: Op.Put, version: 20 }], 'no fetch; the stale one repaired');
    assert.equal(calls.size, 0);
  });

  test('digests: a failed fetch tries the next holder; with none left the read is QUORUM_NOT_MET', () => {
    const sender = new Sender();
    sender.down.add(1);
    const calls = new KeyCalls(sender);
    const client = new Client();
    const base = calls.begin(client, 0, Op.Get, 'k', [0, 1, 2], 3, false, 0);
    calls.digestFrom(base + 1);
    calls.digestFrom(base + 2);
    calls.fail(base + 0, new NodeTimeoutError('slow'));
    calls.settle(base + 1, digest(30));
    calls.settle(base + 2, digest(30));
    // R = 3 and one replica failed: refused, whatever the digests say.
    assert.deepEqual(client.heard, ['QUORUM_NOT_MET']);
    const second = new Client();
    const next = calls.begin(second, 0, Op.Get, 'k', [0, 1, 2], 2, false, 0);
    calls.digestFrom(next + 1);
    calls.digestFrom(next + 2);
    calls.fail(next + 0, new NodeTimeoutError('slow'));
    calls.settle(next + 1, digest(30));
    calls.settle(next + 2, digest(30));
    sender.turn();
    assert.deepEqual(
      sender.sent.map((s) => s.node),
      [1, 2],
      'node 1 failed at once, so node 2 was asked',
    );
    calls.fail(sender.tags[1]!, new NodeTimeoutError('slow'));
    assert.deepEqual(second.heard, ['QUORUM_NOT_MET']);
    assert.equal(calls.size, 0);
  });

  test('digests: a newest tombstone needs no record; the stale replica gets the tombstone', () => {
    const { sender, calls, client, base } = digestRead(2);
    calls.settle(base + 0, record(10, 'old'));
    calls.settle(base + 1, digest(-20));
    assert.deepEqual(client.heard, ['null']);
    calls.settle(base + 2, digest(-20));
    assert.deepEqual(sender.sent, [{ node: 0, op: Op.Delete, version: 20 }]);
    assert.equal(calls.size, 0);
  });

  test('digests: a newer version seen after the answer is fetched to repair the others', () => {
    const { sender, calls, client, base } = digestRead(2);
    calls.settle(base + 0, record(10, 'a'));
    calls.settle(base + 1, digest(10));
    assert.deepEqual(client.heard, ['a@10']);
    calls.settle(base + 2, digest(15)); // a write the other two have not seen yet
    assert.equal(calls.size, 1, 'held for the fetch');
    sender.turn();
    assert.deepEqual(sender.sent, [{ node: 2, op: Op.Get, version: 0 }]);
    calls.settle(sender.tags[0]!, record(15, 'b'));
    assert.deepEqual(sender.sent.slice(1), [
      { node: 0, op: Op.Put, version: 15 },
      { node: 1, op: Op.Put, version: 15 },
    ]);
    assert.deepEqual(client.heard, ['a@10'], 'the client heard once');
    assert.equal(calls.size, 0);
  });

  test('of a tombstone and an expired value of one version, the tombstone is the newest: absent, and repaired as a delete', () => {
    for (const order of [
      [1, 2],
      [2, 1],
    ]) {
      const sender = new Sender();
      const calls = new KeyCalls(sender);
      const client = new Client();
      const base = calls.begin(client, 0, Op.Get, 'k', [0, 1, 2], 3, false, 0);
      const answers: Record<number, Buffer> = {
        1: expiring(5, 'gone', sender.wall() - 1000), // not yet cleared on this replica
        2: record(-5, ''), // cleared here: a tombstone of the same version
      };
      calls.settle(base + 0, record(4, 'old'));
      for (const i of order) calls.settle(base + i, answers[i]!);
      assert.deepEqual(client.heard, ['null'], `order ${order.join(',')}`);
      assert.deepEqual(sender.sent, [{ node: 0, op: Op.Delete, version: 5 }], `order ${order.join(',')}`);
      assert.equal(calls.size, 0);
    }
  });

  test('a blocking repair answers what its quorum read, whatever a later digest says', () => {
    const { sender, calls, client, base } = digestRead(2, { sync: true });
    calls.settle(base + 0, record(5, 'five'));
    calls.settle(base + 1, record(4, 'four'));
    assert.deepEqual(sender.sent, [{ node: 1, op: Op.Put, version: 5 }], 'the blocking repair');
    calls.settle(base + 2, digest(6)); // a newer write, seen only as a digest, before the repair is acknowledged
    calls.settle(sender.tags[0]!, 1);
    assert.deepEqual(client.heard, ['five@5'], 'the value the repair wrote, with its own version');
    // The newer version is fetched and repaired afterwards onto the replica not yet repaired
    // (a read repairs a replica once; node 1 got 5).
    sender.turn();
    assert.deepEqual(sender.sent[1], { node: 2, op: Op.Get, version: 0 });
    calls.settle(sender.tags[1]!, record(6, 'six'));
    assert.deepEqual(sender.sent.slice(2), [{ node: 0, op: Op.Put, version: 6 }]);
    assert.equal(calls.size, 0);
  });

  test('digests: with every holder tried, a read waits for a replica yet to answer before giving up', () => {
    const { sender, calls, client, base } = digestRead(2);
    calls.settle(base + 1, digest(7));
    calls.settle(base + 2, digest(7));
    sender.turn(); // the record's replica is slow: fetched from the holders instead
    calls.fail(sender.tags[0]!, new NodeTimeoutError('slow'));
    calls.fail(sender.tags[1]!, new NodeTimeoutError('slow'));
    assert.deepEqual(
      sender.sent.map((s) => s.node),
      [1, 2],
    );
    assert.deepEqual(client.heard, [], 'replica 0 may still bring it');
    calls.settle(base + 0, record(7, 'seven'));
    assert.deepEqual(client.heard, ['seven@7']);
    assert.equal(calls.size, 0);
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
