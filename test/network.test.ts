import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Clock } from '../src/time/clock.js';
import { Cluster } from '../src/cluster/cluster.js';
import { checkFault, Network, type FaultSpec } from '../src/sim/network.js';
import { fate } from '../src/time/rng.js';
import { SimLoop } from '../src/sim/loop.js';
import { checkPause } from '../src/sim/pause-fault.js';
import { inlineRunner } from '../src/transport/inline-runner.js';
import { codeOf, http, startRunning, TIMEOUT } from './helpers.js';

/** A clock that moves only when told: timers fire in order as time is advanced. */
class ManualClock implements Clock {
  time = 0;
  #timers: { at: number; fire: () => void }[] = [];
  now(): number {
    return this.time;
  }
  wall(): number {
    return 1_800_000_000_000 + this.time;
  }
  setTimer(ms: number, fire: () => void): () => void {
    const timer = { at: this.time + ms, fire };
    this.#timers.push(timer);
    return () => (this.#timers = this.#timers.filter((t) => t !== timer));
  }
  defer(fire: () => void): void {
    this.setTimer(0, fire);
  }
  advance(ms: number): void {
    this.time += ms;
    const due = this.#timers.filter((t) => t.at <= this.time).sort((a, b) => a.at - b.at);
    this.#timers = this.#timers.filter((t) => t.at > this.time);
    for (const timer of due) timer.fire();
  }
}

/** What happened to `n` messages on each of links 0–2: delivered copies, in order, per message. */
function fates(seed: number, faults: FaultSpec[], n = 200): number[] {
  const network = new Network(seed, new ManualClock());
  for (const fault of faults) network.add(fault);
  const delivered: number[] = [];
  for (let i = 0; i < n; i++) {
    let copies = 0;
    network.carry(i % 3, i % 2 === 0 ? 'to' : 'from', i, () => copies++);
    delivered.push(copies);
  }
  return delivered;
}

describe('Network', () => {
  const lossy: FaultSpec[] = [
    { type: 'loss', probability: 0.3 },
    { type: 'duplicate', probability: 0.2 },
  ];

  test('the same seed gives the same fate to every message; another seed, other fates', () => {
    assert.deepEqual(fates(42, lossy), fates(42, lossy));
    assert.notDeepEqual(fates(42, lossy), fates(43, lossy));
    // A fate is a function of (seed, link, sequence number, draw), not of call order.
    assert.equal(fate(7, 1, 100, 0), fate(7, 1, 100, 0));
    assert.notEqual(fate(7, 1, 100, 0), fate(7, 2, 100, 0));
  });

  test('loss drops about its share, duplicate doubles about its share', () => {
    const dropped = fates(1, [{ type: 'loss', probability: 0.3 }], 10_000).filter((c) => c === 0).length;
    assert.ok(Math.abs(dropped / 10_000 - 0.3) < 0.02, `${dropped} of 10,000 dropped`);
    const doubled = fates(1, [{ type: 'duplicate', probability: 0.2 }], 10_000).filter((c) => c === 2).length;
    assert.ok(Math.abs(doubled / 10_000 - 0.2) < 0.02, `${doubled} of 10,000 doubled`);
  });

  test('a partition drops what crosses it, one way or both; nodes outside it are untouched', () => {
    const network = new Network(1, new ManualClock());
    const seen: string[] = [];
    const send = (node: number, direction: 'to' | 'from') =>
      network.carry(node, direction, `${node}${direction}`, (m) => seen.push(m));
    network.add({ type: 'partition', nodes: [1], direction: 'to' });
    send(1, 'to');
    send(1, 'from');
    send(2, 'to');
    assert.deepEqual(seen, ['1from', '2to']);
    network.clear();
    assert.ok(network.quiet);
    send(1, 'to');
    assert.deepEqual(seen, ['1from', '2to', '1to']);
  });

  test('latency delays by ms plus jitter on the clock; a duplicate ArrayBuffer is a copy', () => {
    const clock = new ManualClock();
    const network = new Network(1, clock);
    network.add({ type: 'latency', ms: 50, jitterMs: 10 });
    network.add({ type: 'duplicate', probability: 1 });
    const got: ArrayBuffer[] = [];
    const message = new ArrayBuffer(4);
    network.carry(0, 'to', message, (m) => got.push(m));
    clock.advance(49);
    assert.equal(got.length, 0);
    clock.advance(11);
    assert.equal(got.length, 2);
    assert.notEqual(got[0], got[1], 'two buffers: delivering one may transfer (detach) it');
  });

  test('latency jitter: uniform stays within jitterMs; exponential has jitterMs as its mean and a long tail', async () => {
    const delays = async (distribution: 'uniform' | 'exponential'): Promise<number[]> => {
      const loop = new SimLoop();
      const network = new Network(3, loop);
      network.add({ type: 'latency', ms: 5, jitterMs: 10, distribution });
      const out: number[] = [];
      for (let i = 0; i < 4000; i++) network.carry(0, 'to', i, () => out.push(loop.now()));
      await loop.run(new Promise<void>((resolve) => loop.setTimer(10_000, resolve)));
      return out;
    };
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const uniform = await delays('uniform');
    assert.ok(Math.min(...uniform) >= 5 && Math.max(...uniform) <= 15);
    assert.ok(Math.abs(mean(uniform) - 10) < 0.5, `mean ${mean(uniform)}`);
    const exponential = await delays('exponential');
    assert.ok(Math.min(...exponential) >= 5);
    assert.ok(Math.abs(mean(exponential) - 15) < 1, `mean ${mean(exponential)}`);
    const tail = exponential.filter((d) => d > 35).length / exponential.length; // e^-3 ≈ 5%
    assert.ok(tail > 0.03 && tail < 0.07, `tail ${tail}`);
  });

  test('checkFault() refuses what it cannot do, naming it', () => {
    const bad: [unknown, RegExp][] = [
      [
        { type: 'flood' },
        /^"type" must be one of partition, latency, loss, duplicate or pause, got "flood"$/,
      ],
      [{ nodes: [1] }, /^a fault needs a "type": partition, latency, loss, duplicate or pause$/],
      [{ type: 'loss' }, /^a loss fault needs "probability": a number from 0 to 1$/],
      [{ type: 'loss', probability: 2 }, /^"probability" must be a number from 0 to 1, got 2$/],
      [{ type: 'latency', ms: '5' }, /^"ms" must be a number from 0 to 60000, got "5"$/],
      [
        { type: 'partition', nodes: [7] },
        /^"nodes" must be a non-empty list of nodes of the ring \(0, 1, 2\), got \[7\]$/,
      ],
      [{ type: 'partition', nodes: [] }, /"nodes" must be .*, got \[\]$/],
      [{ type: 'latency', ms: 10, probability: 1 }, /takes no "probability"/],
      [
        { type: 'latency', ms: 10, distribution: 'normal' },
        /"distribution" must be "uniform" or "exponential"/,
      ],
      [[1], /a JSON object/],
    ];
    for (const [spec, message] of bad) {
      assert.throws(
        () => checkFault(spec, [0, 1, 2]),
        { code: 'BAD_REQUEST', message },
        JSON.stringify(spec),
      );
    }
    // A pause is checked apart, and names what is missing or wrong as checkFault does.
    for (const [spec, message] of [
      [{ type: 'pause', nodes: [0] }, /^a pause fault needs "ms": an integer from 1 to 60000$/],
      [
        { type: 'pause', ms: 5 },
        /^a pause fault needs "nodes": a non-empty list of nodes of the ring \(0, 1, 2\)$/,
      ],
      [{ type: 'pause', nodes: [0], ms: 'x' }, /^"ms" must be an integer from 1 to 60000, got "x"$/],
    ] as const) {
      assert.throws(
        () => checkPause(spec, [0, 1, 2], 1),
        { code: 'BAD_REQUEST', message },
        JSON.stringify(spec),
      );
    }
    assert.deepEqual(checkFault({ type: 'latency', ms: 5 }, [0]), {
      type: 'latency',
      ms: 5,
      jitterMs: 0,
      distribution: 'uniform',
    });
  });
});

/** Runs `body` on a cluster whose nodes run inline on a simulated loop: every time below is exact. */
async function simulated(
  options: { timeoutMs: number; seed: number },
  body: (loop: SimLoop, cluster: Cluster) => Promise<void>,
): Promise<void> {
  const loop = new SimLoop();
  const cluster = await Cluster.start({
    nodes: 3,
    antiEntropyMs: 0,
    clock: loop,
    runner: inlineRunner(loop),
    ...options,
  });
  try {
    await loop.run(body(loop, cluster));
  } finally {
    await cluster.close();
  }
}

describe('faults on a running cluster', () => {
  test('latency shows in latencies; a partition of two replicas gives QUORUM_NOT_MET; healing restores service', async () => {
    await simulated({ timeoutMs: 300, seed: 1 }, async (loop, cluster) => {
      await cluster.put('k', 'v');

      cluster.addFault({ type: 'latency', ms: 60 });
      let started = loop.now();
      assert.equal((await cluster.get('k'))?.toString(), 'v');
      assert.equal(loop.now() - started, 120, '60 ms each way');
      cluster.healAll();

      // One replica cut off: W = 2 and R = 2 of 3 still answer, without waiting for it.
      const one = cluster.addFault({ type: 'partition', nodes: [cluster.ring.locate('k').replicas[2]!] });
      started = loop.now();
      await cluster.put('k', 'w');
      assert.ok(loop.now() - started < 300, 'the quorum did not wait for the cut-off replica');
      assert.equal(cluster.healFault(one.id), true);

      // Two cut off: the request waits out the timeout and fails.
      const [, b, c] = cluster.ring.locate('k').replicas as [number, number, number];
      cluster.addFault({ type: 'partition', nodes: [b, c] });
      started = loop.now();
      // Sent, and maybe applied by the replica that was reached: nothing says it was not.
      await assert.rejects(cluster.put('k', 'x'), (err: { code: string; details: object }) => {
        assert.equal(err.code, 'QUORUM_NOT_MET');
        assert.ok(!('applied' in err.details));
        return true;
      });
      assert.equal(loop.now() - started, 300, 'failed at the timeout');
      await assert.rejects(cluster.get('k'), { code: 'QUORUM_NOT_MET' });
      cluster.healAll();
      assert.deepEqual(cluster.faults(), []);
      await cluster.put('k', 'y');
      assert.equal((await cluster.get('k'))?.toString(), 'y');
    });
  });

  test('loss on every link makes requests time out; a pause holds a node and ends by itself', async () => {
    await simulated({ timeoutMs: 200, seed: 2 }, async (loop, cluster) => {
      cluster.addFault({ type: 'loss', probability: 1 });
      await assert.rejects(cluster.put('lost', 'v'), { code: 'QUORUM_NOT_MET' });
      cluster.healAll();
      await cluster.put('lost', 'v');

      const began = loop.now();
      const pause = cluster.addFault({ type: 'pause', nodes: [0, 1], ms: 400 });
      assert.equal(pause.type, 'pause');
      assert.equal(cluster.faults().length, 1);
      await assert.rejects(cluster.get('lost'), { code: 'QUORUM_NOT_MET' });
      await new Promise<void>((resolve) => loop.setTimer(began + 399 - loop.now(), resolve));
      assert.equal(cluster.faults().length, 1, 'still in force 1 ms before its end');
      await new Promise<void>((resolve) => loop.setTimer(1, resolve));
      assert.deepEqual(cluster.faults(), [], 'the pause is over');
      assert.equal((await cluster.get('lost'))?.toString(), 'v');
    });
  });
});

describe('faults over HTTP', () => {
  test('POST, GET and DELETE /cluster/faults; /cluster shows the seed and the faults', TIMEOUT, async (t) => {
    const run = await startRunning({ nodes: 3, seed: 99 });
    t.after(() => run.stop());
    const added = await http(
      run.url,
      'POST',
      '/cluster/faults',
      '{"type": "latency", "ms": 5, "nodes": [2]}',
    );
    assert.equal(added.status, 201);
    assert.deepEqual(added.json, {
      type: 'latency',
      nodes: [2],
      ms: 5,
      jitterMs: 0,
      distribution: 'uniform',
      id: 1,
    });
    const listed = (await http(run.url, 'GET', '/cluster/faults')).json as { faults: unknown[] };
    assert.equal(listed.faults.length, 1);
    const cluster = (await http(run.url, 'GET', '/cluster')).json as { seed: number; faults: unknown[] };
    assert.equal(cluster.seed, 99);
    assert.equal(cluster.faults.length, 1);
    assert.equal(codeOf(await http(run.url, 'POST', '/cluster/faults', '{"type": "meteor"}')), 'BAD_REQUEST');
    assert.equal(codeOf(await http(run.url, 'POST', '/cluster/faults', 'not json')), 'INVALID_JSON');
    assert.equal((await http(run.url, 'DELETE', '/cluster/faults/1')).status, 200);
    assert.equal(codeOf(await http(run.url, 'DELETE', '/cluster/faults/1')), 'NOT_FOUND');
    await http(run.url, 'POST', '/cluster/faults', '{"type": "partition", "nodes": [0]}');
    assert.deepEqual((await http(run.url, 'DELETE', '/cluster/faults')).json, { healed: 1 });
    assert.deepEqual((await http(run.url, 'GET', '/cluster/faults')).json, { faults: [] });
  });
});
