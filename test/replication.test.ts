import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Cluster } from '../src/cluster/cluster.js';
import type { ThunderError } from '../src/errors.js';
import { codeOf, http, manualClock, type Running, settled, startRunning, TIMEOUT, until } from './helpers.js';
import { readReplica, writeReplica } from './replicas.js';
import { DIGEST_ABOVE_BYTES } from '../src/wire/protocol.js';

function codeOfError(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => 'ok',
    (err: ThunderError) => err.code,
  );
}

describe('replication: three nodes, three replicas', () => {
  test(
    'a write reaches every replica with one version; the cluster reports its settings',
    TIMEOUT,
    async (t) => {
      const cluster = await Cluster.start({ nodes: 3 });
      t.after(() => cluster.close());
      assert.deepEqual(cluster.replication, { replicas: 3, r: 2, w: 2, tombstoneGraceMs: 10_000 });
      const version = await cluster.put('k', 'v');
      assert.ok(version > 0);
      // W = 2 acknowledges after two; the third is applied a moment later.
      await settled(cluster, t.signal);
      for (const node of [0, 1, 2])
        assert.deepEqual(await readReplica(cluster, node, 'k'), { version, value: 'v' });
      const again = await cluster.put('k', 'w');
      assert.ok(again > version, 'a later write gets a newer version');
      assert.equal((await cluster.getVersioned('k'))?.version, again);
    },
  );

  test(
    'with one node down writes and reads meet W = R = 2; with two down they fail QUORUM_NOT_MET, before writing',
    TIMEOUT,
    async (t) => {
      const cluster = await Cluster.start({ nodes: 3 });
      t.after(() => cluster.close());
      const key = 'quorum';
      await cluster.crash(cluster.ring.locate(key).replicas[2]!);
      await cluster.put(key, 'one down');
      assert.equal((await cluster.get(key))?.toString(), 'one down');

      const [first, second] = cluster.ring.locate(key).replicas as [number, number];
      await cluster.crash(second);
      assert.equal(await codeOfError(cluster.put(key, 'two down')), 'QUORUM_NOT_MET');
      assert.equal(await codeOfError(cluster.get(key)), 'QUORUM_NOT_MET');
      assert.equal(await codeOfError(cluster.delete(key)), 'QUORUM_NOT_MET');
      // Refused before any replica saw it: the one replica up still holds the old value.
      assert.equal((await readReplica(cluster, first, key))?.value, 'one down');
      // A client that accepts one answer gets it.
      assert.equal((await cluster.get(key, { ...cluster.consistency, r: 1 }))?.toString(), 'one down');
    },
  );

  test('crashing one of three nodes under a write load loses no acknowledged write', TIMEOUT, async (t) => {
    const cluster = await Cluster.start({ nodes: 3 });
    t.after(() => cluster.close());
    const acknowledged = new Map<string, string>();
    let writes = 0;
    let failed = 0;
    let writing = true;
    const writer = (async () => {
      for (let i = 0; writing; i++) {
        const key = `load${i % 2000}`;
        const value = `v${i}`;
        // Each key's writes are sequential, so the last acknowledged value is the one to find.
        await cluster.put(key, value).then(
          () => acknowledged.set(key, value),
          () => failed++,
        );
        writes++;
      }
    })();
    // A hundred writes before the crash, a hundred after it.
    await until(() => writes >= 100, t.signal);
    await cluster.crash(1);
    const atCrash = writes;
    await until(() => writes >= atCrash + 100, t.signal);
    writing = false;
    await writer;
    assert.equal(failed, 0, 'with W = 2 of 3, one node down fails no write');
    for (const [key, value] of acknowledged) {
      assert.equal((await cluster.get(key))?.toString(), value, key);
    }
  });

  test(
    'a read returns the newest version and repairs the stale replica after answering',
    TIMEOUT,
    async (t) => {
      const cluster = await Cluster.start({ nodes: 3 });
      t.after(() => cluster.close());
      const key = 'repair-me';
      const [a, b, c] = cluster.ring.locate(key).replicas as [number, number, number];
      const old = await cluster.put(key, 'old');
      // A newer write that reached two replicas only: the third still holds 'old'.
      await writeReplica(cluster, a, key, 'new', old + 16);
      await writeReplica(cluster, b, key, 'new', old + 16);
      assert.equal((await readReplica(cluster, c, key))?.value, 'old');

      const read = await cluster.getVersioned(key, { r: 3, w: 2, repair: 'async' });
      assert.equal(read?.value.toString(), 'new');
      assert.equal(read?.version, old + 16);
      await settled(cluster, t.signal);
      assert.deepEqual(await readReplica(cluster, c, key), { version: old + 16, value: 'new' });
      assert.equal(cluster.coordinatorStats().readRepairs, 1);
    },
  );

  test(
    'a large value is read whole from one replica: digests newer than its record fetch the newest, then repair it',
    TIMEOUT,
    async (t) => {
      const cluster = await Cluster.start({ nodes: 3 });
      t.after(() => cluster.close());
      const key = 'large';
      const [first, ...others] = cluster.ring.locate(key).replicas as [number, number, number];
      const large = (c: string) => c.repeat(DIGEST_ABOVE_BYTES + 1);
      const old = await cluster.put(key, large('o'));
      // The replica asked for the record (the first up) keeps the old value; the others
      // answer digests of a newer one.
      for (const node of others) await writeReplica(cluster, node, key, large('n'), old + 16);
      const read = await cluster.getVersioned(key, { r: 2, w: 2, repair: 'async' });
      assert.equal(read?.value.toString(), large('n'));
      assert.equal(read?.version, old + 16);
      assert.equal(cluster.coordinatorStats().readFetches, 1);
      await settled(cluster, t.signal);
      assert.deepEqual(await readReplica(cluster, first, key), { version: old + 16, value: large('n') });
      // All agree now. (Whether the next read fetches depends on which replies share an
      // event-loop turn, so that is not asserted.)
      for (const node of others) {
        assert.deepEqual(await readReplica(cluster, node, key), { version: old + 16, value: large('n') });
      }
      assert.equal((await cluster.get(key))?.toString(), large('n'));
    },
  );

  test('?repair=sync repairs the stale replicas among the quorum before answering', TIMEOUT, async (t) => {
    const cluster = await Cluster.start({ nodes: 3 });
    t.after(() => cluster.close());
    const key = 'sync-repair';
    const replicas = cluster.ring.locate(key).replicas as [number, number, number];
    const old = await cluster.put(key, 'old');
    for (const node of replicas.slice(1)) await writeReplica(cluster, node, key, 'new', old + 16);
    const read = await cluster.getVersioned(key, { r: 3, w: 2, repair: 'sync' });
    assert.equal(read?.value.toString(), 'new');
    // No wait: the repair was applied before the answer.
    assert.equal((await readReplica(cluster, replicas[0], key))?.value, 'new');
  });

  test(
    'a deleted key stays deleted: a stale replica neither answers the read nor survives it',
    TIMEOUT,
    async (t) => {
      const cluster = await Cluster.start({ nodes: 3 });
      t.after(() => cluster.close());
      const key = 'zombie';
      const [a, b, c] = cluster.ring.locate(key).replicas as [number, number, number];
      const written = await cluster.put(key, 'alive');
      // A delete that reached two replicas; the third, away, still holds the value.
      await writeReplica(cluster, a, key, null, written + 16);
      await writeReplica(cluster, b, key, null, written + 16);
      assert.equal((await readReplica(cluster, c, key))?.value, 'alive');
      assert.equal(await cluster.get(key, { r: 3, w: 2, repair: 'async' }), undefined);
      await settled(cluster, t.signal);
      assert.equal(
        (await readReplica(cluster, c, key))?.version,
        -(written + 16),
        'the tombstone was repaired onto it',
      );
      // A write older than the delete, arriving late (a replayed hint, say), is dropped.
      await writeReplica(cluster, c, key, 'late', written + 1);
      assert.equal(await cluster.get(key, { r: 3, w: 2, repair: 'async' }), undefined);
    },
  );

  test(
    'a tombstone is purged after the grace period once every replica holds it, and only then',
    TIMEOUT,
    async (t) => {
      // The grace period passes when the test moves the clock, not while the machine is slow.
      const clock = manualClock();
      const cluster = await Cluster.start({ nodes: 3, tombstoneGraceMs: 50, clock });
      t.after(() => cluster.close());
      await cluster.put('gone', 'v');
      assert.equal(await cluster.delete('gone'), true);
      assert.equal(await cluster.delete('never-was'), false);
      await settled(cluster, t.signal); // every replica holds both tombstones
      const before = await cluster.nodes();
      assert.deepEqual(
        before.map((n) => n.tombstones),
        [2, 2, 2],
      );
      clock.advance(49);
      assert.equal(cluster.coordinatorStats().tombstonesPurged, 0, 'not before the grace period');
      clock.advance(1);
      await settled(cluster, t.signal);
      assert.deepEqual(
        (await cluster.nodes()).map((n) => n.tombstones),
        [0, 0, 0],
      );
      assert.equal(cluster.coordinatorStats().tombstonesPurged, 2);

      // With a replica down, the tombstone is not everywhere: it stays past the grace period.
      const key = 'kept';
      const replicas = cluster.ring.locate(key).replicas;
      await cluster.put(key, 'v');
      await cluster.crash(replicas[2]!);
      await cluster.delete(key);
      await settled(cluster, t.signal);
      clock.advance(1000);
      await settled(cluster, t.signal);
      for (const node of replicas.slice(0, 2)) {
        const held = await readReplica(cluster, node, key);
        assert.ok(held !== null && held.version < 0, `node ${node} keeps the tombstone`);
      }
      assert.equal(cluster.coordinatorStats().tombstonesAwaitingPurge, 0);
    },
  );

  test('listings and /snapshot give each key once, however many replicas hold it', TIMEOUT, async (t) => {
    const run = await startRunning({ nodes: 3 });
    t.after(() => run.stop());
    for (let i = 0; i < 50; i++) await run.cluster.put(`k${String(i).padStart(2, '0')}`, `v${i}`);
    await run.cluster.delete('k07');
    await settled(run.cluster, t.signal);
    const { keys } = await run.cluster.list('', '', 1000);
    assert.equal(keys.length, 49);
    assert.equal(keys[0], 'k00');
    assert.ok(!keys.includes('k07'));
    const snapshot = (await http(run.url, 'GET', '/snapshot')).json as Record<string, string>;
    assert.equal(Object.keys(snapshot).length, 49);
    assert.equal(snapshot.k49, 'v49');
    // One node's own data holds its replicas too: with 3 replicas of 3 nodes, everything.
    const own = (await http(run.url, 'GET', '/snapshot?node=1')).json as Record<string, string>;
    assert.equal(Object.keys(own).length, 49);
  });
});

describe('replication over HTTP', () => {
  let run: Running;
  before(async () => {
    run = await startRunning({ nodes: 3 });
  }, TIMEOUT);
  after(() => run.stop(), TIMEOUT);

  test('GET /cluster/locate/{key} shows the preference list and each replica state', TIMEOUT, async () => {
    const answer = await http(run.url, 'GET', '/cluster/locate/foo');
    const body = answer.json as { node: number; replicas: number[]; states: string[] };
    assert.equal(body.replicas.length, 3);
    assert.equal(body.node, body.replicas[0]);
    assert.deepEqual(body.states, ['up', 'up', 'up']);
    const cluster = (await http(run.url, 'GET', '/cluster')).json as {
      ring: unknown;
      coordinator: { tombstoneGraceMs: number; hints?: unknown };
    };
    assert.deepEqual(cluster.ring, {
      hash: 'murmur3-x86-32',
      seed: 0,
      partitions: 1024,
      replicas: 3,
      r: 2,
      w: 2,
    });
    assert.equal(cluster.coordinator.tombstoneGraceMs, 10_000);
  });

  test(
    'PUT answers an ETag that GET and HEAD repeat; If-None-Match on GET answers 304',
    TIMEOUT,
    async () => {
      const put = await http(run.url, 'PUT', '/kv/etag', 'one');
      assert.equal(put.status, 204);
      const etag = put.headers.etag as string;
      assert.match(etag, /^"[0-9]+"$/);
      const get = await http(run.url, 'GET', '/kv/etag');
      assert.equal(get.headers.etag, etag);
      assert.equal(get.text, 'one');
      const head = await http(run.url, 'HEAD', '/kv/etag');
      assert.equal(head.headers.etag, etag);
      assert.equal(head.headers['content-length'], '3');
      const cached = await http(run.url, 'GET', '/kv/etag', undefined, { 'If-None-Match': etag });
      assert.equal(cached.status, 304);
      assert.equal(cached.body.length, 0);
      const changed = await http(run.url, 'GET', '/kv/etag', undefined, { 'If-None-Match': '"1"' });
      assert.equal(changed.status, 200);
    },
  );

  test(
    'If-Match writes only over the version named; a stale ETag gets 412 PRECONDITION_FAILED',
    TIMEOUT,
    async () => {
      const first = (await http(run.url, 'PUT', '/kv/cas', 'a')).headers.etag as string;
      const second = await http(run.url, 'PUT', '/kv/cas', 'b', { 'If-Match': first });
      assert.equal(second.status, 204);
      const stale = await http(run.url, 'PUT', '/kv/cas', 'c', { 'If-Match': first });
      assert.equal(stale.status, 412);
      assert.equal(codeOf(stale), 'PRECONDITION_FAILED');
      assert.equal((stale.json as { error: { etag: string } }).error.etag, second.headers.etag);
      assert.equal((await http(run.url, 'GET', '/kv/cas')).text, 'b');
      assert.equal((await http(run.url, 'DELETE', '/kv/cas', undefined, { 'If-Match': first })).status, 412);
      const del = await http(run.url, 'DELETE', '/kv/cas', undefined, {
        'If-Match': second.headers.etag as string,
      });
      assert.equal(del.status, 204);
      assert.equal(
        (await http(run.url, 'PUT', '/kv/cas', 'x', { 'If-Match': '*' })).status,
        412,
        'If-Match: * needs a value',
      );
    },
  );

  test('of 20 concurrent If-None-Match: * creates of one key exactly one wins', TIMEOUT, async () => {
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        http(run.url, 'PUT', '/kv/create-once', `writer ${i}`, { 'If-None-Match': '*' }),
      ),
    );
    const won = answers.filter((a) => a.status === 204);
    assert.equal(won.length, 1);
    assert.equal(answers.filter((a) => a.status === 412).length, 19);
    const winner = answers.indexOf(won[0]!);
    assert.equal((await http(run.url, 'GET', '/kv/create-once')).text, `writer ${winner}`);
  });

  test(
    '?r= and ?w= set one request quorum; out of range or on the wrong route they are refused',
    TIMEOUT,
    async () => {
      assert.equal((await http(run.url, 'PUT', '/kv/q?w=3', 'v')).status, 204);
      assert.equal((await http(run.url, 'GET', '/kv/q?r=1')).text, 'v');
      assert.equal((await http(run.url, 'GET', '/kv/q?r=3&repair=sync')).text, 'v');
      const tooMany = await http(run.url, 'GET', '/kv/q?r=4');
      assert.equal(tooMany.status, 400);
      assert.match(tooMany.text, /replica count \(3\)/);
      assert.equal(codeOf(await http(run.url, 'GET', '/kv/q?w=2')), 'UNKNOWN_PARAMETER');
      assert.equal(codeOf(await http(run.url, 'PUT', '/kv/q?r=2', 'v')), 'UNKNOWN_PARAMETER');
      assert.equal(codeOf(await http(run.url, 'GET', '/kv/q?repair=later')), 'BAD_REQUEST');
      assert.equal(codeOf(await http(run.url, 'PUT', '/kv/q?pw=2', 'v')), 'NOT_IMPLEMENTED');
      const weak = await http(run.url, 'PUT', '/kv/q', 'v', { 'If-Match': 'W/"1"' });
      assert.equal(codeOf(weak), 'BAD_REQUEST');
      const unsupported = await http(run.url, 'PUT', '/kv/q', 'v', {
        'If-Unmodified-Since': 'Tue, 01 Jan 2030 00:00:00 GMT',
      });
      assert.equal(codeOf(unsupported), 'NOT_IMPLEMENTED');
    },
  );
});

describe('replication over HTTP with nodes down', () => {
  test('503 QUORUM_NOT_MET when too few replicas are up; ?r=1 still reads', TIMEOUT, async (t) => {
    const run = await startRunning({ nodes: 3 });
    t.after(() => run.stop());
    assert.equal((await http(run.url, 'PUT', '/kv/k', 'v')).status, 204);
    const [, second, third] = run.cluster.ring.locate('k').replicas as [number, number, number];
    await run.cluster.crash(second);
    await run.cluster.crash(third);
    const put = await http(run.url, 'PUT', '/kv/k', 'w');
    assert.equal(put.status, 503);
    assert.equal(codeOf(put), 'QUORUM_NOT_MET');
    assert.equal(
      (put.json as { error: { applied?: boolean } }).error.applied,
      false,
      'refused before sending',
    );
    assert.equal(codeOf(await http(run.url, 'GET', '/kv/k')), 'QUORUM_NOT_MET');
    assert.equal((await http(run.url, 'GET', '/kv/k?r=1')).text, 'v');
    assert.equal((await http(run.url, 'PUT', '/kv/k?w=1', 'w')).status, 204);
    const locate = (await http(run.url, 'GET', '/cluster/locate/k')).json as { states: string[] };
    assert.deepEqual(locate.states, ['up', 'down', 'down']);
    // A conditional write needs its read quorum first: refused, and the key keeps its value.
    const create = await http(run.url, 'PUT', '/kv/k', 'x', { 'If-Match': '*' });
    assert.equal(codeOf(create), 'QUORUM_NOT_MET');
    assert.equal((create.json as { error: { applied?: boolean } }).error.applied, false);
    assert.equal((await http(run.url, 'GET', '/kv/k?r=1')).text, 'w');
  });
});
