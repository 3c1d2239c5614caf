import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { Cluster } from '../src/cluster/cluster.js';
import { NodeRuntime } from '../src/node/runtime.js';
import { NodeStore } from '../src/node/store.js';
import { valuesToRead } from '../src/node/value-reads.js';
import { KeyBytes } from '../src/ring/key-bytes.js';
import { HASH_SPACE } from '../src/ring/murmur3.js';
import { RedisValues } from '../src/storage/redis-values.js';
import { BatchWriter } from '../src/wire/batch.js';
import { Op } from '../src/wire/protocol.js';
import { ReplyReader } from '../src/wire/reply.js';
import { forEachRecord, readRecordSlice } from '../src/wire/slices.js';
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
    'a record scan after deletes in the same batch ends where its values were read: every value it sends is whole, none skipped',
    { ...TIMEOUT, skip: redisSkip() },
    async (t) => {
      const servers = await startRedis();
      t.after(() => servers.stop());
      const store = new NodeStore({ partitions: 1, externalValues: true });
      const { journal, recovered } = await RedisValues.open(
        { url: `redis://127.0.0.1:${servers.ports[0]}` },
        'scan:n0',
        1,
        (record) => store.replay(record),
      );
      t.after(() => store.close());
      store.useLog(journal, recovered);
      const runtime = new NodeRuntime(store);
      const only = { partitions: 1, bits: Buffer.from([1]) };
      const key = new KeyBytes();
      const writer = new BatchWriter();
      const op = (code: typeof Op.Put | typeof Op.Delete, name: string, version: number, value?: string) => {
        const length = key.encode(name);
        writer.key(code, key.buffer, length, key.hash(), version, value);
      };
      /** Applies a batch as a node thread does: reads the values it needs first; answers its one slice. */
      const run = async (): Promise<{ next: number; live: Map<string, string>; dead: string[] }> => {
        const batch = writer.take(1);
        const needs = valuesToRead(batch, store, journal, runtime.fills);
        if (needs.length > 0) {
          runtime.fills.fill(
            needs,
            await new Promise<(Buffer | null)[]>((resolve, reject) =>
              journal.read(needs, (error, values) => (error === null ? resolve(values) : reject(error))),
            ),
          );
        }
        const reader = new ReplyReader(runtime.apply(batch));
        runtime.fills.clear();
        await new Promise<void>((resolve, reject) =>
          store.commit((error) => (error ? reject(error) : resolve())),
        );
        let result: Buffer | number | null = null;
        for (let i = 0; i < reader.count; i++) result = reader.next();
        const slice = readRecordSlice(result as Buffer);
        const live = new Map<string, string>();
        const dead: string[] = [];
        forEachRecord(slice.records, (name, _hash, _version, value) => {
          if (value === null) dead.push(name.toString());
          else live.set(name.toString(), value.toString());
        });
        return { next: slice.next, live, dead };
      };
      const valueOf = (name: string) => name.repeat(100);
      const names = Array.from({ length: 40 }, (_, i) => `key-${String(i).padStart(2, '0')}`);
      for (const name of names) op(Op.Put, name, 1, valueOf(name));
      writer.scanRecords(0, 0, only); // a slice needs an operation to answer with
      await run();

      // The first slice of 5,000 bytes, then the same with its keys deleted first in the batch.
      writer.scanRecords(0, 5000, only);
      const first = await run();
      assert.ok(
        first.live.size >= 3 && first.live.size < names.length,
        `${first.live.size} keys in the slice`,
      );
      for (const name of first.live.keys()) op(Op.Delete, name, 2);
      writer.scanRecords(0, 5000, only);
      const again = await run();
      assert.deepEqual([...again.live.keys()], [], 'no live record past where the values were read');
      assert.deepEqual(again.dead.sort(), [...first.live.keys()].sort());

      // Scanned to the end, every key not deleted comes once, whole.
      const seen = new Map<string, string>();
      for (let from = again.next; from < HASH_SPACE;) {
        writer.scanRecords(from, 5000, only);
        const slice = await run();
        for (const [name, value] of slice.live) seen.set(name, value);
        from = slice.next;
      }
      const kept = names.filter((name) => !first.live.has(name));
      assert.deepEqual([...seen.keys()].sort(), kept);
      for (const name of kept) assert.equal(seen.get(name), valueOf(name));
    },
  );

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
