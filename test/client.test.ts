import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  ClusterUnreachableError,
  ThunderClient,
  ThunderHttpError,
  type ExportRecord,
} from '../src/client/index.js';
import {
  closedPort,
  FRONT_ENDS,
  http,
  movableClock,
  type Running,
  startRunning,
  TIMEOUT,
} from './helpers.js';

/** The error a promise rejects with (fails the test if it resolves). */
async function rejection(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise;
  } catch (err) {
    return err as Error & Record<string, unknown>;
  }
  assert.fail('expected a rejection');
}

const bytes = (...values: number[]) => new Uint8Array(values);

for (const frontEnd of FRONT_ENDS)
  describe(`on ${frontEnd}`, () => {
    describe('ThunderClient against a real three-node cluster', () => {
      // The wall clock stands still but when moved: TTLs read exact, and expire without waiting.
      const clock = movableClock();
      let run: Running;
      let db: ThunderClient;
      before(async () => {
        run = await startRunning({ http: frontEnd, nodes: 3, clock });
        db = new ThunderClient(run.url);
      }, TIMEOUT);
      after(() => run.stop(), TIMEOUT);

      test('put() then get() round-trips bytes exactly, with the ETag put answered', TIMEOUT, async () => {
        const value = bytes(0, 255, 10, 13, 0xc3, 0x28);
        const written = await db.put('binary', value);
        assert.match(written.etag, /^"\d+"$/);
        assert.equal(written.version, Number(written.etag.slice(1, -1)));
        const entry = await db.get('binary');
        assert.deepEqual(entry, { value, etag: written.etag, version: written.version });
        assert.equal(await db.get('never-written'), null);
      });

      test('getText(), head() and has() read a string value and its size', TIMEOUT, async () => {
        await db.put('greeting', 'héllo');
        assert.equal(await db.getText('greeting'), 'héllo');
        const info = await db.head('greeting');
        assert.equal(info?.size, 6);
        assert.equal(await db.has('greeting'), true);
        assert.equal(await db.has('absent'), false);
        assert.equal(await db.head('absent'), null);
        assert.equal(await db.getText('absent'), null);
      });

      test(
        'keys are percent-encoded: "/", "?", "#", "%", spaces and unicode stay in the key',
        TIMEOUT,
        async () => {
          const key = 'a/b c?d#e%f+ü😀';
          await db.put(key, 'v');
          const raw = await http(run.url, 'GET', `/kv/${encodeURIComponent(key)}`);
          assert.equal(raw.text, 'v');
          assert.equal(await db.getText(key), 'v');
          assert.equal((await db.locate(key)).key, key);
          const listed = [];
          for await (const k of db.list('a/b')) listed.push(k);
          assert.deepEqual(listed, [key]);
          await assert.rejects(db.get('..'), TypeError);
        },
      );

      test(
        'put() honours ifAbsent and ifMatch; a failed condition is PRECONDITION_FAILED with the etag',
        TIMEOUT,
        async () => {
          const first = await db.put('lease', 'mine', { ifAbsent: true });
          const refused = await rejection(db.put('lease', 'yours', { ifAbsent: true }));
          assert.ok(refused instanceof ThunderHttpError);
          assert.equal(refused.code, 'PRECONDITION_FAILED');
          assert.equal(refused.status, 412);
          assert.deepEqual(refused.details, { etag: first.etag });
          const second = await db.put('lease', 'renewed', { ifMatch: first.etag });
          // A bare version works as its tag does.
          await db.put('lease', 'again', { ifMatch: second.version, w: 3 });
          const stale = await rejection(db.put('lease', 'late', { ifMatch: first.etag }));
          assert.equal(stale.code, 'PRECONDITION_FAILED');
          assert.equal(await db.getText('lease', { r: 3, repair: 'sync' }), 'again');
        },
      );

      test(
        'delete() resolves true when the key held a value, false when absent; ifMatch guards it',
        TIMEOUT,
        async () => {
          const { etag } = await db.put('doomed', 'x');
          const wrong = await rejection(db.delete('doomed', { ifMatch: '"1"' }));
          assert.equal(wrong.code, 'PRECONDITION_FAILED');
          assert.equal(await db.delete('doomed', { ifMatch: etag, w: 3 }), true);
          assert.equal(await db.delete('doomed'), false);
          assert.equal(await db.get('doomed'), null);
        },
      );

      test('quorum options reach the server: w above the replica count is BAD_REQUEST', TIMEOUT, async () => {
        const err = await rejection(db.put('k', 'v', { w: 4 }));
        assert.ok(err instanceof ThunderHttpError);
        assert.equal(err.code, 'BAD_REQUEST');
        assert.equal(err.status, 400);
        assert.match(err.message, /w must be from 1 to the replica count \(3\), got 4/);
        assert.equal((await rejection(db.get('k', { r: 4 }))).code, 'BAD_REQUEST');
      });

      test('errors carry the catalogue code, status, message and extra fields', TIMEOUT, async () => {
        const tooLarge = await rejection(db.put('big', new Uint8Array((1 << 20) + 1)));
        assert.ok(tooLarge instanceof ThunderHttpError);
        assert.equal(tooLarge.name, 'ThunderHttpError');
        assert.deepEqual([tooLarge.code, tooLarge.status], ['VALUE_TOO_LARGE', 413]);
        const noNode = await rejection(db.crash(42));
        assert.deepEqual([noNode.code, noNode.status], ['NOT_FOUND', 404]);
        assert.match(noNode.message, /no node "42" in the ring/);
      });

      test('mget() answers every key named, null for the absent, values as text', TIMEOUT, async () => {
        await db.putMany([
          ['m1', 'one'],
          ['m2', 'two'],
        ]);
        const values = await db.mget(['m1', 'nope', 'm2', 'm1']);
        assert.deepEqual(
          values,
          new Map([
            ['m1', 'one'],
            ['nope', null],
            ['m2', 'two'],
          ]),
        );
      });

      test(
        'list() walks every page (more than the server’s 1000 per page); listPage() is one page',
        TIMEOUT,
        async () => {
          async function* pairs() {
            for (let i = 0; i < 2500; i++) yield [`page/${String(i).padStart(4, '0')}`, `v${i}`] as const;
          }
          assert.deepEqual(await db.putMany(pairs()), { written: 2500 });
          const keys: string[] = [];
          for await (const key of db.list('page/')) keys.push(key);
          assert.equal(keys.length, 2500);
          assert.equal(keys[0], 'page/0000');
          assert.equal(keys[2499], 'page/2499');
          assert.equal(new Set(keys).size, 2500);
          const small: string[] = [];
          for await (const key of db.list('page/000', { pageSize: 3 })) small.push(key);
          assert.equal(small.length, 10);
          const page = await db.listPage('page/', { limit: 2, after: 'page/0001' });
          assert.deepEqual(page, { keys: ['page/0002', 'page/0003'], next: 'page/0003' });
          assert.deepEqual(await db.listPage('page/2499'), { keys: ['page/2499'], next: null });
        },
      );

      test(
        'putMany() streams from an async iterable; a bad pair stops it with written in details',
        TIMEOUT,
        async () => {
          let pulled = 0;
          async function* pairs() {
            // Far more than the socket and the stream buffer hold (about 20 MB of lines).
            for (let i = 0; i < 1_000_000; i++) {
              pulled++;
              yield [`stream/${i}`, i === 20_000 ? 'x'.repeat((1 << 20) + 1) : 'v'] as const;
            }
          }
          const err = await rejection(db.putMany(pairs()));
          assert.ok(err instanceof ThunderHttpError, String(err));
          assert.equal(err.code, 'VALUE_TOO_LARGE');
          assert.deepEqual(err.details, { written: 20_000 });
          // Pulled as the upload goes: the refusal stops the body before the source runs dry.
          assert.ok(pulled < 500_000, `pulled ${pulled}`);
          assert.equal(await db.getText('stream/19999'), 'v');
        },
      );

      test(
        'putMany() skips bad pairs with invalid: skip, and refuses bytes that are not UTF-8 as text',
        TIMEOUT,
        async () => {
          const result = await db.putMany(
            [
              ['ok1', 'a'],
              ['', 'empty key'],
              ['ok2', bytes(0x68, 0x69)],
            ],
            { invalid: 'skip' },
          );
          assert.equal(result.written, 2);
          assert.equal(result.rejected, 1);
          assert.equal(await db.getText('ok2'), 'hi');
          await assert.rejects(db.putMany([['bad', bytes(0xff)]]), TypeError);
        },
      );

      test(
        'an error in the pairs themselves is thrown as it is, not as a failed upload',
        TIMEOUT,
        async () => {
          async function* pairs(): AsyncGenerator<[string, string]> {
            yield ['first', 'v'];
            throw new Error('the source broke');
          }
          await assert.rejects(db.putMany(pairs()), /the source broke/);
        },
      );

      test(
        'put() with ttl stores a key that expires; get() and head() report its remaining TTL',
        TIMEOUT,
        async () => {
          await db.put('short-lived', 'v', { ttl: 30 });
          assert.equal((await db.get('short-lived'))?.ttl, 30);
          assert.equal((await db.head('short-lived'))?.ttl, 30);
          await db.put('short-lived', 'v');
          assert.equal(
            (await db.get('short-lived'))?.ttl,
            undefined,
            'a put without ttl makes it persistent',
          );
          await db.put('blink', 'v', { ttl: 0.2 });
          clock.advance(199);
          assert.equal((await db.get('blink'))?.ttl, 0.001);
          clock.advance(1);
          assert.equal(await db.get('blink'), null);
        },
      );

      test(
        'export() yields every key of a prefix with its bytes and expiry; import() writes them back',
        TIMEOUT,
        async () => {
          await db.put('dump/plain', bytes(0, 1, 2, 255));
          await db.put('dump/expiring', 'soon', { ttl: 60 });
          const records: ExportRecord[] = [];
          for await (const record of db.export('dump/')) records.push(record);
          records.sort((a, b) => a.key.localeCompare(b.key));
          assert.deepEqual(
            records.map((r) => r.key),
            ['dump/expiring', 'dump/plain'],
          );
          assert.deepEqual(records[1], { key: 'dump/plain', value: bytes(0, 1, 2, 255) });
          assert.equal(records[0]!.expiresAt, clock.wall() + 60_000);
          const result = await db.import([
            ...records.map((r) => ({ ...r, key: r.key.replace('dump/', 'copy/') })),
            { key: 'copy/dead', value: bytes(1), expiresAt: clock.wall() - 1000 },
          ]);
          assert.deepEqual(result, { written: 2, expired: 1 });
          assert.deepEqual((await db.get('copy/plain'))?.value, bytes(0, 1, 2, 255));
          assert.equal((await db.get('copy/expiring'))?.ttl, 60);
        },
      );

      test(
        'cluster(), locate(), health(), ping(), metrics(), snapshot() and antiEntropy() answer typed',
        TIMEOUT,
        async () => {
          const status = await db.cluster();
          assert.deepEqual(
            status.nodes.map((n) => [n.id, n.state]),
            [
              [0, 'up'],
              [1, 'up'],
              [2, 'up'],
            ],
          );
          assert.deepEqual([status.ring.replicas, status.ring.r, status.ring.w], [3, 2, 2]);
          await db.put('where', 'v', { w: 3 });
          const where = await db.locate('where');
          assert.equal(where.replicas.length, 3);
          assert.ok(where.versions.every((v) => typeof v === 'number' && v > 0));
          assert.equal((await db.health()).status, 'ok');
          assert.deepEqual(await db.ping(), { service: 'node', status: 'OK' });
          assert.match(await db.metrics(), /^# HELP thunderdb_/m);
          assert.equal((await db.snapshot())['where'], 'v');
          assert.equal((await db.snapshot({ node: 0 }))['where'], 'v');
          assert.equal(typeof (await db.antiEntropy()).partitionsRepaired, 'number');
        },
      );

      test('faults: addFault(), faults(), clearFault(), clearFaults()', TIMEOUT, async () => {
        const fault = await db.addFault({ type: 'latency', ms: 1, nodes: [2] });
        assert.equal(fault.type, 'latency');
        assert.deepEqual(
          (await db.faults()).map((f) => f.id),
          [fault.id],
        );
        await db.clearFault(fault.id);
        assert.deepEqual(await db.faults(), []);
        assert.equal((await rejection(db.clearFault(fault.id))).code, 'NOT_FOUND');
        await db.addFault({ type: 'loss', probability: 0 });
        assert.equal(await db.clearFaults(), 1);
        const bad = await rejection(db.addFault({ type: 'meteor' } as never));
        assert.equal(bad.code, 'BAD_REQUEST');
      });

      test(
        'crash() and restart() a node; health() then fails with NODE_UNAVAILABLE and the nodes',
        TIMEOUT,
        async () => {
          assert.deepEqual(await db.crash(2), { id: 2, was: 'up', state: 'down' });
          const unhealthy = await rejection(db.health());
          assert.equal(unhealthy.code, 'NODE_UNAVAILABLE');
          assert.equal(unhealthy.status, 503);
          assert.ok(Array.isArray((unhealthy as unknown as ThunderHttpError).details.nodes));
          const restarted = await db.restart(2);
          assert.equal(restarted.id, 2);
          assert.equal(restarted.state, 'up');
          assert.equal(typeof restarted.refilled.keys, 'number');
          assert.equal((await rejection(db.restart(2))).code, 'CONFLICT');
        },
      );

      test('plan(), addNode() and removeNode() change the membership', TIMEOUT, async () => {
        const planned = await db.plan({ add: 1 });
        assert.equal(planned.add, 1);
        assert.ok(planned.moved.partitions > 0);
        const added = await db.addNode();
        assert.equal(added.id, 3);
        assert.equal(added.moved.partitions, planned.moved.partitions);
        const leave = await db.plan({ remove: 3 });
        assert.equal(leave.remove, 3);
        const removed = await db.removeNode(3);
        assert.equal(removed.id, 3);
        assert.equal((await rejection(db.removeNode(3))).code, 'NOT_FOUND');
      });
    });

    describe('ThunderClient without a cluster', () => {
      test('a refused connection is a ClusterUnreachableError naming the URL', TIMEOUT, async () => {
        const url = `http://127.0.0.1:${await closedPort()}`;
        const err = await rejection(new ThunderClient(url).get('k'));
        assert.ok(err instanceof ClusterUnreachableError);
        assert.equal(err.code, 'CLUSTER_UNREACHABLE');
        assert.equal(err.url, url);
        assert.equal(err.reason, 'connection refused');
        assert.equal(err.message, `cannot reach ${url} (connection refused)`);
      });

      test(
        'a connection lost in the middle of a value is a ClusterUnreachableError, not a raw TypeError',
        TIMEOUT,
        async (t) => {
          // A server that promises 100 bytes, sends 10, and hangs up.
          const server = createServer((_req, res) => {
            res.writeHead(200, { 'Content-Length': '100', ETag: '"1"' });
            res.write(Buffer.alloc(10), () => res.socket?.destroy());
          });
          server.listen(0, '127.0.0.1');
          await once(server, 'listening');
          t.after(() => server.close());
          const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
          const err = await rejection(new ThunderClient(url).get('k'));
          assert.ok(err instanceof ClusterUnreachableError, String(err));
          assert.equal(err.url, url);
        },
      );

      test(
        'a request fetch cannot send is the caller’s error as it is, not "unreachable"',
        TIMEOUT,
        async () => {
          const url = `http://127.0.0.1:${await closedPort()}`;
          // Not Latin-1: no HTTP header can carry it.
          const err = await rejection(new ThunderClient(url).put('k', 'v', { ifMatch: '“1”' }));
          assert.ok(err instanceof TypeError && !(err instanceof ClusterUnreachableError), String(err));
        },
      );

      test('a URL that is not one is a TypeError at construction; the default is 127.0.0.1:8080', () => {
        assert.throws(() => new ThunderClient('not a url'), TypeError);
        assert.throws(() => new ThunderClient('localhost:8080'), /must be http:\/\/ or https:\/\//);
        assert.equal(new ThunderClient().url, 'http://127.0.0.1:8080');
        assert.equal(new ThunderClient('http://localhost:9000/').url, 'http://localhost:9000');
      });
    });
  });
