import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Cluster } from '../src/cluster/cluster.js';
import { NodeStore } from '../src/node/store.js';
import { FRONT_ENDS, http, movableClock, startRunning, TIMEOUT } from './helpers.js';
import { redisSkip, startRedis, startRedisCluster, type RedisServers } from '../support/redis-servers.js';
import { memcachedSkip, startMemcached } from '../support/memcached-servers.js';

/**
 * The key-value contract, over values as byte strings (one char per byte). A store that
 * keeps its data across a stop says so with `reopen`: the suite then also checks that what
 * it acknowledged is there after a clean stop and start.
 */
interface Store {
  put(key: string, value: string): Promise<void>;
  get(key: string): Promise<string | undefined>;
  delete(key: string): Promise<boolean>;
  close(): Promise<void>;
  /** Stops the store and starts it again on the same data (durable stores only). */
  reopen?(): Promise<Store>;
  /** Values that expire, on a clock the test moves (stores that have them). */
  expiry?: {
    put(key: string, value: string, ttlMs: number): Promise<void>;
    /** Moves the store's wall clock forward. */
    advance(ms: number): void;
    /** Purges what expired more than the grace period ago, now. */
    sweep(): Promise<void>;
    /** Records of values that expire, summed over replicas. */
    expiring(): Promise<number>;
  };
}

/** How long past its expiry a value is kept before the sweep purges it, in the suite. */
const GRACE_MS = 1000;

/** A cluster's expiry, driven by `clock`. */
function clusterExpiry(
  cluster: Cluster,
  clock: ReturnType<typeof movableClock>,
  put: Required<Store>['expiry']['put'],
) {
  return {
    put,
    advance: clock.advance,
    sweep: async () => void (await cluster.sweepExpired()),
    expiring: async () => (await cluster.nodes()).reduce((sum, node) => sum + (node.expiring ?? 0), 0),
  };
}

/**
 * A threaded cluster as a Store, with `options`; `servers`, the Redis it keeps its data in,
 * stopped when the store closes (not when it reopens).
 */
async function clusterStore(
  options: Parameters<typeof Cluster.start>[0],
  servers?: Pick<RedisServers, 'stop'>,
  clock = movableClock(),
): Promise<Store> {
  const cluster = await Cluster.start({ ...options, clock, tombstoneGraceMs: GRACE_MS, expirySweepMs: 0 });
  return {
    expiry: clusterExpiry(cluster, clock, async (k, v, ttlMs) => {
      await cluster.putExpiring(k, v, clock.wall() + ttlMs);
    }),
    put: async (k, v) => void (await cluster.put(k, v)),
    get: async (k) => (await cluster.get(k))?.toString('latin1'),
    delete: (k) => cluster.delete(k),
    close: async () => {
      await cluster.close();
      await servers?.stop();
    },
    ...(options?.storage === undefined
      ? {}
      : {
          reopen: async () => {
            await cluster.close();
            return clusterStore(options, servers, clock);
          },
        }),
  };
}

const layers: [string, () => Promise<Store>][] = [
  [
    'in-process shard',
    async () => {
      const store = new NodeStore();
      return {
        put: async (k, v) => store.put(k, v),
        get: async (k) => store.get(k),
        delete: async (k) => store.delete(k),
        close: async () => {},
      };
    },
  ],
  ['threaded cluster', () => clusterStore({ nodes: 3 })],
  [
    'threaded cluster, --storage log --fsync always',
    async () =>
      clusterStore({
        nodes: 3,
        storage: { kind: 'log', dataDir: await mkdtemp(join(tmpdir(), 'thunderdb-log-')), fsync: 'always' },
      }),
  ],
  [
    'threaded cluster, --storage redis (a real redis-server)',
    async () => {
      const servers = await startRedis();
      const target = { url: `redis://127.0.0.1:${servers.ports[0]}` };
      return clusterStore({ nodes: 3, storage: { kind: 'redis', target, prefix: 'conformance:' } }, servers);
    },
  ],
  [
    'threaded cluster, --storage redis on a three-master Redis Cluster',
    async () => {
      const servers = await startRedisCluster();
      const target = { cluster: [{ host: '127.0.0.1', port: servers.ports[0]! }] };
      return clusterStore({ nodes: 3, storage: { kind: 'redis', target, prefix: 'conformance:' } }, servers);
    },
  ],
  [
    'threaded cluster, --storage memcached (a real memcached; records logged, fsync always)',
    async () => {
      const server = await startMemcached();
      const dataDir = await mkdtemp(join(tmpdir(), 'thunderdb-memcached-'));
      return clusterStore(
        {
          nodes: 3,
          storage: {
            kind: 'memcached',
            servers: server.address,
            prefix: 'conformance:',
            dataDir,
            fsync: 'always',
            maxValueBytes: 1 << 20,
          },
        },
        server,
      );
    },
  ],
  ...FRONT_ENDS.map((frontEnd): [string, () => Promise<Store>] => [
    `HTTP front end: ${frontEnd}`,
    async () => {
      const clock = movableClock();
      const run = await startRunning({
        http: frontEnd,
        nodes: 3,
        clock,
        tombstoneGraceMs: GRACE_MS,
        expirySweepMs: 0,
      });
      const path = (k: string) => '/kv/' + encodeURIComponent(k);
      return {
        expiry: clusterExpiry(run.cluster, clock, async (k, v, ttlMs) => {
          const answer = await http(
            run.url,
            'PUT',
            `${path(k)}?ttl=${ttlMs / 1000}`,
            Buffer.from(v, 'latin1'),
          );
          assert.equal(answer.status, 204);
        }),
        put: async (k, v) => {
          assert.equal((await http(run.url, 'PUT', path(k), Buffer.from(v, 'latin1'))).status, 204);
        },
        get: async (k) => {
          const answer = await http(run.url, 'GET', path(k));
          return answer.status === 404 ? undefined : answer.body.toString('latin1');
        },
        delete: async (k) => (await http(run.url, 'DELETE', path(k))).status === 204,
        close: () => run.stop(),
      };
    },
  ]),
];

for (const [name, factory] of layers) {
  const skip = name.includes('--storage redis')
    ? redisSkip()
    : name.includes('--storage memcached')
      ? memcachedSkip()
      : false;
  describe(`key-value conformance: ${name}`, { skip }, () => {
    let store: Store;
    before(async () => {
      store = await factory();
    }, TIMEOUT);
    after(() => store.close(), TIMEOUT);

    test('get() of an absent key is undefined', TIMEOUT, async () => {
      assert.equal(await store.get('absent'), undefined);
    });

    test('put() then get() returns the value; put() again overwrites it', TIMEOUT, async () => {
      await store.put('k', 'v1');
      assert.equal(await store.get('k'), 'v1');
      await store.put('k', 'v2');
      assert.equal(await store.get('k'), 'v2');
    });

    test('delete() removes a key and says whether it was there', TIMEOUT, async () => {
      await store.put('d', 'x');
      assert.equal(await store.delete('d'), true);
      assert.equal(await store.get('d'), undefined);
      assert.equal(await store.delete('d'), false);
    });

    test('values are bytes: every byte value and the empty value round-trip', TIMEOUT, async () => {
      const all = Array.from({ length: 256 }, (_, i) => String.fromCharCode(i)).join('');
      await store.put('bytes', all);
      assert.equal(await store.get('bytes'), all);
      await store.put('empty', '');
      assert.equal(await store.get('empty'), '');
    });

    test('keys are text: punctuation, spaces and non-ASCII keys are distinct keys', TIMEOUT, async () => {
      const keys = ['a/b', 'a b', 'é', 'e\u0301', '日本', '😀', '%41', 'A'];
      for (const [i, k] of keys.entries()) await store.put(k, `v${i}`);
      for (const [i, k] of keys.entries()) assert.equal(await store.get(k), `v${i}`, k);
    });

    test('many keys written together all land', TIMEOUT, async () => {
      await Promise.all(Array.from({ length: 500 }, (_, i) => store.put(`many${i}`, `${i}`)));
      const values = await Promise.all(Array.from({ length: 500 }, (_, i) => store.get(`many${i}`)));
      assert.deepEqual(
        values,
        Array.from({ length: 500 }, (_, i) => `${i}`),
      );
    });

    test('what was acknowledged is there after a stop and a start (durable stores)', TIMEOUT, async (t) => {
      if (store.reopen === undefined) return t.skip('not durable');
      const all = Array.from({ length: 256 }, (_, i) => String.fromCharCode(i)).join('');
      await store.put('kept', all);
      await store.put('gone', 'x');
      await store.delete('gone');
      store = await store.reopen();
      assert.equal(await store.get('kept'), all);
      assert.equal(await store.get('gone'), undefined);
      assert.equal(await store.get('many499'), '499');
    });

    test(
      'a value that expires reads until its expiry, then not; the expiry and the purge outlast a restart',
      TIMEOUT,
      async (t) => {
        const expiry = store.expiry;
        if (expiry === undefined) return t.skip('no expiry');
        await expiry.put('brief', 'b', 60_000);
        await expiry.put('briefer', 'bb', 1_000);
        assert.equal(await store.get('brief'), 'b');
        assert.equal(await store.get('briefer'), 'bb');
        expiry.advance(1_000 + GRACE_MS + 500);
        assert.equal(await store.get('briefer'), undefined);
        await expiry.sweep();
        // Only 'brief' is left of the values that expire: once per replica.
        const copies = await expiry.expiring();
        assert.ok(copies >= 1 && copies <= 3, `${copies} copies`);
        if (store.reopen) {
          store = await store.reopen();
          assert.equal(await store.get('brief'), 'b', 'the value is back, with its expiry');
          assert.equal(await store.get('briefer'), undefined);
          assert.equal(await store.expiry!.expiring(), copies, 'the purge was kept, and the expiry');
        }
        store.expiry!.advance(60_000);
        assert.equal(await store.get('brief'), undefined, 'expired after the restart too');
      },
    );
  });
}
