import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { Cluster } from '../src/cluster/cluster.js';
import type { StorageOptions } from '../src/storage/options.js';
import { TIMEOUT, until } from './helpers.js';
import { redisCli, redisSkip, startRedis, type RedisServers } from '../support/redis-servers.js';

/** A cluster of three nodes keeping its values in a Redis the test starts. */
async function clusterOnRedis(
  t: TestContext,
  prefix: string,
): Promise<{ cluster: Cluster; servers: RedisServers; storage: StorageOptions }> {
  const servers = await startRedis();
  t.after(() => servers.stop());
  const storage: StorageOptions = {
    kind: 'redis',
    target: { url: `redis://127.0.0.1:${servers.ports[0]}` },
    prefix,
  };
  const cluster = await Cluster.start({ nodes: 3, storage });
  t.after(() => cluster.close());
  return { cluster, servers, storage };
}

/** Deletes node `node`'s copy of `key`'s value in Redis, behind its back. */
function loseValue(servers: RedisServers, cluster: Cluster, prefix: string, node: number, key: string): void {
  const partition = cluster.ring.locate(key).partition;
  const removed = redisCli(servers.ports[0]!, 'hdel', `{${prefix}n${node}:p${partition}}:v`, key).trim();
  assert.equal(removed, '1', `node ${node} had a value of ${key} in Redis`);
}

describe('--storage redis keeps the values in Redis', () => {
  test(
    'a node holds records, not values; every value reads back, also after the whole cluster restarts',
    { ...TIMEOUT, skip: redisSkip() },
    async (t) => {
      const { cluster, storage } = await clusterOnRedis(t, 'values:');
      const count = 3000;
      const valueOf = (i: number) => `${i}:`.padEnd(4096, String.fromCharCode(97 + (i % 26)));
      const all = { ...cluster.consistency, w: 3 };
      for (let i = 0; i < count; i += 500) {
        await Promise.all(
          Array.from({ length: 500 }, (_, j) => cluster.put(`key-${i + j}`, valueOf(i + j), all)),
        );
      }
      for (const node of await cluster.nodes()) {
        // 3,000 values of 4 KiB are 12 MB on each node; its store holds one slab of records.
        assert.ok(node.bytes! > count * 4096, `node ${node.id} counts its values: ${node.bytes}`);
        assert.ok(node.storeBytes! < node.bytes! / 2, `node ${node.id} holds ${node.storeBytes} bytes`);
      }
      for (let i = 0; i < count; i += 97)
        assert.equal((await cluster.get(`key-${i}`))?.toString(), valueOf(i));
      await cluster.close();

      const again = await Cluster.start({ nodes: 3, storage });
      t.after(() => again.close());
      for (const node of await again.nodes()) {
        assert.ok(
          node.storage?.backend === 'redis' && node.storage.recoveredKeys === count,
          JSON.stringify(node),
        );
      }
      for (let i = 0; i < count; i++) {
        const got = await again.get(`key-${i}`);
        if (got?.toString() !== valueOf(i)) assert.fail(`key-${i} read ${got?.subarray(0, 16).toString()}…`);
      }
    },
  );

  test(
    "a value Redis lost for one replica is read from another and written back to that replica's Redis",
    { ...TIMEOUT, skip: redisSkip() },
    async (t) => {
      const { cluster, servers } = await clusterOnRedis(t, 'lost:');
      await cluster.put('k', 'the value', { ...cluster.consistency, w: 3 });
      const [a] = cluster.ring.locate('k').replicas as [number];
      loseValue(servers, cluster, 'lost:', a, 'k');
      assert.equal((await cluster.get('k', { ...cluster.consistency, r: 3 }))?.toString(), 'the value');
      assert.equal(cluster.coordinatorStats().valuesLostFound, 1);
      const partition = cluster.ring.locate('k').partition;
      await until(
        () => redisCli(servers.ports[0]!, 'hexists', `{lost:n${a}:p${partition}}:v`, 'k').trim() === '1',
        t.signal,
      );
      assert.equal((await cluster.get('k', { ...cluster.consistency, r: 3 }))?.toString(), 'the value');
      assert.equal(cluster.coordinatorStats().valuesLostFound, 1, 'the repaired replica reads whole');
    },
  );

  test(
    'a value Redis lost on every replica answers 410 VALUE_LOST, never an older value; a new write stores again',
    { ...TIMEOUT, skip: redisSkip() },
    async (t) => {
      const { cluster, servers } = await clusterOnRedis(t, 'gone:');
      const all = { ...cluster.consistency, w: 3 };
      await cluster.put('k', 'older', all);
      await cluster.put('k', 'newer', all);
      for (const node of cluster.ring.locate('k').replicas) loseValue(servers, cluster, 'gone:', node, 'k');
      await assert.rejects(cluster.get('k'), (err: { code: string; status: number; message: string }) => {
        assert.equal(err.code, 'VALUE_LOST');
        assert.equal(err.status, 410);
        assert.match(err.message, /^k was written at version \d+/);
        return true;
      });
      await cluster.put('k', 'newest', all);
      assert.equal((await cluster.get('k'))?.toString(), 'newest');
    },
  );

  test(
    'a prefix written in the copy layout of an earlier version is refused, not read as empty',
    { ...TIMEOUT, skip: redisSkip() },
    async (t) => {
      const servers = await startRedis();
      t.after(() => servers.stop());
      redisCli(servers.ports[0]!, 'hset', '{old:n1:p7}', 'k', 'a record of the copy layout');
      await assert.rejects(
        Cluster.start({
          nodes: 3,
          storage: {
            kind: 'redis',
            target: { url: `redis://127.0.0.1:${servers.ports[0]}` },
            prefix: 'old:',
          },
        }),
        /old:n1 at redis:\S+ holds data in the copy layout .*start with another --redis-prefix/,
      );
    },
  );
});
