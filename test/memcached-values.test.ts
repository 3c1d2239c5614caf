import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { readdirSync } from 'node:fs';
import { Cluster } from '../src/cluster/cluster.js';
import { NodeStore } from '../src/node/store.js';
import { KeyBytes } from '../src/ring/key-bytes.js';
import { MemcachedValues } from '../src/storage/memcached-values.js';
import type { StorageOptions } from '../src/storage/options.js';
import { checkCommand } from '../src/check/command.js';
import { LONG_TIMEOUT, putOnEveryReplica, startRunning, TIMEOUT, until } from './helpers.js';
import {
  memcachedCommand,
  memcachedSkip,
  startMemcached,
  type MemcachedServer,
} from '../support/memcached-servers.js';

/** Storage options for a cluster whose values live in `server`, its records in a fresh data directory. */
async function onMemcached(server: MemcachedServer, prefix: string): Promise<StorageOptions> {
  return {
    kind: 'memcached',
    servers: server.address,
    prefix,
    dataDir: await mkdtemp(join(tmpdir(), 'thunderdb-memcached-')),
    fsync: 'no',
    maxValueBytes: 1 << 20,
  };
}

/** The memcached item holding node `node`'s value of `key`. */
function itemOf(prefix: string, node: number, key: string): string {
  return `${prefix}n${node}:${createHash('sha1').update(key, 'latin1').digest('base64url')}`;
}

async function started(
  t: TestContext,
  options: Parameters<typeof startMemcached>[0] = {},
): Promise<MemcachedServer> {
  const server = await startMemcached(options);
  t.after(() => server.stop());
  return server;
}

describe('--storage memcached keeps the values in memcached', () => {
  test(
    "a value memcached lost for one replica is read from another and written back to that replica's memcached",
    { ...TIMEOUT, skip: memcachedSkip() },
    async (t) => {
      const server = await started(t);
      const cluster = await Cluster.start({ nodes: 3, storage: await onMemcached(server, 'lost:') });
      t.after(() => cluster.close());
      await cluster.put('k', 'the value', { ...cluster.consistency, w: 3 });
      const [a] = cluster.ring.locate('k').replicas as [number];
      const item = itemOf('lost:', a, 'k');
      assert.match(await memcachedCommand(server.port, `delete ${item}`, /\r\n$/), /^DELETED/);
      assert.equal((await cluster.get('k', { ...cluster.consistency, r: 3 }))?.toString(), 'the value');
      assert.equal(cluster.coordinatorStats().valuesLostFound, 1);
      await until(
        async () => (await memcachedCommand(server.port, `get ${item}`, /END\r\n$/)).startsWith('VALUE'),
        t.signal,
      );
    },
  );

  test(
    "an item of another version (an older write landing late) is taken as lost, never as the record's value",
    { ...TIMEOUT, skip: memcachedSkip() },
    async (t) => {
      const server = await started(t);
      const cluster = await Cluster.start({ nodes: 3, storage: await onMemcached(server, 'late:') });
      t.after(() => cluster.close());
      const all = { ...cluster.consistency, w: 3 };
      await cluster.put('k', 'older', all);
      const [a] = cluster.ring.locate('k').replicas as [number];
      const item = itemOf('late:', a, 'k');
      // The item as memcached holds it (`VALUE <item> <flags> <bytes>`, then the bytes).
      const held = await memcachedCommand(server.port, `get ${item}`, /END\r\n$/);
      const header = /^VALUE \S+ \d+ (\d+)\r\n/.exec(held)!;
      const older = held.slice(header[0].length, header[0].length + Number(header[1]));
      await cluster.put('k', 'newer', all);
      const stored = await memcachedCommand(
        server.port,
        `set ${item} 0 0 ${older.length}\r\n${older}`,
        /\r\n$/,
      );
      assert.match(stored, /^STORED/);
      assert.equal((await cluster.get('k', { ...cluster.consistency, r: 3 }))?.toString(), 'newer');
      assert.equal(cluster.coordinatorStats().valuesLostFound, 1);
    },
  );

  test(
    'the log of records merges into references, and a store reopened from it holds every record (expiries too) whose value memcached serves',
    { ...TIMEOUT, skip: memcachedSkip() },
    async (t) => {
      const server = await started(t);
      const dir = await mkdtemp(join(tmpdir(), 'thunderdb-memcached-merge-'));
      const open = async () => {
        const store = new NodeStore({ partitions: 4, externalValues: true });
        const { journal, recovered } = await MemcachedValues.open(
          dir,
          'always',
          server.address,
          'merge:n0',
          (record) => store.replay(record),
        );
        // No slack: every commit whose log outgrew twice the live records merges it.
        store.useLog(journal, recovered, 0);
        return { store, journal };
      };
      const commit = (store: NodeStore) =>
        new Promise<void>((resolve, reject) => store.commit((error) => (error ? reject(error) : resolve())));
      const key = new KeyBytes();
      const put = (store: NodeStore, name: string, version: number, value: string, expiresAt = 0) => {
        const keyLength = key.encode(name);
        const body = Buffer.from(value);
        const envelope = expiresAt === 0 ? Buffer.alloc(0) : Buffer.alloc(8);
        if (expiresAt !== 0) envelope.writeDoubleLE(expiresAt);
        const batch = Buffer.concat([key.buffer.subarray(0, keyLength), envelope, body]);
        store.putValue(
          batch,
          0,
          keyLength,
          key.hash(),
          version,
          keyLength,
          envelope.length + body.length,
          expiresAt !== 0,
        );
        return key.hash();
      };
      const first = await open();
      const hashes = new Map<string, number>();
      for (let round = 1; round <= 20; round++) {
        for (let i = 0; i < 50; i++) {
          const name = `key-${i}`;
          hashes.set(
            name,
            put(first.store, name, round, `${name}@${round}`, i % 5 === 0 ? 4_000_000_000_000 + i : 0),
          );
        }
        await commit(first.store);
      }
      const files = readdirSync(join(dir));
      await first.store.close();
      assert.ok(
        first.journal.bytes < 20 * 50 * 40,
        `the log merged: ${first.journal.bytes} bytes in ${files.join(',')}`,
      );

      const again = await open();
      t.after(() => again.store.close());
      const needs = [...hashes].map(([name, hash]) => ({ name, hash, version: 20 }));
      const values = await new Promise<(Buffer | null)[]>((resolve, reject) =>
        again.journal.read(needs, (error, found) => (error === null ? resolve(found) : reject(error))),
      );
      for (const [i, { name, hash }] of needs.entries()) {
        const keyLength = key.encode(name);
        const location = again.store.records.locate(key.buffer, 0, keyLength, hash);
        assert.equal(again.store.records.versionAt(location), 20, name);
        assert.equal(again.store.records.valueLengthAt(location), `${name}@20`.length, name);
        assert.equal(
          again.store.records.expiresAtOf(location),
          Number(name.slice(4)) % 5 === 0 ? 4_000_000_000_000 + Number(name.slice(4)) : 0,
          name,
        );
        assert.equal(values[i]?.toString(), `${name}@20`, name);
      }
    },
  );

  test(
    'memcached away: writes fail with 503 naming the storage; once it is back (empty) the nodes write to it again',
    { ...TIMEOUT, skip: memcachedSkip() },
    async (t) => {
      const server = await started(t);
      const cluster = await Cluster.start({
        nodes: 3,
        storage: await onMemcached(server, 'away:'),
        timeoutMs: 10_000,
      });
      t.after(() => cluster.close());
      await cluster.put('before', 'v');
      await server.kill();
      await assert.rejects(cluster.put('during', 'v'), (err: { code: string; message: string }) => {
        assert.equal(err.code, 'QUORUM_NOT_MET');
        assert.match(err.message, /storage failed/);
        return true;
      });
      await server.restart();
      // Each node connects afresh after its failure: tried until all three have.
      await putOnEveryReplica(cluster, 'after', 'v');
      assert.equal((await cluster.get('after'))?.toString(), 'v');
    },
  );

  test(
    'memcached too small for the data evicts: each read is the value written or 410 VALUE_LOST, never another value or absent; with room, every value reads',
    { ...LONG_TIMEOUT, skip: memcachedSkip() },
    async (t) => {
      const count = 300;
      const valueOf = (i: number) => `${i}:`.padEnd(64 * 1024, String.fromCharCode(97 + (i % 26)));
      /** Writes every key on all three replicas, then reads each: what each read answered. */
      const writeThenRead = async (megabytes: number, prefix: string) => {
        const server = await started(t, { megabytes });
        const cluster = await Cluster.start({ nodes: 3, storage: await onMemcached(server, prefix) });
        try {
          const all = { ...cluster.consistency, w: 3 };
          for (let i = 0; i < count; i += 50) {
            await Promise.all(
              Array.from({ length: 50 }, (_, j) => cluster.put(`key-${i + j}`, valueOf(i + j), all)),
            );
          }
          const answers = { exact: 0, lost: 0 };
          for (let i = 0; i < count; i++) {
            try {
              const got = await cluster.get(`key-${i}`);
              assert.equal(got?.toString(), valueOf(i), `key-${i} read another value, or none`);
              answers.exact++;
            } catch (err) {
              assert.equal((err as { code?: string }).code, 'VALUE_LOST', String(err));
              answers.lost++;
            }
          }
          return { ...answers, lostFound: cluster.coordinatorStats().valuesLostFound };
        } finally {
          await cluster.close();
        }
      };
      // 300 values of 64 KiB on three nodes are about 59 MB of items: 8 MB keeps few of them.
      const small = await writeThenRead(8, 'small:');
      assert.ok(small.lost > 0, JSON.stringify(small));
      assert.ok(small.lostFound >= small.lost * 2, JSON.stringify(small));
      const roomy = await writeThenRead(256, 'roomy:');
      assert.deepEqual(roomy, { exact: count, lost: 0, lostFound: 0 });
    },
  );

  test(
    'a memcached whose items cannot hold --max-value-bytes is refused at start, naming -I',
    { ...TIMEOUT, skip: memcachedSkip() },
    async (t) => {
      const server = await started(t, { itemMegabytes: 1 });
      await assert.rejects(
        Cluster.start({ nodes: 3, storage: await onMemcached(server, 'small-items:') }),
        /memcached at 127\.0\.0\.1:\d+ stores items of at most 1048576 bytes; --max-value-bytes 1048576 needs \d+: start it with -I 2m/,
      );
    },
  );
});

describe('thunderdb check against a cluster on memcached', () => {
  /** A check of 200 keys of 32 KiB values (19 MiB on three replicas) against a cluster on `server`. */
  async function check(t: TestContext, server: MemcachedServer): Promise<{ code: number; lines: string[] }> {
    const storage = { ...(await onMemcached(server, 'check:')), maxValueBytes: 64 * 1024 };
    const run = await startRunning({ nodes: 3, storage });
    t.after(() => run.stop());
    const lines: string[] = [];
    const code = await checkCommand(
      {
        seed: 21,
        mode: 'threads',
        url: run.url,
        repair: 'sync',
        faults: 'none',
        clients: 4,
        keys: 200,
        ops: 1_000,
        timeLimit: 600,
        thinkMs: 0,
        valueBytes: 32 * 1024,
        timeoutMs: 5_000,
        convergeMs: 10_000,
        out: await mkdtemp(join(tmpdir(), 'thunderdb-check-')),
        nodes: 3,
      },
      (line) => lines.push(line),
    );
    return { code, lines };
  }

  test(
    'with a memcached too small for the data, the values it evicted are reported as lost writes (exit 1)',
    { ...LONG_TIMEOUT, skip: memcachedSkip() },
    async (t) => {
      const { code, lines } = await check(t, await started(t, { megabytes: 8 }));
      const findings = lines.filter((line) => /^(lost write|values lost|verdict)/.test(line));
      for (const line of findings.slice(0, 3)) t.diagnostic(line);
      assert.equal(code, 1, findings.join('\n'));
      assert.ok(
        findings.some((line) =>
          /^lost write: client \d+'s (write|create) of "\d+-\d+" to check-21-/.test(line),
        ),
        findings.join('\n'),
      );
      assert.ok(
        findings.some((line) => /^values lost on every replica \(VALUE_LOST\) for \d+ keys/.test(line)),
        findings.join('\n'),
      );
      assert.equal(findings.at(-1), 'verdict: invalid (seed 21)');
    },
  );

  test(
    'with enough memory the same check is valid (exit 0)',
    { ...LONG_TIMEOUT, skip: memcachedSkip() },
    async (t) => {
      const { code, lines } = await check(t, await started(t, { megabytes: 256 }));
      assert.equal(code, 0, lines.slice(-6).join('\n'));
      assert.equal(lines.at(-2), 'verdict: valid (seed 21)');
    },
  );
});
