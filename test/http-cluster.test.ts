import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { codeOf, FRONT_ENDS, http, startRunning, TIMEOUT } from './helpers.js';

for (const frontEnd of FRONT_ENDS)
  describe(`on ${frontEnd}`, () => {
    describe('cluster routes', () => {
      test('GET /cluster shows every node with its keys, and the ring settings', TIMEOUT, async (t) => {
        const run = await startRunning({ http: frontEnd, nodes: 2, partitions: 64, replicas: 1 });
        t.after(() => run.stop());
        for (let i = 0; i < 40; i++) await http(run.url, 'PUT', `/kv/c${i}`, 'value');
        const answer = await http(run.url, 'GET', '/cluster');
        assert.equal(answer.status, 200);
        const body = answer.json as {
          nodes: {
            id: number;
            state: string;
            keys: number;
            bytes: number;
            ops: number;
            partitions: number;
          }[];
          ring: { hash: string; partitions: number };
        };
        assert.deepEqual(
          body.nodes.map((n) => [n.id, n.state, n.partitions]),
          [
            [0, 'up', 32],
            [1, 'up', 32],
          ],
        );
        assert.equal(body.nodes[0]!.keys + body.nodes[1]!.keys, 40);
        assert.ok(body.nodes.every((n) => n.keys > 0 && n.bytes > 0 && n.ops > 0));
        assert.deepEqual(body.ring, {
          hash: 'murmur3-x86-32',
          seed: 0,
          partitions: 64,
          replicas: 1,
          r: 1,
          w: 1,
        });
      });

      test(
        "GET /cluster/locate/{key} gives hash, partition, owner and each replica's version",
        TIMEOUT,
        async (t) => {
          const run = await startRunning({ http: frontEnd, nodes: 3 });
          t.after(() => run.stop());
          assert.equal((await http(run.url, 'PUT', '/kv/foo', 'v')).status, 204);
          const version = Number(
            String((await http(run.url, 'GET', '/kv/foo')).headers.etag).replaceAll('"', ''),
          );
          await http(run.url, 'PUT', '/kv/bar', 'v');
          assert.equal((await http(run.url, 'DELETE', '/kv/bar')).status, 204);
          const tombstone = Number(
            ((await http(run.url, 'GET', '/cluster/locate/bar')).json as { versions: number[] }).versions[0],
          );
          assert.ok(tombstone < 0, `a tombstone's version is negative, got ${tombstone}`);
          await run.cluster.crash(0);
          const answer = await http(run.url, 'GET', '/cluster/locate/foo');
          assert.deepEqual(answer.json, {
            key: 'foo',
            hash: 4138058784,
            partition: 986,
            node: 2,
            replicas: [2, 0, 1],
            states: ['up', 'down', 'up'],
            versions: [version, null, version],
          });
          assert.equal(codeOf(await http(run.url, 'GET', '/cluster/locate/%zz')), 'INVALID_KEY');
        },
      );

      describe('when a node thread dies, with one replica per key', () => {
        let run: Awaited<ReturnType<typeof startRunning>>;
        after(() => run?.stop(), TIMEOUT);

        test(
          'its keys answer 503 NODE_UNAVAILABLE, the other nodes go on, /health is 503',
          TIMEOUT,
          async () => {
            run = await startRunning({ http: frontEnd, nodes: 3, replicas: 1 });
            assert.equal((await http(run.url, 'GET', '/health')).status, 200);
            const keys = Array.from({ length: 30 }, (_, i) => `dead${i}`);
            for (const k of keys) await http(run.url, 'PUT', `/kv/${k}`, 'v');
            await run.cluster.crash(1); // resolves with the node down

            const ring = run.cluster.ring;
            for (const k of keys) {
              const answer = await http(run.url, 'GET', `/kv/${k}`);
              if (ring.nodeFor(k) === 1) {
                assert.equal(answer.status, 503, k);
                assert.equal(codeOf(answer), 'NODE_UNAVAILABLE');
              } else {
                assert.equal(answer.text, 'v', k);
              }
            }
            const health = await http(run.url, 'GET', '/health');
            assert.equal(health.status, 503);
            assert.equal(codeOf(health), 'NODE_UNAVAILABLE');
            const nodes = (await http(run.url, 'GET', '/cluster')).json as { nodes: { state: string }[] };
            assert.deepEqual(
              nodes.nodes.map((n) => n.state),
              ['up', 'down', 'up'],
            );
            const batch = await http(run.url, 'POST', '/kv', keys.map((k) => `${k} w`).join('\n'), {
              'Content-Type': 'text/plain',
            });
            assert.equal(batch.status, 503);
            const written = (batch.json as { error: { written: number } }).error.written;
            // The batch stops at the first pair for the dead node: only the pairs before it count.
            assert.equal(
              written,
              keys.findIndex((k) => ring.nodeFor(k) === 1),
            );
            assert.ok(written > 0);
          },
        );
      });
    });
  });
