import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  codeOf,
  FRONT_ENDS,
  http,
  movableClock,
  type Running,
  settled,
  startRunning,
  TIMEOUT,
  until,
} from './helpers.js';

const GRACE_MS = 2000;
/** How long a replica has to answer, so a cut-off one fails fast. */
const TIMEOUT_MS = 400;

for (const frontEnd of FRONT_ENDS)
  describe(`on ${frontEnd}`, () => {
    describe('TTL: PUT /kv/{key}?ttl=SECONDS', () => {
      const clock = movableClock();
      let run: Running;
      before(async () => {
        // Sweeps run when the test asks (expirySweepMs 0), so counts are the test's own.
        run = await startRunning({
          http: frontEnd,
          nodes: 3,
          clock,
          tombstoneGraceMs: GRACE_MS,
          expirySweepMs: 0,
          timeoutMs: TIMEOUT_MS,
        });
      }, TIMEOUT);
      after(() => run.stop(), TIMEOUT);
      /** Each replica's version of a key (0: no record). */
      const versionsOf = async (key: string) =>
        ((await http(run.url, 'GET', `/cluster/locate/${key}`)).json as { versions: number[] }).versions;

      test(
        'GET and HEAD say the seconds left in X-TTL; a value without a TTL has no X-TTL',
        TIMEOUT,
        async () => {
          assert.equal((await http(run.url, 'PUT', '/kv/ttl-a?ttl=60', 'soon gone')).status, 204);
          const got = await http(run.url, 'GET', '/kv/ttl-a');
          assert.equal(got.status, 200);
          assert.equal(got.body.toString(), 'soon gone');
          // The wall clock moves only when the test moves it: the seconds left are exact.
          assert.equal(got.headers['x-ttl'], '60');
          const head = await http(run.url, 'HEAD', '/kv/ttl-a');
          assert.equal(head.status, 200);
          assert.equal(head.headers['x-ttl'], '60');
          clock.advance(30_000);
          assert.equal((await http(run.url, 'GET', '/kv/ttl-a')).headers['x-ttl'], '30');
          assert.equal((await http(run.url, 'PUT', '/kv/ttl-none', 'kept')).status, 204);
          assert.equal((await http(run.url, 'GET', '/kv/ttl-none')).headers['x-ttl'], undefined);
        },
      );

      test(
        'an expired key is absent on every route, and a PUT without ttl makes a key persistent again',
        TIMEOUT,
        async () => {
          for (const key of ['ttl-b', 'ttl-c', 'ttl-kept']) {
            assert.equal((await http(run.url, 'PUT', `/kv/${key}?ttl=5.5`, `v-${key}`)).status, 204);
          }
          // Written over without a TTL: it no longer expires.
          assert.equal((await http(run.url, 'PUT', '/kv/ttl-kept', 'forever')).status, 204);
          clock.advance(5_499);
          assert.equal((await http(run.url, 'GET', '/kv/ttl-b')).status, 200, 'not expired before its time');
          clock.advance(1);
          for (const method of ['GET', 'HEAD'] as const) {
            assert.equal((await http(run.url, method, '/kv/ttl-b')).status, 404, method);
          }
          assert.equal(codeOf(await http(run.url, 'GET', '/kv/ttl-b')), 'KEY_NOT_FOUND');
          assert.equal((await http(run.url, 'GET', '/get/ttl-b')).status, 404, 'the original route');
          const mget = await http(
            run.url,
            'POST',
            '/kv/_mget',
            JSON.stringify({ keys: ['ttl-b', 'ttl-kept'] }),
            {
              'Content-Type': 'application/json',
            },
          );
          assert.deepEqual(JSON.parse(mget.body.toString()), {
            values: { 'ttl-b': null, 'ttl-kept': 'forever' },
          });
          const listed = JSON.parse((await http(run.url, 'GET', '/kv?prefix=ttl-')).body.toString()) as {
            keys: string[];
          };
          assert.ok(!listed.keys.includes('ttl-b') && !listed.keys.includes('ttl-c'), listed.keys.join());
          assert.ok(listed.keys.includes('ttl-kept'));
          const snapshot = JSON.parse((await http(run.url, 'GET', '/snapshot')).body.toString()) as Record<
            string,
            string
          >;
          assert.equal(snapshot['ttl-b'], undefined);
          assert.equal(snapshot['ttl-kept'], 'forever');
          assert.equal((await http(run.url, 'GET', '/kv/ttl-kept')).headers['x-ttl'], undefined);
          // Deleting an expired key: nothing was there.
          assert.equal(codeOf(await http(run.url, 'DELETE', '/kv/ttl-c')), 'KEY_NOT_FOUND');
          // Create-if-absent succeeds over an expired value.
          assert.equal(
            (await http(run.url, 'PUT', '/kv/ttl-b', 'reborn', { 'If-None-Match': '*' })).status,
            204,
          );
          assert.equal((await http(run.url, 'GET', '/kv/ttl-b')).body.toString(), 'reborn');
        },
      );

      test(
        'every replica stores the expiry with the version, and purges the value once the grace period is past',
        TIMEOUT,
        async () => {
          assert.equal((await http(run.url, 'PUT', '/kv/ttl-purged?ttl=1', 'x')).status, 204);
          const located = await versionsOf('ttl-purged');
          assert.ok(
            located[0]! > 0 && new Set(located).size === 1,
            `one version on every replica: ${located.join()}`,
          );
          clock.advance(1_000 + GRACE_MS - 400);
          await run.cluster.sweepExpired();
          assert.deepEqual(await versionsOf('ttl-purged'), located, 'kept through the grace period');
          clock.advance(800);
          const purgedBefore = run.cluster.coordinatorStats().expiredPurged;
          await run.cluster.sweepExpired();
          // Every replica acknowledged the write, so it is purged from all of them (with the
          // expired values of earlier tests).
          assert.ok(run.cluster.coordinatorStats().expiredPurged > purgedBefore);
          assert.deepEqual(await versionsOf('ttl-purged'), [0, 0, 0], 'no record left on any replica');
          const expiring = (await run.cluster.nodes()).map((n) => n.expiring);
          // ttl-a (60 s) is the only value left that expires, on its three replicas.
          assert.equal(
            expiring.reduce((a, b) => a! + b!, 0),
            3,
            `values that expire, per node: ${expiring.join()}`,
          );
        },
      );

      test(
        'a replica that was down gets the expiry with the value, and clears it too',
        TIMEOUT,
        async (t) => {
          await run.cluster.crash(2);
          t.after(async () => {
            if (run.cluster.stateOf(2) === 'down') await run.cluster.restart(2);
          });
          assert.equal((await http(run.url, 'PUT', '/kv/ttl-hinted?ttl=2', 'h')).status, 204);
          await run.cluster.restart(2);
          const located = await versionsOf('ttl-hinted');
          assert.ok(
            located.every((v) => v > 0) && new Set(located).size === 1,
            `on every replica: ${located.join()}`,
          );
          clock.advance(2_000 + GRACE_MS + 400);
          assert.equal((await http(run.url, 'GET', '/kv/ttl-hinted')).status, 404);
          await run.cluster.sweepExpired();
          // Not every replica acknowledged the write (node 2 got it as a hint): each keeps it, as a
          // tombstone of its version once its bytes are cleared.
          const v = located[0]!;
          assert.deepEqual(await versionsOf('ttl-hinted'), [-v, -v, -v], 'node 2 knew the expiry as well');
        },
      );

      test(
        'a replica that missed the write cannot bring the older value back once the expired one is cleared',
        TIMEOUT,
        async (t) => {
          assert.equal((await http(run.url, 'PUT', '/kv/ttl-over', 'old')).status, 204);
          const [old] = await versionsOf('ttl-over');
          const cut = await http(
            run.url,
            'POST',
            '/cluster/faults',
            JSON.stringify({ type: 'partition', nodes: [2] }),
            {
              'Content-Type': 'application/json',
            },
          );
          assert.equal(cut.status, 201, cut.text);
          t.after(() => http(run.url, 'DELETE', '/cluster/faults'));
          // W = 2: acknowledged by the two others; node 2's copy times out, so it keeps 'old'.
          assert.equal((await http(run.url, 'PUT', '/kv/ttl-over?ttl=1', 'new')).status, 204);
          await settled(run.cluster, t.signal);
          assert.equal((await http(run.url, 'DELETE', '/cluster/faults')).status, 200);
          const before = await versionsOf('ttl-over');
          const v = Math.max(...before);
          assert.deepEqual(before.toSorted(), [old!, v, v].toSorted(), 'node 2 missed it');
          clock.advance(1_000 + GRACE_MS + 400);
          await run.cluster.sweepExpired();
          assert.deepEqual(
            (await versionsOf('ttl-over')).toSorted(),
            [-v, -v, old!].toSorted(),
            'cleared, not purged',
          );
          assert.equal((await http(run.url, 'GET', '/kv/ttl-over')).status, 404, 'the old value stays gone');
          // The read found node 2 stale and repaired it with the tombstone, after answering.
          await settled(run.cluster, t.signal);
          assert.deepEqual(await versionsOf('ttl-over'), [-v, -v, -v]);
        },
      );

      test(
        'a TTL that is not a positive number of seconds with at most three decimals is refused',
        TIMEOUT,
        async () => {
          for (const ttl of ['0', '-1', '1e3', '1.2345', 'abc', '', '01', '315360001', '0.0001']) {
            const answer = await http(run.url, 'PUT', `/kv/ttl-bad?ttl=${ttl}`, 'x');
            assert.equal(answer.status, 400, `ttl=${ttl}`);
            assert.equal(codeOf(answer), 'BAD_REQUEST', `ttl=${ttl}`);
          }
          assert.equal((await http(run.url, 'GET', '/kv/ttl-bad')).status, 404, 'nothing was written');
          assert.equal((await http(run.url, 'PUT', '/kv/ttl-max?ttl=315360000', 'x')).status, 204);
          assert.equal((await http(run.url, 'PUT', '/kv/ttl-min?ttl=0.001', 'x')).status, 204);
          // A TTL means nothing to a delete or a read: refused, not ignored.
          assert.equal(codeOf(await http(run.url, 'DELETE', '/kv/ttl-max?ttl=5')), 'UNKNOWN_PARAMETER');
          assert.equal(codeOf(await http(run.url, 'GET', '/kv/ttl-max?ttl=5')), 'UNKNOWN_PARAMETER');
          assert.equal(codeOf(await http(run.url, 'PUT', '/kv/ttl-max?lease=5', 'x')), 'NOT_IMPLEMENTED');
        },
      );
    });

    describe('TTL in real time', () => {
      let run: Running;
      before(async () => {
        run = await startRunning({ http: frontEnd, nodes: 3, tombstoneGraceMs: 0, expirySweepMs: 50 });
      }, TIMEOUT);
      after(() => run.stop(), TIMEOUT);

      test(
        'a key put with ?ttl=0.3 reads for 0.3 s, then is absent, then is purged from every replica',
        TIMEOUT,
        async (t) => {
          const started = performance.now();
          assert.equal((await http(run.url, 'PUT', '/kv/blink?ttl=0.3', 'now you see it')).status, 204);
          const seen = await http(run.url, 'GET', '/kv/blink');
          // A loaded machine may take a while to answer; only a fast answer must see the value.
          if (performance.now() - started < 250) assert.equal(seen.status, 200);
          await new Promise((resolve) => setTimeout(resolve, 350 - (performance.now() - started)));
          assert.equal((await http(run.url, 'GET', '/kv/blink')).status, 404);
          // Swept and purged by the cluster's own timers, however long those take to come round.
          await until(
            async () => (await run.cluster.nodes()).every((n) => n.keys === 0 && n.tombstones === 0),
            t.signal,
          );
          assert.equal(run.cluster.coordinatorStats().expiredPurged, 1);
          const metrics = (await http(run.url, 'GET', '/metrics')).text;
          assert.match(metrics, /^thunderdb_expired_purged_total 1$/m);
          for (const node of [0, 1, 2])
            assert.match(metrics, new RegExp(`^thunderdb_node_expiring_keys\\{node="${node}"\\} 0$`, 'm'));
        },
      );
    });

    describe('TTL past the longest wait a Node timer takes (2^31 − 1 ms, 24.8 days)', () => {
      test('a 30-day TTL arms no overflowing timer: no TimeoutOverflowWarning, nothing spinning', async (t) => {
        const warnings: string[] = [];
        const listener = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
        process.on('warning', listener);
        t.after(() => process.off('warning', listener));
        const run = await startRunning({ http: frontEnd, nodes: 3 });
        t.after(() => run.stop());
        assert.equal((await http(run.url, 'PUT', '/kv/month?ttl=2592000', 'v')).status, 204);
        // Once every replica holds it, the expiry's purge is armed (30 days + the grace period).
        while (run.cluster.coordinatorStats().expiredAwaitingPurge === 0) {
          await new Promise((resolve) => setImmediate(resolve));
        }
        // An overflowing timer warns as it is armed, and again each millisecond it re-arms.
        await new Promise((resolve) => setImmediate(resolve));
        assert.deepEqual(warnings, []);
      });
    });
  });
