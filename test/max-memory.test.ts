import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { NodeStore } from '../src/node/store.js';
import { KeyBytes } from '../src/ring/key-bytes.js';
import { storeShare } from '../src/cluster/node-budget.js';
import { REFUSED_FOR_MEMORY, Written } from '../src/wire/protocol.js';
import { LONG_TIMEOUT, startCli } from './helpers.js';
import { memcachedSkip, startMemcached } from '../support/memcached-servers.js';
import { redisSkip, startRedisCluster } from '../support/redis-servers.js';

const MiB = 1024 * 1024;
/** The node options `npm run cluster` starts the CLI with (package.json). */
const AS_NPM_RUN_CLUSTER = ['--max-semi-space-size=2'];

/** The peak resident memory (VmHWM) of process `pid`, in bytes. */
async function peakRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmHWM:\s+(\d+) kB/m.exec(status)![1]) * 1024;
}

/** Puts `count` values of `bytes` bytes (`key-<i>`, each its own), `parallel` at a time; the statuses seen. */
async function putMany(
  url: string,
  count: number,
  bytes: number,
  parallel = 8,
): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      const res = await fetch(`${url}/kv/key-${i}`, { method: 'PUT', body: valueOf(i, bytes) });
      await res.arrayBuffer();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return statuses;
}

function valueOf(i: number, bytes: number): Buffer {
  const value = Buffer.alloc(bytes, 97 + (i % 26));
  value.write(`${i}:`);
  return value;
}

describe('--max-memory', () => {
  test('a node store at its share refuses writes that add to it; overwrites no longer, deletes and reads go on', () => {
    const store = new NodeStore({ partitions: 1, maxStoreBytes: 5 * MiB });
    const key = new KeyBytes();
    const value = Buffer.alloc(64 * 1024, 1);
    const put = (name: string, length: number, version: number) => {
      const keyLength = key.encode(name);
      const batch = Buffer.concat([key.buffer.subarray(0, keyLength), value.subarray(0, length)]);
      return store.putValue(batch, 0, keyLength, key.hash(), version, keyLength, length, false);
    };
    let stored = 0;
    while (put(`k${stored}`, value.length, 1) !== REFUSED_FOR_MEMORY) stored++;
    // One 4 MiB slab holds 63 such records; the second slab's are refused once 5 MiB is passed.
    assert.ok(stored > 63 && stored < 80, `${stored} values stored`);
    assert.ok(store.records.allocatedBytes < 5 * MiB + 4 * MiB, `${store.records.allocatedBytes} bytes`);
    assert.equal(put('k0', value.length, 2), Written.WasLive, 'an overwrite of the same length goes on');
    assert.equal(put('k1', 1024, 2), Written.WasLive, 'a shorter one too');
    assert.equal(put('k1', 2048, 3), REFUSED_FOR_MEMORY, 'a longer one is refused');
    assert.equal(store.get('k2')?.length, value.length, 'reads go on');
  });

  test('the share leaves room for the process, its threads and a headroom, and refuses a bound that leaves none', () => {
    assert.equal(
      storeShare(512 * MiB, 4, 100 * MiB),
      Math.floor((512 * MiB - 100 * MiB - 36 * MiB - 128 * MiB) / 4),
    );
    assert.throws(
      () => storeShare(128 * MiB, 3, 60 * MiB),
      /--max-memory 128 MiB leaves no room for data: the process takes about 60 MiB now, 3 node threads about 27 MiB, and 64 MiB is kept for buffers; give at least 175 MiB/,
    );
  });

  test(
    'values in memory: the cluster answers 507 OUT_OF_MEMORY once full, reads go on, and its peak RSS stays under the bound',
    LONG_TIMEOUT,
    async (t) => {
      const bound = 192 * MiB;
      const { child, url } = await startCli(
        ['--nodes', '3', '--replicas', '1', '--max-memory', '192M'],
        undefined,
        undefined,
        AS_NPM_RUN_CLUSTER,
      );
      t.after(() => child.kill('SIGKILL'));
      const statuses = await putMany(url, 4000, 64 * 1024);
      assert.ok((statuses.get(204) ?? 0) > 300, JSON.stringify([...statuses]));
      assert.ok((statuses.get(507) ?? 0) > 0, JSON.stringify([...statuses]));
      assert.deepEqual([...statuses.keys()].sort(), [204, 507]);
      const refused = await fetch(`${url}/kv/one-more`, { method: 'PUT', body: valueOf(0, 64 * 1024) });
      assert.equal(refused.status, 507);
      assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'OUT_OF_MEMORY');
      const read = await fetch(`${url}/kv/key-0`);
      assert.ok(read.status === 200 || read.status === 404, `a read answers: ${read.status}`);
      await read.arrayBuffer();
      const peak = await peakRss(child.pid!);
      assert.ok(peak <= bound, `peak RSS ${Math.round(peak / MiB)} MiB`);
    },
  );

  /**
   * The >4× case: values totalling at least four times the process's peak RSS, served whole.
   * The bound is larger than with values in memory: each thread's collector lets up to about
   * 64 MiB of dead value buffers (external memory) wait for its next collection, and 64 KiB
   * values churn through four threads (measured: a plateau of 230–275 MiB whatever the count).
   */
  async function valuesOutgrowTheProcess(t: TestContext, storage: string[]): Promise<void> {
    const bound = 320 * MiB;
    const count = 20_000;
    const bytes = 64 * 1024;
    const { child, url } = await startCli(
      ['--nodes', '3', '--replicas', '1', '--max-memory', '320M', ...storage],
      undefined,
      undefined,
      AS_NPM_RUN_CLUSTER,
    );
    t.after(() => child.kill('SIGKILL'));
    const statuses = await putMany(url, count, bytes);
    assert.deepEqual([...statuses], [[204, count]]);
    for (let i = 0; i < count; i += 40) {
      const res = await fetch(`${url}/kv/key-${i}`);
      const got = Buffer.from(await res.arrayBuffer());
      if (res.status !== 200 || !got.equals(valueOf(i, bytes)))
        assert.fail(`key-${i}: ${res.status}, ${got.length} bytes`);
    }
    const peak = await peakRss(child.pid!);
    assert.ok(peak <= bound, `peak RSS ${Math.round(peak / MiB)} MiB`);
    assert.ok(
      count * bytes >= 4 * peak,
      `${Math.round((count * bytes) / MiB)} MiB of values, peak RSS ${Math.round(peak / MiB)} MiB`,
    );
  }

  test(
    'values in memcached: 1.25 GiB of values served whole by a process whose peak RSS stays under a 320 MiB bound',
    { ...LONG_TIMEOUT, skip: memcachedSkip() },
    async (t) => {
      const server = await startMemcached({ megabytes: 1600 });
      t.after(() => server.stop());
      const dataDir = await mkdtemp(join(tmpdir(), 'thunderdb-max-memory-'));
      await valuesOutgrowTheProcess(t, [
        '--storage',
        'memcached',
        '--memcached',
        server.address,
        '--data-dir',
        dataDir,
      ]);
    },
  );

  test(
    'values in a three-master Redis Cluster: the same, under the same bound',
    { ...LONG_TIMEOUT, skip: redisSkip() },
    async (t) => {
      const servers = await startRedisCluster();
      t.after(() => servers.stop());
      await valuesOutgrowTheProcess(t, [
        '--storage',
        'redis',
        '--redis-cluster',
        servers.ports.map((port) => `127.0.0.1:${port}`).join(','),
      ]);
    },
  );
});
