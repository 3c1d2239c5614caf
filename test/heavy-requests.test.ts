import assert from 'node:assert/strict';
import { request, type IncomingMessage } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Cluster } from '../src/cluster/cluster.js';
import { SNAPSHOT_SLICE_BYTES } from '../src/http/snapshot-stream.js';
import { codeOf, FRONT_ENDS, http, LONG_TIMEOUT, type Running, startRunning, TIMEOUT } from './helpers.js';

const MiB = 1 << 20;

/** Operations node `id` has applied (its stats call itself counts one). */
async function opsOf(cluster: Cluster, id = 0): Promise<number> {
  return (await cluster.nodes())[id]!.ops!;
}

/** Starts a request and hands back the response unread (paused), for slow-reader tests. */
function openPaused(url: string, method: string, path: string, body?: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(url);
    const req = request({ host: hostname, port, method, path, agent: false }, (res) => {
      res.pause();
      resolve(res);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Reads a response to the end, counting bytes without keeping them. */
function drain(res: IncomingMessage): Promise<{ bytes: number; complete: boolean }> {
  return new Promise((resolve) => {
    let bytes = 0;
    res.on('data', (chunk: Buffer) => (bytes += chunk.length));
    res.on('end', () => resolve({ bytes, complete: res.complete }));
    res.on('error', () => resolve({ bytes, complete: false }));
    res.on('aborted', () => resolve({ bytes, complete: false }));
    res.resume();
  });
}

for (const frontEnd of FRONT_ENDS)
  describe(`on ${frontEnd}`, () => {
    describe('answers larger than any one string: _mget and /snapshot stream', () => {
      // 90 values of 1 MiB of control bytes: JSON escapes each byte as \u0001, so either answer
      // is about 540 MiB of text, past V8's longest string (2^29 − 24 characters). Built as one
      // string it threw a RangeError that ended the process, or the node thread for /snapshot.
      const keys = Array.from({ length: 90 }, (_, i) => `ctl${i}`);
      let run: Running;
      before(async () => {
        run = await startRunning({ http: frontEnd, nodes: 1 });
        const control = Buffer.alloc(MiB, 1);
        for (const key of keys) assert.equal((await http(run.url, 'PUT', `/kv/${key}`, control)).status, 204);
      }, TIMEOUT);
      after(() => run.stop(), TIMEOUT);

      test(
        'an _mget whose answer passes the longest string is streamed whole, and the server lives',
        LONG_TIMEOUT,
        async () => {
          const res = await openPaused(run.url, 'POST', '/kv/_mget', JSON.stringify({ keys }));
          assert.equal(res.statusCode, 200);
          assert.equal(res.headers['transfer-encoding'], 'chunked');
          const { bytes, complete } = await drain(res);
          assert.ok(complete, 'the answer ended properly');
          const escaped = JSON.stringify('\u0001'.repeat(MiB)).length;
          assert.ok(bytes > keys.length * escaped, `${bytes} bytes`);
          assert.ok(bytes > 2 ** 29, 'longer than any V8 string');
          assert.equal((await http(run.url, 'GET', '/kv/ctl0')).status, 200, 'the server still answers');
        },
      );

      test(
        'a /snapshot whose answer passes the longest string is streamed whole, and the node lives',
        LONG_TIMEOUT,
        async () => {
          const res = await openPaused(run.url, 'GET', '/snapshot');
          assert.equal(res.statusCode, 200);
          const { bytes, complete } = await drain(res);
          assert.ok(complete && bytes > 2 ** 29, `${bytes} bytes, complete: ${complete}`);
          const nodes = await run.cluster.nodes();
          assert.equal(nodes[0]!.state, 'up');
          assert.equal(nodes[0]!.keys, keys.length);
        },
      );
    });

    describe('heavy requests hold bounded memory', () => {
      test(
        'a /snapshot read by a client that stops reading stops asking the node for slices',
        TIMEOUT,
        async (t) => {
          const run = await startRunning({ http: frontEnd, nodes: 1 });
          t.after(() => run.stop());
          // 64 MiB of values: far more than the socket buffers between server and client hold.
          const value = Buffer.alloc(64 * 1024, 'v');
          for (let i = 0; i < 1024; i += 64) {
            await Promise.all(
              Array.from({ length: 64 }, (_, j) => http(run.url, 'PUT', `/kv/s${i + j}`, value)),
            );
          }
          const start = await opsOf(run.cluster);
          const res = await openPaused(run.url, 'GET', '/snapshot');
          // Round trips to the node, not time: a server that asks for slices without waiting for the
          // client asks for one more in each. Once 20 pass with no slice asked (each stats call is
          // one op itself, each get another), the server is waiting for the client.
          let own = 0; // ops of this test's own calls since `start`
          let before = await opsOf(run.cluster);
          own++;
          for (;;) {
            for (let i = 0; i < 20; i++) await run.cluster.get('s0');
            const after = await opsOf(run.cluster);
            own += 21;
            if (after - before === 21) break;
            before = after;
          }
          // Waiting, and not because it asked for everything: only what the socket buffers between
          // server and client hold (a few MiB), of the 64 MiB.
          const slices = before + 21 - start - own;
          const all = (64 * MiB) / SNAPSHOT_SLICE_BYTES;
          assert.ok(
            slices < all / 2,
            `${slices} slices asked for while the client read nothing; all is ${all}`,
          );
          const { bytes, complete } = await drain(res);
          assert.ok(complete);
          assert.ok(bytes > 64 * MiB, `${bytes} bytes`);
        },
      );

      test('_mget fetches a key named many times once, in one answer entry', TIMEOUT, async (t) => {
        const run = await startRunning({ http: frontEnd, nodes: 1 });
        t.after(() => run.stop());
        await http(run.url, 'PUT', '/kv/big', Buffer.alloc(MiB, 'b'));
        const before = await opsOf(run.cluster);
        const answer = await http(
          run.url,
          'POST',
          '/kv/_mget',
          JSON.stringify({ keys: Array(5000).fill('big') }),
        );
        assert.equal(answer.status, 200);
        const values = (answer.json as { values: Record<string, string> }).values;
        assert.deepEqual(Object.keys(values), ['big']);
        assert.equal(values.big!.length, MiB);
        // The stats call before counts one, the single Get another, the stats call after a third.
        assert.equal((await opsOf(run.cluster)) - before, 2);
      });

      test(
        '_mget of more distinct keys than --max-keys-per-request is 413 TOO_MANY_KEYS',
        TIMEOUT,
        async (t) => {
          const run = await startRunning({ http: frontEnd, nodes: 1, limits: { maxKeysPerRequest: 3 } });
          t.after(() => run.stop());
          const ok = await http(
            run.url,
            'POST',
            '/kv/_mget',
            JSON.stringify({ keys: ['a', 'b', 'c', 'a', 'b'] }),
          );
          assert.equal(ok.status, 200);
          const refused = await http(
            run.url,
            'POST',
            '/kv/_mget',
            JSON.stringify({ keys: ['a', 'b', 'c', 'd'] }),
          );
          assert.equal(refused.status, 413);
          assert.equal(codeOf(refused), 'TOO_MANY_KEYS');
        },
      );

      test(
        '_mget packs small values into few windows and large ones into many, answering every key',
        TIMEOUT,
        async (t) => {
          const run = await startRunning({ http: frontEnd, nodes: 3 });
          t.after(() => run.stop());
          const keys: string[] = [];
          for (let i = 0; i < 300; i++) {
            keys.push(`w${i}`);
            const value = i % 100 === 0 ? Buffer.alloc(600 * 1024, 'L') : Buffer.from(`small${i}`);
            await http(run.url, 'PUT', `/kv/w${i}`, value);
          }
          keys.push('absent');
          const answer = await http(run.url, 'POST', '/kv/_mget', JSON.stringify({ keys }));
          const values = (answer.json as { values: Record<string, string | null> }).values;
          assert.deepEqual(Object.keys(values), keys, 'every key once, in the order asked');
          assert.equal(values.w0!.length, 600 * 1024);
          assert.equal(values.w1, 'small1');
          assert.equal(values.w299, 'small299');
          assert.equal(values.absent, null);
        },
      );

      test(
        'past --max-heavy-requests a heavy request is 503 SERVER_BUSY with Retry-After; the place frees on abort',
        TIMEOUT,
        async (t) => {
          const run = await startRunning({ http: frontEnd, nodes: 1, limits: { maxHeavyRequests: 1 } });
          t.after(() => run.stop());
          const value = Buffer.alloc(64 * 1024, 'v');
          for (let i = 0; i < 512; i++) await http(run.url, 'PUT', `/kv/h${i}`, value);
          const held = await openPaused(run.url, 'GET', '/snapshot');

          for (const [method, path, body] of [
            ['GET', '/snapshot', undefined],
            ['GET', '/kv?prefix=h', undefined],
            ['POST', '/kv/_mget', '{"keys":["h1"]}'],
          ] as const) {
            const busy = await http(run.url, method, path, body);
            assert.equal(busy.status, 503, `${method} ${path}`);
            assert.equal(codeOf(busy), 'SERVER_BUSY');
            assert.equal(busy.headers['retry-after'], '1');
          }
          assert.equal((await http(run.url, 'GET', '/kv/h1')).status, 200, 'key operations are not heavy');

          held.destroy(); // the client goes away mid-answer
          // Busy until the server has seen it go; a place never given back fails at the test's timeout.
          for (;;) {
            const answer = await http(run.url, 'GET', '/kv?prefix=h&limit=2');
            if (answer.status === 200) {
              assert.deepEqual(answer.json, { keys: ['h0', 'h1'], next: 'h1' });
              return;
            }
            assert.equal(codeOf(answer), 'SERVER_BUSY');
            await sleep(20);
          }
        },
      );
    });

    describe('listing does not starve key operations', () => {
      test(
        'a GET sent while a listing walks a large node is answered before the listing ends',
        TIMEOUT,
        async (t) => {
          const run = await startRunning({ http: frontEnd, nodes: 1 });
          t.after(() => run.stop());
          const { cluster } = run;
          const puts: Promise<number>[] = [];
          for (let i = 0; i < 100_000; i++) puts.push(cluster.put(`key${i}`, 'v'));
          await Promise.all(puts);

          const order: string[] = [];
          const listing = cluster.list('', '', 10).then((page) => {
            order.push('list');
            return page;
          });
          await new Promise((resolve) => setImmediate(resolve)); // the listing's first step is sent
          const get = cluster.get('key7').then((value) => {
            order.push('get');
            return value?.toString();
          });
          const [page, value] = await Promise.all([listing, get]);
          assert.equal(value, 'v');
          assert.deepEqual(order, ['get', 'list']);
          assert.equal(page.keys.length, 10);
          assert.equal(page.more, true);
          assert.deepEqual(page.keys, [...page.keys].sort());
        },
      );

      test(
        'listings started together while the nodes build their orders each get their own page',
        TIMEOUT,
        async (t) => {
          const run = await startRunning({ http: frontEnd, nodes: 3 });
          t.after(() => run.stop());
          const keys = Array.from({ length: 60_000 }, (_, i) => `k${i % 8}/${i}`);
          await Promise.all(keys.map((k) => run.cluster.put(k, 'v')));
          // Eight listings join one build per node; each then reads its own prefix and cursor.
          const pages = await Promise.all(
            Array.from({ length: 8 }, (_, i) => run.cluster.list(`k${i}/`, `k${i}/2`, 3)),
          );
          pages.forEach((page, i) => {
            const expected = keys.filter((k) => k.startsWith(`k${i}/`) && k > `k${i}/2`).sort();
            assert.deepEqual(page, { keys: expected.slice(0, 3), more: true });
          });
        },
      );

      test('a listing gathered from many nodes and pages equals a sort of every key', TIMEOUT, async (t) => {
        const run = await startRunning({ http: frontEnd, nodes: 3 });
        t.after(() => run.stop());
        const keys = Array.from({ length: 5000 }, (_, i) => `p${(i * 7919) % 5000}`);
        await Promise.all(keys.map((k) => run.cluster.put(k, 'v')));
        await run.cluster.put('q1', 'v');
        const expected = [...keys].sort();
        const seen: string[] = [];
        let after = '';
        for (;;) {
          const answer = await http(
            run.url,
            'GET',
            `/kv?prefix=p&limit=1000&after=${encodeURIComponent(after)}`,
          );
          const { keys: page, next } = answer.json as { keys: string[]; next: string | null };
          seen.push(...page);
          if (next === null) break;
          after = next;
        }
        // Compared key by key: a failure names the first difference, not a diff of 5,000 keys.
        assert.equal(seen.length, expected.length);
        const differs = seen.findIndex((key, i) => key !== expected[i]);
        if (differs >= 0) assert.fail(`key ${differs}: ${seen[differs]}, expected ${expected[differs]}`);
      });
    });
  });
