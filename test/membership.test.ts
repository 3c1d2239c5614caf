import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, test } from 'node:test';
import { Cluster, type Transfer } from '../src/cluster/cluster.js';
import { codeOf, http, LONG_TIMEOUT, settled, startRunning, TIMEOUT, until } from './helpers.js';
import { readReplica, writeReplica } from './replicas.js';

/** Threads of this process: a crashed node must leave none behind. */
function threads(): number {
  return readdirSync('/proc/self/task').length;
}

describe('crash and restart', () => {
  test('a crash ends the node thread and starts none in its place', TIMEOUT, async (t) => {
    const cluster = await Cluster.start({ nodes: 3 });
    t.after(() => cluster.close());
    const before = threads();
    await cluster.crash(1);
    assert.equal(cluster.stateOf(1), 'down');
    // crash() resolves once the thread has exited; the kernel lets go of it a moment later.
    // A replacement started behind the crash would keep the count up until the test times out.
    await until(() => threads() < before, t.signal);
    assert.equal(threads(), before - 1, 'one thread fewer, not a replacement without a port');
    await cluster.restart(1);
    assert.equal(cluster.stateOf(1), 'up');
    assert.equal(threads(), before);
  });

  test(
    'a restarted node is refilled from its replicas while writes go on, and loses no acknowledged write',
    TIMEOUT,
    async (t) => {
      const cluster = await Cluster.start({ nodes: 3, antiEntropyMs: 0 });
      t.after(() => cluster.close());
      for (let i = 0; i < 3000; i++) await cluster.put(`k${i}`, `v${i}`);
      await settled(cluster, t.signal); // W = 2: the third copies land after the answers
      const keysBefore = (await cluster.nodes())[2]!.keys!;
      assert.equal(keysBefore, 3000, 'with three replicas of three nodes, every node holds every key');

      await cluster.crash(2);
      const acknowledged = new Map<string, string>();
      let writing = true;
      const writer = (async () => {
        for (let i = 0; writing; i++) {
          const key = `w${i % 500}`;
          await cluster.put(key, `x${i}`).then(() => acknowledged.set(key, `x${i}`));
        }
      })();
      // Some writes while it is down, each hinted for it.
      await until(() => acknowledged.size >= 20, t.signal);
      const refilled = await cluster.restart(2);
      writing = false;
      await writer;
      assert.equal(refilled.partitions, 1024);
      assert.ok(refilled.keys >= 3000, `${refilled.keys} records gained`);
      assert.ok(refilled.hints >= 20, 'writes made while it was down were hinted and replayed');
      await settled(cluster, t.signal);
      const node = (await cluster.nodes())[2]!;
      assert.equal(node.state, 'up');
      assert.equal(
        node.keys,
        3000 + acknowledged.size,
        'its key count is back, with the writes made meanwhile',
      );
      assert.equal(node.hints, 0);
      // Every acknowledged write is on the restarted node itself.
      for (const [key, value] of acknowledged)
        assert.equal((await readReplica(cluster, 2, key))?.value, value, key);
      assert.equal((await readReplica(cluster, 2, 'k2999'))?.value, 'v2999');
    },
  );
  test('restart() reports what the node gained: each key once, though every other replica sends it', async (t) => {
    const cluster = await Cluster.start({ nodes: 3, antiEntropyMs: 0 });
    t.after(() => cluster.close());
    for (let i = 0; i < 300; i++) await cluster.put(`g${i}`, 'value');
    await cluster.crash(2);
    const refilled = await cluster.restart(2);
    assert.equal(refilled.hints, 0);
    assert.equal(refilled.keys, 300, 'two sources sent each key; the second copy was not newer');
    assert.equal(
      refilled.bytes,
      [...Array(300).keys()].reduce((sum, i) => sum + `g${i}`.length + 5, 0),
    );
    assert.ok(Number.isInteger(refilled.ms), `whole milliseconds, not ${refilled.ms}`);
  });

  test(
    'hints replay with their versions: twice changes nothing, and a newer write is never overwritten',
    TIMEOUT,
    async (t) => {
      const cluster = await Cluster.start({ nodes: 3, antiEntropyMs: 0 });
      t.after(() => cluster.close());
      const key = 'hinted';
      const [, , third] = cluster.ring.locate(key).replicas as [number, number, number];
      await cluster.crash(third);
      const first = await cluster.put(key, 'one');
      const second = await cluster.put(key, 'two');
      const nodes = await cluster.nodes();
      assert.equal(nodes[third]!.hints, 2);
      const refilled = await cluster.restart(third);
      assert.equal(refilled.hints, 2);
      assert.deepEqual(await readReplica(cluster, third, key), { version: second, value: 'two' });
      assert.ok(second > first);

      // The same hint arriving again, late, is older than what the node holds: dropped.
      await writeReplica(cluster, third, key, 'one', first);
      assert.deepEqual(await readReplica(cluster, third, key), { version: second, value: 'two' });
      assert.equal(await cluster.replayHints(third), 0, 'replayed hints are gone');
    },
  );

  test(
    'hints a replay cannot deliver (the node is down again) stay pending, and the next replay delivers them',
    TIMEOUT,
    async (t) => {
      const cluster = await Cluster.start({ nodes: 3, antiEntropyMs: 0 });
      t.after(() => cluster.close());
      const [, , third] = cluster.ring.locate('kept').replicas as [number, number, number];
      await cluster.crash(third);
      const version = await cluster.put('kept', 'for later');
      await cluster.put('also', 'kept');
      const pending = (await cluster.nodes())[third]!.hints;
      assert.ok(pending >= 1, `${pending} hints`);
      // A replay while the node is still down: every write fails, and is kept.
      assert.equal(await cluster.replayHints(third), 0, 'nothing delivered');
      assert.equal((await cluster.nodes())[third]!.hints, pending, 'the failed hints are pending again');
      // The restart replays them (before its refill copies anything).
      const refilled = await cluster.restart(third);
      assert.equal(refilled.hints, pending);
      assert.equal((await cluster.nodes())[third]!.hints, 0);
      assert.deepEqual(await readReplica(cluster, third, 'kept'), { version, value: 'for later' });
    },
  );
  test(
    'anti-entropy finds the partitions whose replicas differ and copies only those',
    TIMEOUT,
    async (t) => {
      const cluster = await Cluster.start({ nodes: 3, antiEntropyMs: 0 });
      t.after(() => cluster.close());
      for (let i = 0; i < 200; i++) await cluster.put(`ae${i}`, 'v');
      await settled(cluster, t.signal);
      assert.equal(await cluster.antiEntropy(), 0, 'replicas that agree exchange nothing');
      // Two writes that reached one replica only.
      const [a] = cluster.ring.locate('ae1').replicas as [number];
      const version = (await cluster.getVersioned('ae1'))!.version;
      await writeReplica(cluster, a, 'ae1', 'missed', version + 16);
      await writeReplica(cluster, a, 'lonely', 'only here', version + 32);
      const differing = await cluster.antiEntropy();
      assert.ok(differing >= 1 && differing <= 2, `${differing} partitions differed`);
      for (const node of cluster.ring.locate('ae1').replicas) {
        assert.equal((await readReplica(cluster, node, 'ae1'))?.value, 'missed');
      }
      for (const node of cluster.ring.locate('lonely').replicas) {
        assert.equal((await readReplica(cluster, node, 'lonely'))?.value, 'only here');
      }
      assert.equal(await cluster.antiEntropy(), 0, 'converged');
      const stats = cluster.coordinatorStats().antiEntropy;
      assert.equal(stats.runs, 3);
      assert.equal(stats.partitionsRepaired, differing);
      assert.ok(
        stats.recordsCopied < 50,
        `${stats.recordsCopied} records copied: the differing partitions only`,
      );
    },
  );
});

describe('crash and restart over HTTP', () => {
  test(
    'POST /cluster/nodes/{id}/crash and /restart; the node is refilled and answers again',
    TIMEOUT,
    async (t) => {
      const run = await startRunning({ nodes: 3 });
      t.after(() => run.stop());
      await http(run.url, 'PUT', '/kv/survivor', 'still here');
      const crash = await http(run.url, 'POST', '/cluster/nodes/0/crash');
      assert.equal(crash.status, 200);
      assert.deepEqual(crash.json, { id: 0, was: 'up', state: 'down' });
      assert.equal((await http(run.url, 'GET', '/kv/survivor')).text, 'still here');
      const again = await http(run.url, 'POST', '/cluster/nodes/1/restart');
      assert.equal(again.status, 409);
      assert.equal(codeOf(again), 'CONFLICT');
      const restart = await http(run.url, 'POST', '/cluster/nodes/0/restart');
      assert.equal(restart.status, 200);
      const body = restart.json as {
        id: number;
        state: string;
        refilled: { keys: number; partitions: number };
      };
      assert.equal(body.state, 'up');
      assert.ok(body.refilled.keys >= 1);
      assert.equal((await readReplica(run.cluster, 0, 'survivor'))?.value, 'still here');
      assert.equal(codeOf(await http(run.url, 'POST', '/cluster/nodes/7/crash')), 'NOT_FOUND');
      assert.equal(codeOf(await http(run.url, 'POST', '/cluster/nodes/x/restart')), 'NOT_FOUND');
      assert.equal((await http(run.url, 'GET', '/cluster/nodes/0/crash')).status, 405);
    },
  );
});

describe('joins and leaves', () => {
  /** Writes keys one after another until stopped; the value last acknowledged per key. */
  function writeLoad(cluster: Cluster): { writes: () => number; stop: () => Promise<Map<string, string>> } {
    const acknowledged = new Map<string, string>();
    let writes = 0;
    let writing = true;
    const done = (async () => {
      for (let i = 0; writing; i++) {
        const key = `load${i % 700}`;
        await cluster.put(key, `v${i}`).then(() => acknowledged.set(key, `v${i}`));
        writes++;
      }
    })();
    return {
      writes: () => writes,
      stop: async () => {
        writing = false;
        await done;
        return acknowledged;
      },
    };
  }

  /** Every key's copies are on exactly its preference list, each with the newest value. */
  async function assertPlaced(cluster: Cluster, keys: Map<string, string>): Promise<void> {
    for (const [key, value] of keys) {
      const replicas = cluster.ring.locate(key).replicas;
      for (const node of cluster.members) {
        const held = await readReplica(cluster, node, key);
        if (replicas.includes(node)) assert.equal(held?.value, value, `${key} on node ${node}`);
        else assert.equal(held, null, `${key} dropped from node ${node}`);
      }
    }
  }

  test(
    'a join 3 → 4 and a leave 4 → 3 under a write load move the ideal share, as planned, and lose nothing',
    LONG_TIMEOUT,
    async (t) => {
      const cluster = await Cluster.start({ nodes: 3, antiEntropyMs: 0 });
      t.after(() => cluster.close());
      const keys = new Map<string, string>();
      for (let i = 0; i < 3000; i++) {
        await cluster.put(`k${i}`, `v${i}`);
        keys.set(`k${i}`, `v${i}`);
      }
      await settled(cluster, t.signal);

      // The plan, on the data as it is, equals what the join then moves (nothing written between).
      const planned = await cluster.plan({ add: 1 });
      const joining = cluster.addNode();
      // While it runs: the new node is joining, and the transfer's progress shows.
      const seen: { state: string; transfer: Transfer }[] = [];
      let finished = false;
      let underRepair = 0;
      void joining.finally(() => (finished = true));
      while (!finished) {
        const [transfer] = cluster.coordinatorStats().transfers;
        if (transfer) {
          seen.push({ state: cluster.stateOf(3), transfer });
          if (seen.length === 1) {
            const info = (await cluster.nodes()).find((n) => n.id === 3);
            underRepair = info?.partitionsUnderRepair ?? -1;
          }
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
      const join = await joining;
      assert.ok(seen.length > 0, 'a transfer was shown while the join ran');
      assert.equal(underRepair, 768, 'the joining node shows its partitions under repair');
      for (const { state, transfer } of seen) {
        assert.equal(state, 'joining');
        assert.equal(transfer.kind, 'join');
        assert.equal(transfer.partitions, 768);
        assert.ok(transfer.keys <= join.moved.keys);
      }
      assert.equal(join.id, 3);
      assert.deepEqual(join.moved, planned);
      // Ideal: the new node holds a quarter of every copy. Partitions: 1024 × 3 ÷ 4.
      assert.equal(join.moved.partitions, 768);
      const ideal = (3000 * 3) / 4;
      assert.ok(
        join.moved.keys <= 1.1 * ideal && join.moved.keys >= 0.9 * ideal,
        `${join.moved.keys} moved, ideal ${ideal}`,
      );
      await assertPlaced(cluster, keys);

      // A join under a write load.
      await cluster.removeNode(3);
      const load = writeLoad(cluster);
      await until(() => load.writes() >= 50, t.signal);
      let before = load.writes();
      const joined = await cluster.addNode();
      assert.equal(joined.id, 4, 'ids are not reused');
      assert.ok(load.writes() > before, 'writes were acknowledged during the join');
      const written = await load.stop();
      await settled(cluster, t.signal);
      await assertPlaced(cluster, new Map([...keys, ...written]));
      assert.deepEqual(cluster.members, [0, 1, 2, 4]);

      // A leave under a write load: the leaving node's copies move to the others.
      const planLeave = await cluster.plan({ remove: 0 });
      assert.equal(planLeave.partitions, cluster.ring.replicaCounts().get(0));
      const load2 = writeLoad(cluster);
      await until(() => load2.writes() >= 50, t.signal);
      before = load2.writes();
      const left = await cluster.removeNode(0);
      assert.ok(load2.writes() > before, 'writes were acknowledged during the leave');
      const written2 = await load2.stop();
      assert.equal(left.moved.partitions, planLeave.partitions);
      assert.deepEqual(cluster.members, [1, 2, 4]);
      assert.equal(cluster.stateOf(0), 'stopped');
      await settled(cluster, t.signal);
      await assertPlaced(cluster, new Map([...keys, ...written, ...written2]));
      for (const [key, value] of [...keys].slice(0, 200))
        assert.equal((await cluster.get(key))?.toString(), value);
    },
  );

  test(
    'over HTTP: plan, add, remove; /cluster shows the nodes; a leave that would leave too few nodes is 409',
    TIMEOUT,
    async (t) => {
      const run = await startRunning({ nodes: 3 });
      t.after(() => run.stop());
      for (let i = 0; i < 300; i++) await http(run.url, 'PUT', `/kv/h${i}`, 'v');
      const plan = await http(run.url, 'GET', '/cluster/plan?add=1');
      assert.equal(plan.status, 200);
      const moved = (plan.json as { moved: { partitions: number; keys: number; bytes: number } }).moved;
      const add = await http(run.url, 'POST', '/cluster/nodes');
      assert.equal(add.status, 200);
      assert.deepEqual(add.json && (add.json as { id: number; moved: unknown }).moved, moved);
      const nodes = (await http(run.url, 'GET', '/cluster')).json as {
        nodes: { id: number; state: string }[];
      };
      assert.deepEqual(
        nodes.nodes.map((n) => [n.id, n.state]),
        [
          [0, 'up'],
          [1, 'up'],
          [2, 'up'],
          [3, 'up'],
        ],
      );
      const remove = await http(run.url, 'DELETE', '/cluster/nodes/1');
      assert.equal(remove.status, 200);
      assert.equal(codeOf(await http(run.url, 'DELETE', '/cluster/nodes/0')), 'CONFLICT');
      assert.equal(codeOf(await http(run.url, 'DELETE', '/cluster/nodes/1')), 'NOT_FOUND');
      assert.equal(codeOf(await http(run.url, 'GET', '/cluster/plan')), 'BAD_REQUEST');
      assert.equal(codeOf(await http(run.url, 'GET', '/cluster/plan?add=2')), 'BAD_REQUEST');
      const snapshot = (await http(run.url, 'GET', '/snapshot')).json as Record<string, string>;
      assert.equal(Object.keys(snapshot).length, 300);
      assert.equal(codeOf(await http(run.url, 'GET', '/snapshot?node=1')), 'BAD_REQUEST');
    },
  );
});

describe('a join that fails', () => {
  test(
    'the new node crashing during its join fails the join, leaves the ring as it was and no thread behind',
    TIMEOUT,
    async (t) => {
      const cluster = await Cluster.start({ nodes: 3, antiEntropyMs: 0 });
      t.after(() => cluster.close());
      for (let i = 0; i < 3000; i++) await cluster.put(`f${i}`, 'v');
      const threadsBefore = threads();
      const joining = cluster.addNode().then(
        () => 'joined',
        (err: Error & { code?: string }) => err.code ?? err.message,
      );
      while (cluster.coordinatorStats().transfers.length === 0) await new Promise((r) => setImmediate(r));
      await cluster.crash(3);
      assert.equal(await joining, 'NODE_UNAVAILABLE');
      assert.deepEqual(cluster.members, [0, 1, 2]);
      assert.equal(cluster.stateOf(3), 'stopped');
      // The join's end waited for the thread's exit; the kernel lets go of it a moment later. A
      // thread left behind (one piscina started in its place) holds the count up until the test
      // times out.
      await until(() => threads() <= threadsBefore, t.signal);
      assert.equal(threads(), threadsBefore);
      assert.equal((await cluster.get('f2999'))?.toString(), 'v');
      // A second join goes ahead.
      assert.equal((await cluster.addNode()).id, 4);
    },
  );
});

describe('a join with one failed copy', () => {
  test('a join one of whose copied writes fails (exactly one) does not flip the ring', TIMEOUT, async (t) => {
    const cluster = await Cluster.start({ nodes: 3, antiEntropyMs: 0 });
    t.after(() => cluster.close());
    // One key in the whole cluster, in a partition the join gives the new node: the join
    // copies exactly one record, and so makes exactly one write.
    const next = cluster.ring.withNode(3);
    const key = Array.from({ length: 100 }, (_, i) => `one${i}`).find((k) =>
      next.preferenceList(next.partitionOf(next.hash(k))).includes(3),
    )!;
    await cluster.put(key, 'v', { ...cluster.consistency, w: 3 });
    const joining = cluster.addNode().then(
      () => 'joined',
      (err: Error & { code?: string }) => `${err.code}: ${err.message}`,
    );
    // The copy has begun, and its one write cannot have been answered yet (its scan has not
    // even been sent): the new node's crash fails that write, and only it.
    while (cluster.coordinatorStats().transfers.length === 0) await new Promise((r) => setImmediate(r));
    await cluster.crash(3);
    assert.match(await joining, /^NODE_UNAVAILABLE: 1 copies failed, so nothing moved/);
    assert.deepEqual(cluster.members, [0, 1, 2]);
    assert.equal(cluster.stateOf(3), 'stopped');
    for (const node of [0, 1, 2]) assert.equal((await readReplica(cluster, node, key))?.value, 'v');
  });
});

describe('a refill that loses a source', () => {
  test(
    'a source crashing mid-refill does not fail the restart: the other sources still copy theirs',
    TIMEOUT,
    async (t) => {
      const cluster = await Cluster.start({ nodes: 5, antiEntropyMs: 0 });
      t.after(() => cluster.close());
      // Written before the crash, so the refill's copies (not hints) bring them back.
      for (let i = 0; i < 3000; i++) await cluster.put(`r${i}`, 'v');
      await cluster.crash(0);
      const restarting = cluster.restart(0);
      while (cluster.coordinatorStats().transfers.length === 0) await new Promise((r) => setImmediate(r));
      await cluster.crash(1);
      const refilled = await restarting;
      assert.equal(cluster.stateOf(0), 'up');
      assert.ok(refilled.keys > 0, `${refilled.keys} records gained`);
      // Every key node 0 replicates with a replica other than node 1 up is on node 0 now.
      for (let i = 0; i < 3000; i += 7) {
        const replicas = cluster.ring.locate(`r${i}`).replicas;
        if (!replicas.includes(0) || !replicas.some((n) => n !== 0 && n !== 1)) continue;
        assert.equal((await readReplica(cluster, 0, `r${i}`))?.value, 'v', `r${i}`);
      }
    },
  );
});
