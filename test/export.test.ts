import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { Rng } from '../src/time/rng.js';
import {
  codeOf,
  excerpt,
  FRONT_ENDS,
  http,
  movableClock,
  type Running,
  startRunning,
  TIMEOUT,
} from './helpers.js';

type DumpLine = [string, string] | [string, string, number];

/** A dump's lines, parsed, sorted by key. */
function parseDump(text: string): DumpLine[] {
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as DumpLine)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/** Posts a dump back, as `thunderdb import` does. */
function importDump(url: string, dump: string, query = 'encoding=base64') {
  return http(url, 'POST', `/kv?${query}`, dump, { 'Content-Type': 'application/x-ndjson' });
}

for (const frontEnd of FRONT_ENDS)
  describe(`on ${frontEnd}`, () => {
    describe('GET /export and POST /kv?encoding=base64: every key, every byte', () => {
      // Wall clocks that stand still until moved: expiries and TTLs are exact.
      const sourceClock = movableClock();
      const targetClock = movableClock();
      let source: Running;
      let target: Running;
      before(async () => {
        [source, target] = await Promise.all([
          startRunning({ http: frontEnd, nodes: 3, clock: sourceClock }),
          startRunning({ http: frontEnd, nodes: 2, replicas: 2, clock: targetClock }),
        ]);
      }, TIMEOUT);
      after(() => Promise.all([source?.stop(), target?.stop()]), TIMEOUT);

      test(
        '100,000 keys of random binary values go out and into a fresh cluster byte for byte',
        TIMEOUT,
        async () => {
          const rng = new Rng(20261126);
          const values = new Map<string, Buffer>();
          for (let i = 0; i < 100_000; i++) {
            const value = Buffer.alloc(rng.int(0, 64));
            for (let b = 0; b < value.length; b++) value[b] = rng.int(0, 255);
            values.set(`bin/${i}/é`, value);
          }
          values.set('bin/every-byte', Buffer.from(Array.from({ length: 256 }, (_, i) => i)));
          values.set('bin/empty', Buffer.alloc(0));
          // Loaded as a dump: the same route an import takes.
          const load = [...values].map(([k, v]) => JSON.stringify([k, v.toString('base64')])).join('\n');
          const loaded = await importDump(source.url, load);
          assert.equal(loaded.status, 200, excerpt(loaded.text));
          assert.deepEqual(loaded.json, { written: values.size });

          const exported = await http(source.url, 'GET', '/export');
          assert.equal(exported.status, 200);
          assert.equal(exported.headers['content-type'], 'application/x-ndjson');
          const lines = parseDump(exported.text);
          assert.equal(lines.length, values.size, 'each key exactly once, though each has three replicas');
          for (const [key, base64] of lines)
            assert.ok(Buffer.from(base64, 'base64').equals(values.get(key)!), key);

          const imported = await importDump(target.url, exported.text);
          assert.deepEqual(imported.json, { written: values.size });
          const again = parseDump((await http(target.url, 'GET', '/export')).text);
          // The fresh cluster exports the same dump, compared line by line: a failure names the
          // first difference, not a diff of 100,000 lines.
          assert.equal(again.length, lines.length);
          const differs = again.findIndex((line, i) => JSON.stringify(line) !== JSON.stringify(lines[i]));
          if (differs >= 0)
            assert.fail(`line ${differs} differs: ${excerpt(JSON.stringify(again[differs]))}`);
          for (const key of ['bin/every-byte', 'bin/empty', 'bin/77/é']) {
            const got = await http(target.url, 'GET', `/kv/${encodeURIComponent(key)}`);
            assert.equal(got.status, 200, key);
            assert.ok(got.body.equals(values.get(key)!), key);
          }
        },
      );

      test(
        '?prefix= exports only the keys that start with it; deleted and expired keys are left out',
        TIMEOUT,
        async () => {
          for (const key of ['px/a', 'px/b', 'px/gone', 'py/c']) {
            assert.equal((await http(source.url, 'PUT', `/kv/${key}`, `v:${key}`)).status, 204);
          }
          assert.equal((await http(source.url, 'DELETE', '/kv/px/gone')).status, 204);
          assert.equal((await http(source.url, 'PUT', '/kv/px/ttl?ttl=600', 'later')).status, 204);
          assert.equal((await http(source.url, 'PUT', '/kv/px/blink?ttl=0.001', 'gone')).status, 204);
          sourceClock.advance(1);
          const lines = parseDump((await http(source.url, 'GET', '/export?prefix=px%2F')).text);
          assert.deepEqual(
            lines.map((line) => line[0]),
            ['px/a', 'px/b', 'px/ttl'],
          );
          assert.deepEqual(lines[0], ['px/a', Buffer.from('v:px/a').toString('base64')]);
          assert.equal(lines[2]![2], sourceClock.wall() - 1 + 600_000, 'written 1 ms ago, for 600 s');
        },
      );

      test('an import keeps each expiry, and skips (and counts) pairs already expired', TIMEOUT, async () => {
        const now = targetClock.wall();
        const dump = [
          JSON.stringify(['imp/later', Buffer.from('x').toString('base64'), now + 60_000]),
          JSON.stringify(['imp/past', Buffer.from('y').toString('base64'), now - 1]),
          JSON.stringify(['imp/plain', Buffer.from([0, 255]).toString('base64')]),
        ].join('\n');
        const answer = await importDump(target.url, dump);
        assert.deepEqual(answer.json, { written: 2, expired: 1 });
        const later = await http(target.url, 'GET', '/kv/imp/later');
        assert.equal(later.headers['x-ttl'], '60');
        assert.equal((await http(target.url, 'GET', '/kv/imp/past')).status, 404);
        assert.deepEqual([...(await http(target.url, 'GET', '/kv/imp/plain')).body], [0, 255]);
      });

      test(
        'POST /kv?ttl= makes every pair of a batch expire; a pair that says its own expiry keeps it',
        TIMEOUT,
        async () => {
          const own = targetClock.wall() + 3_600_000;
          const body = [JSON.stringify(['bt/a', 'A']), JSON.stringify(['bt/own', 'B', own])].join('\n');
          const answer = await http(target.url, 'POST', '/kv?ttl=30', body, {
            'Content-Type': 'application/x-ndjson',
          });
          assert.deepEqual(answer.json, { written: 2 });
          const a = Number((await http(target.url, 'GET', '/kv/bt/a')).headers['x-ttl']);
          assert.equal(a, 30, 'bt/a X-TTL');
          const b = Number((await http(target.url, 'GET', '/kv/bt/own')).headers['x-ttl']);
          assert.equal(b, 3600, 'bt/own X-TTL');
          const text = await http(target.url, 'POST', '/kv?ttl=0.5&encoding=text', 'bt/t value', {
            'Content-Type': 'text/plain',
          });
          assert.deepEqual(text.json, { written: 1 });
          assert.equal((await http(target.url, 'GET', '/kv/bt/t')).headers['x-ttl'], '0.5');
        },
      );

      test(
        'bad base64, a bad expiry or an unknown encoding is refused with its code and what was written',
        TIMEOUT,
        async () => {
          const ok = JSON.stringify(['bad/ok', Buffer.from('fine').toString('base64')]);
          for (const [line, code] of [
            [JSON.stringify(['bad/1', 'not base64!']), 'BAD_REQUEST'],
            [JSON.stringify(['bad/2', 'QUJD']).replace('QUJD', 'QUJ'), 'BAD_REQUEST'], // unpadded
            [JSON.stringify(['bad/3', 'QUJD', 0]), 'BAD_REQUEST'],
            [JSON.stringify(['bad/4', 'QUJD', 1.5]), 'BAD_REQUEST'],
            [JSON.stringify(['bad/5', 'QUJD', '1700000000000']), 'BAD_REQUEST'],
          ] as const) {
            const answer = await importDump(target.url, `${ok}\n${line}\n`);
            assert.equal(answer.status, 400, line);
            assert.equal(codeOf(answer), code, line);
            assert.equal((answer.json as { error: { written: number } }).error.written, 1, line);
          }
          const large = Buffer.alloc(1024 * 1024 + 1).toString('base64');
          const tooLarge = await importDump(target.url, JSON.stringify(['bad/large', large]));
          assert.equal(codeOf(tooLarge), 'VALUE_TOO_LARGE', 'the decoded size counts, not the text');
          const limit = Buffer.alloc(1024 * 1024, 7).toString('base64');
          assert.deepEqual((await importDump(target.url, JSON.stringify(['bad/limit', limit]))).json, {
            written: 1,
          });
          const skipped = await importDump(
            target.url,
            `${JSON.stringify(['bad/1', '!!'])}\n${ok}`,
            'encoding=base64&invalid=skip',
          );
          assert.equal((skipped.json as { written: number; rejected: number }).written, 1);
          assert.equal((skipped.json as { written: number; rejected: number }).rejected, 1);
          assert.equal(codeOf(await importDump(target.url, ok, 'encoding=hex')), 'BAD_REQUEST');
          assert.equal(codeOf(await http(target.url, 'GET', '/export?limit=5')), 'UNKNOWN_PARAMETER');
          const head = await http(target.url, 'HEAD', '/export');
          assert.equal(head.status, 200);
          assert.equal(head.headers['content-type'], 'application/x-ndjson');
          assert.equal(head.body.length, 0);
        },
      );
    });

    describe('GET /export when a node is down, or the client leaves', () => {
      let run: Running;
      before(async () => {
        // One heavy request at a time: an export that never gave its turn back would show.
        run = await startRunning({ http: frontEnd, nodes: 3, limits: { maxHeavyRequests: 1 } });
        const lines = Array.from({ length: 30_000 }, (_, i) => JSON.stringify([`d/${i}`, 'x'.repeat(100)]));
        const loaded = await http(run.url, 'POST', '/kv', lines.join('\n'), {
          'Content-Type': 'application/x-ndjson',
        });
        assert.deepEqual(loaded.json, { written: 30_000 });
      }, TIMEOUT);
      after(() => run.stop(), TIMEOUT);

      test(
        'a node down: every key still comes out once, from the replicas that are up',
        TIMEOUT,
        async (t) => {
          await run.cluster.crash(1);
          t.after(() => run.cluster.restart(1).then(() => {}));
          const exported = await http(run.url, 'GET', '/export?prefix=d%2F');
          assert.equal(exported.status, 200, excerpt(exported.text));
          assert.equal(parseDump(exported.text).length, 30_000);
        },
      );

      test('a client that leaves mid-export gives its heavy-request turn back', TIMEOUT, async () => {
        const { hostname, port } = new URL(run.url);
        await new Promise<void>((resolve, reject) => {
          const req = request({ host: hostname, port, path: '/export', agent: false }, (res) => {
            res.once('data', () => {
              // 3 MB to come: leave after the first piece.
              req.destroy();
              resolve();
            });
          });
          req.on('error', () => {});
          req.once('error', reject);
          req.end();
        });
        // The server learns of the departure when its next write fails: busy until then (a turn
        // never given back fails at the test's timeout).
        for (;;) {
          const again = await http(run.url, 'GET', '/export?prefix=d%2F1');
          if (again.status === 200) {
            assert.equal(parseDump(again.text).length, 11_111);
            break;
          }
          assert.equal(codeOf(again), 'SERVER_BUSY');
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      });
    });
  });
