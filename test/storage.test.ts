import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { Cluster } from '../src/cluster/cluster.js';
import { NodeRuntime } from '../src/node/runtime.js';
import { NodeStore } from '../src/node/store.js';
import { crc32 } from '../src/storage/crc32.js';
import { claimDataDir } from '../src/storage/data-dir.js';
import type { StorageOptions } from '../src/storage/options.js';
import { CorruptLogError, Log } from '../src/storage/log.js';
import { LogOp, type Recovered } from '../src/storage/journal.js';
import { KeyBytes } from '../src/ring/key-bytes.js';
import { Op } from '../src/wire/protocol.js';
import { BatchWriter } from '../src/wire/batch.js';
import { CLI_PATH, putOnEveryReplica, startCli, TIMEOUT, until } from './helpers.js';
import {
  recordsPerServer,
  redisCli,
  redisSkip,
  startRedis,
  startRedisCluster,
} from '../support/redis-servers.js';
import { CLAIM_TTL_MS, claimRedisPrefix } from '../src/storage/redis-claim.js';
import { RedisValues } from '../src/storage/redis-values.js';
import { readReplica } from './replicas.js';
import { memcachedSkip, startMemcached } from '../support/memcached-servers.js';

const scratch = () => mkdtemp(join(tmpdir(), 'thunderdb-log-'));

/** A shard on a log in `dir`: opened (replaying what is there), with what the replay found. */
function openShard(dir: string, mergeSlackBytes?: number): { shard: NodeStore; recovered: Recovered } {
  const shard = new NodeStore({ partitions: 16 });
  const { log, recovered } = Log.open(dir, 'always', (record) => shard.replay(record));
  shard.useLog(log, recovered, mergeSlackBytes);
  return { shard, recovered };
}

/** Applies puts (value) and deletes (null) to a shard as one batch, and commits it. */
async function write(shard: NodeStore, changes: [string, string | null, number][]): Promise<void> {
  const writer = new BatchWriter();
  const key = new KeyBytes();
  for (const [k, value, version] of changes) {
    const length = key.encode(k);
    if (value === null) writer.key(Op.Delete, key.buffer, length, key.hash(), version);
    else writer.key(Op.Put, key.buffer, length, key.hash(), version, Buffer.from(value));
  }
  new NodeRuntime(shard).apply(writer.take(1));
  await new Promise<void>((resolve, reject) => shard.commit((error) => (error ? reject(error) : resolve())));
}

const logFiles = (dir: string) => readdirSync(dir).filter((name) => name.endsWith('.log'));
const logBytes = (dir: string) => logFiles(dir).reduce((n, name) => n + statSync(join(dir, name)).size, 0);

describe('the log', () => {
  test('records are checked with CRC-32 as zlib computes it', () => {
    assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
    const fox = Buffer.from('The quick brown fox jumps over the lazy dog');
    assert.equal(crc32(fox), 0x414fa339);
    assert.equal(
      crc32(Buffer.concat([Buffer.from('xx'), fox]), 2),
      0x414fa339,
      'from an offset, past 8-byte steps',
    );
    assert.equal(crc32(Buffer.alloc(0)), 0);
  });

  test('replays what was committed, versions and tombstones included', TIMEOUT, async () => {
    const dir = await scratch();
    const { shard } = openShard(dir);
    await write(shard, [
      ['a', 'one', 10],
      ['b', 'two', 10],
      ['a', 'stale', 5], // older than what a holds: not applied, not logged
      ['b', null, 11],
    ]);
    await shard.close();
    const { shard: again, recovered } = openShard(dir);
    assert.equal(again.get('a'), 'one');
    assert.equal(again.get('b'), undefined);
    assert.equal(recovered.records, 3);
    assert.equal(again.statistics(0).tombstones, 1);
    await again.close();
  });

  test('a torn last record is cut off, and the log goes on after the last good one', TIMEOUT, async () => {
    const dir = await scratch();
    const { shard } = openShard(dir);
    await write(shard, [['a', 'kept', 1]]);
    await shard.close();
    const [file] = logFiles(dir);
    const good = statSync(join(dir, file!)).size;
    appendFileSync(join(dir, file!), Buffer.from([1, 2, 3, 4, 50, 0, 0, 0, 1])); // a record cut short
    const { shard: again, recovered } = openShard(dir);
    assert.deepEqual(recovered.cut, { file: join(dir, file!), offset: good });
    assert.equal(statSync(join(dir, file!)).size, good, 'the torn bytes are gone from the file');
    await write(again, [['b', 'after', 2]]);
    await again.close();
    const { shard: third, recovered: clean } = openShard(dir);
    assert.deepEqual([third.get('a'), third.get('b'), clean.cut], ['kept', 'after', undefined]);
    await third.close();
  });

  test(
    'a record that fails its checksum with data after it stops start-up, naming file and offset',
    TIMEOUT,
    async () => {
      const dir = await scratch();
      const { shard } = openShard(dir);
      await write(shard, [['a', 'first', 1]]);
      await write(shard, [['b', 'second', 2]]);
      await shard.close();
      const file = join(dir, logFiles(dir)[0]!);
      const bytes = await readFile(file);
      const firstEnd = bytes.readUInt32LE(4) + 8;
      bytes[firstEnd - 1]! ^= 0xff; // the first record's last byte: the second still follows
      writeFileSync(file, bytes);
      assert.throws(
        () => openShard(dir),
        (err: unknown) => {
          assert.ok(err instanceof CorruptLogError);
          assert.equal(err.file, file);
          assert.equal(err.offset, 0);
          assert.match(err.message, new RegExp(`truncate -s 0 ${file}`));
          return true;
        },
      );
    },
  );

  test('a garbled last record followed by zeros (a torn page) is cut as torn', TIMEOUT, async () => {
    const dir = await scratch();
    const { shard } = openShard(dir);
    await write(shard, [['a', 'kept', 1]]);
    await write(shard, [['b', 'torn', 2]]);
    await shard.close();
    const file = join(dir, logFiles(dir)[0]!);
    const bytes = await readFile(file);
    const secondAt = bytes.readUInt32LE(4) + 8;
    bytes[secondAt + 20]! ^= 0xff;
    writeFileSync(file, Buffer.concat([bytes, Buffer.alloc(4096)]));
    const { shard: again, recovered } = openShard(dir);
    assert.deepEqual([again.get('a'), again.get('b'), recovered.cut?.offset], ['kept', undefined, secondAt]);
    await again.close();
  });

  test(
    'merge keeps the data, drops what was overwritten, and shrinks the files; start-up reads only the merged file',
    TIMEOUT,
    async () => {
      const dir = await scratch();
      const { shard } = openShard(dir, 0);
      // Rewrite 50 keys 40 times: the log holds 2,000 records for 50 live ones. With no slack
      // a merge runs once the log is twice the live data.
      for (let round = 1; round <= 40; round++) {
        await write(
          shard,
          Array.from({ length: 50 }, (_, i): [string, string, number] => [
            `k${i}`,
            `v${round}`.repeat(20),
            round,
          ]),
        );
      }
      await write(shard, [['k0', null, 100]]);
      await shard.close();
      const merged = logBytes(dir);
      assert.ok(merged < 50 * 3 * (60 + 30), `log is ${merged} bytes`);
      const { shard: again, recovered } = openShard(dir);
      assert.equal(again.get('k1'), 'v40'.repeat(20));
      assert.equal(again.get('k0'), undefined);
      assert.ok(recovered.records <= 150, `${recovered.records} records replayed`);
      await again.close();
    },
  );

  test('a merge that did not finish leaves the files it would have replaced in force', TIMEOUT, async () => {
    const dir = await scratch();
    const { shard } = openShard(dir);
    await write(shard, [['a', 'kept', 1]]);
    await shard.close();
    writeFileSync(join(dir, '0000000002.log.tmp'), 'half a merge');
    const { shard: again } = openShard(dir);
    assert.equal(again.get('a'), 'kept');
    assert.deepEqual(readdirSync(dir), ['0000000001.log']);
    await again.close();
  });
});

describe('--storage log in a cluster', () => {
  /** The crash-recovery test, for one backend: the crashed node's own copy comes back before its refill. */
  async function recoversBeforeRefill(t: TestContext, storage: StorageOptions): Promise<void> {
    const cluster = await Cluster.start({ nodes: 3, storage, timeoutMs: 300 });
    t.after(() => cluster.close());
    const [a, b, c] = cluster.ring.locate('k').replicas as [number, number, number];
    await cluster.put('k', 'kept', { ...cluster.consistency, w: 3 }); // a among those that stored it
    await cluster.crash(a);
    cluster.addFault({ type: 'partition', nodes: [b, c] });
    const restarted = cluster.restart(a);
    await until(() => cluster.stateOf(a) === 'joining', t.signal);
    assert.equal((await readReplica(cluster, a, 'k'))?.value, 'kept');
    const stats = (await cluster.nodes()).find((node) => node.id === a)!.storage!;
    assert.ok(stats.backend === storage.kind && stats.recoveredKeys >= 1, JSON.stringify(stats));
    cluster.healAll();
    await restarted;
    assert.equal(cluster.stateOf(a), 'up');
  }

  test(
    'a crashed node replays its own log before it is refilled: it holds its data while its sources are cut off',
    TIMEOUT,
    async (t) => {
      await recoversBeforeRefill(t, { kind: 'log', dataDir: await scratch(), fsync: 'always' });
    },
  );

  test(
    'with --storage redis too: a crashed node reads its keys back from Redis before it is refilled',
    { ...TIMEOUT, skip: redisSkip() },
    async (t) => {
      const servers = await startRedis();
      t.after(() => servers.stop());
      await recoversBeforeRefill(t, {
        kind: 'redis',
        target: { url: `redis://127.0.0.1:${servers.ports[0]}` },
        prefix: 'recover:',
      });
    },
  );

  test(
    'with --storage redis, a write Redis cannot store fails (503); when Redis is back the node stores again, and sends what failed',
    { ...TIMEOUT, skip: redisSkip() },
    async (t) => {
      const servers = await startRedis();
      t.after(() => servers.stop());
      const cluster = await Cluster.start({
        nodes: 3,
        storage: { kind: 'redis', target: { url: `redis://127.0.0.1:${servers.ports[0]}` }, prefix: 'down:' },
        timeoutMs: 3000,
      });
      t.after(() => cluster.close());
      await cluster.put('before', 'v');
      await servers.kill();
      await assert.rejects(cluster.put('during', 'v'), (err: { code: string; message: string }) => {
        assert.equal(err.code, 'QUORUM_NOT_MET');
        assert.match(err.message, /storage failed/);
        return true;
      });
      await servers.restart();
      // The clients reconnect on their own (ioredis retries with a growing delay): tried
      // until they have, however long that takes on this machine (the test's timeout bounds it).
      await putOnEveryReplica(cluster, 'after', 'v');
      // Redis came back empty (no persistence in the tests). Each node sends 'during' again
      // with a later commit (one begun before its failure was known goes without it), so a
      // further write to every node brings it. ('before' may come too: a node whose commit
      // of it was still under way when Redis went sends it again as well.)
      const inRedis = (key: string) =>
        [0, 1, 2].filter((node) =>
          redisCli(servers.ports[0]!, 'hkeys', `{down:n${node}:p${cluster.ring.locate(key).partition}}:v`)
            .split('\n')
            .includes(key),
        );
      while (inRedis('during').length < 3) {
        await cluster.put('nudge', 'v', { ...cluster.consistency, w: 3 });
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.deepEqual(inRedis('after'), [0, 1, 2]);
    },
  );

  test(
    'the data directory keeps its ring settings and is held by one process at a time',
    TIMEOUT,
    async () => {
      const dir = await scratch();
      claimDataDir(dir, { nodes: 3, partitions: 1024, replicas: 3 });
      assert.throws(
        () => claimDataDir(dir, { nodes: 5, partitions: 1024, replicas: 3 }),
        /placed with --nodes 3 --partitions 1024 --replicas 3; start with those \(--nodes 5 given\)/,
      );
      writeFileSync(join(dir, 'LOCK'), String(process.ppid)); // a live process
      assert.throws(
        () => claimDataDir(dir, { nodes: 3, partitions: 1024, replicas: 3 }),
        /is in use by process/,
      );
      writeFileSync(join(dir, 'LOCK'), '999999999'); // no such process: a lock a kill left behind
      claimDataDir(dir, { nodes: 3, partitions: 1024, replicas: 3 });
    },
  );

  test(
    "with --storage redis on a three-master Redis Cluster, each node's keys spread over all three masters",
    { ...TIMEOUT, skip: redisSkip() },
    async (t) => {
      const servers = await startRedisCluster();
      t.after(() => servers.stop());
      const cluster = await Cluster.start({
        nodes: 3,
        storage: {
          kind: 'redis',
          target: { cluster: [{ host: '127.0.0.1', port: servers.ports[1]! }] },
          prefix: 'spread:',
        },
      });
      t.after(() => cluster.close());
      const keys = Array.from({ length: 300 }, (_, i) => `key-${i}`);
      await Promise.all(
        keys.map((key) => cluster.put(key, `value of ${key}`, { ...cluster.consistency, w: 3 })),
      );
      for (const node of [0, 1, 2]) {
        const perMaster = recordsPerServer(servers, `spread:n${node}:`);
        assert.equal(
          perMaster.reduce((a, b) => a + b, 0),
          300,
          `node ${node}: ${perMaster.join(', ')}`,
        );
        assert.ok(
          perMaster.every((count) => count >= 30),
          `node ${node}: ${perMaster.join(', ')}`,
        );
      }
    },
  );

  test(
    'values in Redis: an older record never overwrites a newer one, a purge takes only its own tombstone, and failed writes go again',
    { ...TIMEOUT, skip: redisSkip() },
    async (t) => {
      const servers = await startRedis();
      t.after(() => servers.stop());
      const [port] = servers.ports as [number];
      const target = { url: `redis://127.0.0.1:${port}` };
      const { journal } = await RedisValues.open(target, 'order:n0', 4, () => {});
      const key = Buffer.from('k');
      const commit = () =>
        new Promise<Error | undefined>((resolve) => journal.commit((error) => resolve(error)));
      /** The key's value, or with 'm' its record, as redis-cli quotes it. */
      const stored = (hash: 'v' | 'm' = 'v') => {
        const hex = redisCli(port, '--no-raw', 'hget', `{order:n0:p0}:${hash}`, 'k').trim();
        return hex === '(nil)' ? null : hex;
      };
      const put = (version: number, value: string) =>
        journal.append(LogOp.Put, 0, version, key, 0, 1, Buffer.from(value), 0, value.length);
      put(2, 'two');
      assert.equal(await commit(), undefined);
      put(1, 'one'); // a retried pipeline landing late, as ioredis may on a cluster
      assert.equal(await commit(), undefined);
      assert.match(stored()!, /two"$/);
      journal.append(LogOp.Tombstone, 0, 5, key, 0, 1);
      journal.append(LogOp.Purge, 0, 4, key, 0, 1); // another version's purge: not this tombstone
      assert.equal(await commit(), undefined);
      assert.equal(stored(), null, "a tombstone's value is gone");
      assert.notEqual(stored('m'), null);
      journal.append(LogOp.Purge, 0, 5, key, 0, 1);
      assert.equal(await commit(), undefined);
      assert.equal(stored('m'), null);

      // Redis away: the commits fail, in order, with nothing unhandled; once it is back the
      // next commit sends them again.
      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown) => unhandled.push(reason);
      process.on('unhandledRejection', onUnhandled);
      t.after(() => process.off('unhandledRejection', onUnhandled));
      await servers.kill();
      put(7, 'seven');
      const first = commit();
      put(8, 'eight');
      const second = commit();
      assert.ok((await first) instanceof Error);
      assert.ok((await second) instanceof Error);
      await servers.restart();
      // Each commit sends the failed writes again, beside its own: committed until the client
      // has reconnected and they landed (the test's timeout bounds it).
      while (!/eight"$/.test(stored() ?? '')) {
        await commit();
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.deepEqual(unhandled, []);
      await journal.close();
    },
  );

  test(
    'a Redis prefix keeps its ring settings and is held by one cluster at a time, until it closes or its holder dies',
    { ...TIMEOUT, skip: redisSkip() },
    async (t) => {
      const servers = await startRedis();
      t.after(() => servers.stop());
      const [port] = servers.ports as [number];
      const target = { url: `redis://127.0.0.1:${port}` };
      const ring = { nodes: 3, partitions: 1024, replicas: 3 };
      const claiming = performance.now();
      const { release } = await claimRedisPrefix(target, 'claim:', ring);
      assert.match(
        redisCli(port, 'get', 'claim:lock').trim(),
        new RegExp(`^${hostname()}:${process.pid}:[0-9a-f]{12}$`),
      );
      const ttl = Number(redisCli(port, 'pttl', 'claim:lock'));
      // Set to CLAIM_TTL_MS at most as long ago as the claim began (1 ms for Redis's rounding).
      const since = performance.now() - claiming;
      assert.ok(ttl >= CLAIM_TTL_MS - since - 1 && ttl <= CLAIM_TTL_MS, `the lock expires in ${ttl} ms`);
      await assert.rejects(claimRedisPrefix(target, 'claim:', ring), /claim: at redis:\S+ is in use by /);
      await release();
      await assert.rejects(
        claimRedisPrefix(target, 'claim:', { ...ring, nodes: 5 }),
        /placed with --nodes 3 --partitions 1024 --replicas 3; start with those \(--nodes 5 given\)/,
      );
      redisCli(port, 'set', 'claim:lock', `${hostname()}:999999999`); // left by a process killed with -9
      const again = await claimRedisPrefix(target, 'claim:', ring);
      await again.release();
      assert.equal(redisCli(port, 'exists', 'claim:lock').trim(), '0', 'closing lets go of the lock');
      redisCli(port, 'set', 'claim:lock', `${hostname()}:${process.pid}:0123456789ab`); // this pid, an earlier life
      await (await claimRedisPrefix(target, 'claim:', ring)).release();
      redisCli(port, 'set', 'claim:lock', 'another-host:1:0123456789ab'); // a holder this host cannot see: wait it out
      await assert.rejects(claimRedisPrefix(target, 'claim:', ring), /in use by another-host:1/);
    },
  );

  test(
    'a cluster killed with SIGKILL and not yet reaped by its parent (a zombie) does not hold its data directory',
    { skip: existsSync('/proc/self/stat') ? false : 'needs /proc to tell a zombie', timeout: 60_000 },
    async (t) => {
      const dataDir = await scratch();
      // The shell becomes `sleep`, which never waits for its children: once killed, the
      // cluster stays a zombie until the test ends `sleep`, however long that is.
      const parent = spawn('sh', [
        '-c',
        `"$0" "$1" cluster --port 0 --storage log --data-dir "$2" & echo "pid $!"; exec sleep 600`,
        process.execPath,
        CLI_PATH,
        dataDir,
      ]);
      let out = '';
      let pid = 0;
      // Both go, whatever fails: a cluster left running would hold this file's stdout pipe
      // open, and the test run would never end.
      t.after(() => {
        parent.kill('SIGKILL');
        try {
          if (pid) process.kill(pid, 'SIGKILL');
        } catch {
          // reaped already: the usual case once the shell is gone
        }
      });
      parent.stdout.on('data', (d: Buffer) => {
        out += d;
        pid ||= Number(/^pid (\d+)$/m.exec(out)?.[1] ?? 0);
      });
      await new Promise<void>((resolve, reject) => {
        parent.stdout.on('data', () => /listening on/.test(out) && resolve());
        parent.on('exit', () => reject(new Error(`the first cluster did not start: ${out}`)));
      });
      assert.equal(
        readFileSync(join(dataDir, 'LOCK'), 'utf8'),
        String(pid),
        'the first cluster holds the directory',
      );
      process.kill(pid, 'SIGKILL');
      const state = () => readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1]![0];
      while (state() !== 'Z') await new Promise((resolve) => setImmediate(resolve));
      process.kill(pid, 0); // signal 0 still reaches the zombie: it is what fooled the claim

      const second = await startCli(['--storage', 'log', '--data-dir', dataDir]);
      t.after(() => second.child.kill('SIGTERM'));
      assert.equal(state(), 'Z', 'the first cluster was still unreaped when the second started');
      assert.equal((await fetch(`${second.url}/ping`)).status, 200);
    },
  );

  /**
   * A join, a restart, a leave, a restart and a join again with `storage`: every key reads
   * after each, the restarts serve the stored ring, and a start naming the old count is refused.
   */
  async function membershipSurvivesRestarts(t: TestContext, storage: StorageOptions): Promise<void> {
    const keys = Array.from({ length: 300 }, (_, i) => `member-${i}`);
    const allRead = async (cluster: Cluster) => {
      for (const key of keys) assert.equal((await cluster.get(key))?.toString(), `v-${key}`, key);
    };
    let cluster = await Cluster.start({ nodes: 3, replicas: 2, storage });
    try {
      for (const key of keys) await cluster.put(key, `v-${key}`);
      assert.equal((await cluster.addNode()).id, 3);
    } finally {
      await cluster.close();
    }
    // The stored ring has four members: a start that names three is refused, saying so.
    await assert.rejects(async () => {
      // Closed if it starts after all, so a failing test does not leave its threads behind.
      await (await Cluster.start({ nodes: 3, replicas: 2, storage })).close();
    }, /placed with --nodes 4 /);
    cluster = await Cluster.start({ nodes: 4, replicas: 2, storage });
    try {
      assert.deepEqual(cluster.members, [0, 1, 2, 3]);
      await allRead(cluster);
      await cluster.removeNode(1);
    } finally {
      await cluster.close();
    }
    cluster = await Cluster.start({ nodes: 3, replicas: 2, storage });
    t.after(() => cluster.close());
    assert.deepEqual(cluster.members, [0, 2, 3]);
    await allRead(cluster);
    // Ids are never reused: node 1's storage stays its own.
    assert.equal((await cluster.addNode()).id, 4);
    await allRead(cluster);
  }

  test(
    'nodes join and leave with --storage log, and each restart serves the ring the data was placed by',
    TIMEOUT,
    async (t) => {
      await membershipSurvivesRestarts(t, { kind: 'log', dataDir: await scratch(), fsync: 'always' });
    },
  );

  test(
    'with --storage redis too: joins and leaves survive restarts, the ring kept in Redis',
    { ...TIMEOUT, skip: redisSkip() },
    async (t) => {
      const servers = await startRedis();
      t.after(() => servers.stop());
      await membershipSurvivesRestarts(t, {
        kind: 'redis',
        target: { url: `redis://127.0.0.1:${servers.ports[0]}` },
        prefix: 'members:',
      });
    },
  );

  test(
    'with --storage memcached too: joins and leaves survive restarts, the ring kept in the data directory',
    { ...TIMEOUT, skip: memcachedSkip() },
    async (t) => {
      const server = await startMemcached();
      t.after(() => server.stop());
      await membershipSurvivesRestarts(t, {
        kind: 'memcached',
        servers: server.address,
        prefix: 'members:',
        dataDir: await scratch(),
        fsync: 'always',
        maxValueBytes: 1 << 20,
      });
    },
  );

  test(
    'kill -9 of the whole process under a write load with --fsync always loses no acknowledged write',
    TIMEOUT,
    async (t) => {
      const dataDir = await scratch();
      const start = () => startCli(['--storage', 'log', '--fsync', 'always', '--data-dir', dataDir]);
      const first = await start();
      const acknowledged = new Map<string, string>();
      let writing = true;
      const writers = Array.from({ length: 16 }, async (_, w) => {
        for (let i = 0; writing; i++) {
          const key = `w${w}-${i % 50}`;
          const value = `${w}:${i}`;
          try {
            const answer = await fetch(`${first.url}/kv/${key}`, { method: 'PUT', body: value });
            if (answer.status === 204) acknowledged.set(key, value);
          } catch {
            return; // the process is gone
          }
        }
      });
      t.after(() => first.child.kill('SIGKILL'));
      // Killed once 200 keys have acknowledged writes, however long they take.
      await until(() => acknowledged.size >= 200, t.signal);
      first.child.kill('SIGKILL');
      writing = false;
      await Promise.all(writers);
      const second = await start();
      t.after(() => second.child.kill('SIGKILL'));
      try {
        for (const [key, value] of acknowledged) {
          // A write in flight at the kill may have landed too: the key holds the last
          // acknowledged value or one written after it by the same writer.
          const got = await (await fetch(`${second.url}/kv/${key}`)).text();
          const [w, i] = value.split(':').map(Number) as [number, number];
          const [gw, gi] = got.split(':').map(Number) as [number, number];
          assert.ok(gw === w && gi >= i, `${key}: acknowledged ${value}, read ${got}`);
        }
      } finally {
        second.child.kill('SIGTERM');
      }
    },
  );
});
