import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { lostWrites, readsOfUnwritten, VALUE_LOST } from '../src/check/checks.js';
import { checkWatch, type SeenChange } from '../src/check/watch-check.js';
import { pair, toOperations, type Completed } from '../src/check/history.js';
import { runCheck } from '../src/check/run.js';
import { planFaults, FAULT_KINDS } from '../src/check/schedule.js';
import { checkOptions, CHILD_TIMEOUT_MS, LONG_TIMEOUT, startRunning } from './helpers.js';
import { handWritten } from './histories.js';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));

/** A history written by hand, paired: each operation with its outcome. */
const written = (steps: Parameters<typeof handWritten>[0]): Completed[] => pair(handWritten(steps));

describe('the checks, on histories known to be bad', () => {
  test('an acknowledged write the final read does not return, with nothing after it, is lost', () => {
    const history = written((h, at) => {
      const w = h.invoke(0, 'write', 'k', 'a');
      at(1);
      h.complete(w, 'ok');
      at(2);
      const w2 = h.invoke(1, 'write', 'k', 'b');
      at(3);
      h.complete(w2, 'ok');
    });
    assert.deepEqual(
      lostWrites(history, new Map([['k', 'a']])).map((op) => op.value),
      ['b'],
      'b came after a: the final read must show b',
    );
    assert.deepEqual(lostWrites(history, new Map([['k', 'b']])), []);
    assert.deepEqual(lostWrites(history, new Map()), [], 'no final read: not judged');
    assert.deepEqual(
      lostWrites(history, new Map([['k', VALUE_LOST]])).map((op) => op.value),
      ['b'],
      'a value the storage lost on every replica: the last acknowledged write is lost',
    );
  });

  test('a write that may have been overwritten (a concurrent or indeterminate one) is not lost', () => {
    const history = written((h, at) => {
      const a = h.invoke(0, 'write', 'k', 'a');
      const b = h.invoke(1, 'write', 'k', 'b');
      at(1);
      h.complete(a, 'ok');
      h.complete(b, 'ok');
      const c = h.invoke(2, 'write', 'k', 'c');
      at(2);
      h.complete(c, 'info', { error: 'NODE_TIMEOUT' });
    });
    assert.deepEqual(lostWrites(history, new Map([['k', 'c']])), []);
    assert.deepEqual(lostWrites(history, new Map([['k', 'a']])), [], 'b and c may both have lost to a');
  });

  test('an acknowledged delete whose value comes back is lost too', () => {
    const history = written((h, at) => {
      const w = h.invoke(0, 'write', 'k', 'a');
      at(1);
      h.complete(w, 'ok');
      at(1.5);
      const d = h.invoke(1, 'delete', 'k');
      at(2);
      h.complete(d, 'ok');
    });
    assert.deepEqual(
      lostWrites(history, new Map([['k', 'a']])).map((op) => op.f),
      ['delete'],
    );
    assert.deepEqual(lostWrites(history, new Map([['k', null]])), []);
  });

  test('a read of a value whose write certainly failed is caught', () => {
    const history = written((h, at) => {
      const w = h.invoke(0, 'write', 'k', 'refused');
      at(1);
      h.complete(w, 'fail', { error: 'QUORUM_NOT_MET' });
      const r = h.invoke(1, 'read', 'k');
      at(2);
      h.complete(r, 'ok', { value: 'refused' });
    });
    assert.deepEqual(
      readsOfUnwritten(history).map((op) => op.value),
      ['refused'],
    );
  });

  test('a read of a value never written, or written only after the read returned, is caught', () => {
    const history = written((h, at) => {
      const r = h.invoke(0, 'read', 'k');
      at(1);
      h.complete(r, 'ok', { value: 'later' });
      const r2 = h.invoke(0, 'read', 'k');
      at(2);
      h.complete(r2, 'ok', { value: 'nobody' });
      at(3);
      const w = h.invoke(1, 'write', 'k', 'later');
      at(4);
      h.complete(w, 'ok');
    });
    assert.deepEqual(
      readsOfUnwritten(history).map((op) => op.value),
      ['later', 'nobody'],
    );
  });

  test('outcomes become checker operations: info is indeterminate, a refused create a "no", other failures nothing', () => {
    const ops = toOperations(
      written((h, at) => {
        const a = h.invoke(0, 'write', 'k', 'a');
        const b = h.invoke(1, 'create', 'k', 'b');
        const c = h.invoke(2, 'write', 'k', 'c');
        const d = h.invoke(3, 'read', 'k');
        at(1);
        h.complete(a, 'info', { error: 'NODE_TIMEOUT' });
        h.complete(b, 'fail', { error: 'PRECONDITION_FAILED' });
        h.complete(c, 'fail', { error: 'QUORUM_NOT_MET' });
        h.complete(d, 'fail', { error: 'QUORUM_NOT_MET' });
      }),
    );
    assert.deepEqual(
      ops.map((op) => [op.input.kind, op.ret, op.output]),
      [
        ['write', null, {}],
        ['create', 1, { ok: false }],
      ],
    );
  });
});

describe('the fault schedule', () => {
  test('the same seed gives the same schedule; another seed another; every window ends before the run does', () => {
    const plan = planFaults(7, FAULT_KINDS, [0, 1, 2], 10_000);
    assert.deepEqual(planFaults(7, FAULT_KINDS, [0, 1, 2], 10_000), plan);
    assert.notDeepEqual(planFaults(8, FAULT_KINDS, [0, 1, 2], 10_000), plan);
    assert.ok(plan.length >= 4, `${plan.length} windows`);
    const long = planFaults(7, FAULT_KINDS, [0, 1, 2], 60_000);
    assert.deepEqual(new Set(long.map((w) => w.kind)), new Set(FAULT_KINDS));
    for (const window of plan) assert.ok(window.at + window.ms <= 8_500, JSON.stringify(window));
    assert.deepEqual(
      new Set(planFaults(7, ['partition'], [0, 1, 2], 10_000).map((w) => w.kind)),
      new Set(['partition']),
    );
  });
});

describe('thunderdb check', () => {
  test(
    'R = W = 1 under faults is found not linearizable, and the seed replays it exactly (deterministic)',
    LONG_TIMEOUT,
    async () => {
      const first = await runCheck(await checkOptions({ seed: 2, r: 1, w: 1 }));
      assert.equal(first.valid, false);
      const lin = first.checks.linearizability;
      assert.ok(lin.valid === false, 'the anomaly is a linearizability violation');
      assert.ok(lin.explanation.blocked.input.kind === 'read', 'a stale read');
      const again = await runCheck(await checkOptions({ seed: 2, r: 1, w: 1 }));
      // report.html explains it as the command does: the stale read, the write that made it
      // stale, and the operations ordered before it.
      const html = await readFile(join(first.parameters.out, 'report.html'), 'utf8');
      const why = /<ul class="why">(.*?)<\/ul>/.exec(html)?.[1] ?? '';
      assert.match(why, /^<li>not linearizable: key k\d+: .* client \d's read of .* fits nowhere<\/li>/);
      assert.match(
        why,
        /<li>made stale by: client \d's (write|create) of .*, which returned before the read began: from it on the key held /,
      );
      assert.equal(why.match(/<li>ordered before it: client \d's /g)?.length, 3);
      assert.equal(again.eventLogHash, first.eventLogHash);
      assert.deepEqual(again.checks, first.checks);
      assert.match(first.reproduce, /--seed 2 --mode deterministic .*--r 1 --w 1/);
    },
  );

  test(
    'the configuration the README calls linearizable (R = W = 2, sync repair) stays valid across seeds',
    LONG_TIMEOUT,
    async () => {
      for (let seed = 1; seed <= 12; seed++) {
        const results = await runCheck(await checkOptions({ seed }));
        assert.equal(results.valid, true, `seed ${seed}: ${JSON.stringify(results.checks).slice(0, 400)}`);
        assert.ok(results.counts.faults > 0 && results.counts.ok > 500, JSON.stringify(results.counts));
      }
    },
  );

  test(
    'threads mode: replicas 3, W 2 under crashes and partitions loses no acknowledged write; the files are written',
    LONG_TIMEOUT,
    async () => {
      const results = await runCheck(
        await checkOptions({
          mode: 'threads',
          seed: 5,
          faults: ['crash', 'partition'],
          timeLimit: 4,
          thinkMs: 0,
        }),
      );
      assert.equal(results.checks.lostWrites.valid, true);
      assert.equal(results.valid, true, JSON.stringify(results.checks).slice(0, 400));
      assert.ok(
        results.faults.some((f) => f.kind === 'crash' && f.ended !== null),
        'a node crashed and restarted',
      );
      const out = results.parameters.out;
      const saved = JSON.parse(await readFile(join(out, 'results.json'), 'utf8')) as {
        valid: unknown;
        seed: number;
        runMs: number;
        seconds: number;
        faults: { began: number; ended: number | null }[];
      };
      assert.deepEqual([saved.valid, saved.seed], [true, 5]);
      const lines = (await readFile(join(out, 'history.jsonl'), 'utf8')).trim().split('\n');
      assert.equal(lines.length, results.counts.invoked * 2);
      const events = lines.map((line) => JSON.parse(line) as { index: number; type: string; time: number });
      assert.deepEqual([events[0]!.index, events[0]!.type, typeof events[0]!.time], [0, 'invoke', 'number']);
      // One clock, from the run's start, for operations and fault windows: every operation
      // within the run, and the workload's first (no think time) before the first window,
      // which begins at least 50 ms in.
      for (const event of events)
        assert.ok(event.time >= 0 && event.time <= results.runMs, JSON.stringify(event));
      const faults = results.faults.filter((f) => f.skipped === undefined);
      for (const f of faults) {
        assert.ok(f.began >= f.at && (f.ended ?? 0) <= results.runMs, JSON.stringify(f));
      }
      assert.ok(
        events[0]!.time < faults[0]!.began,
        `${events[0]!.time} ms, then a fault at ${faults[0]!.began} ms`,
      );
      // Times as a person reads them: 0.1 ms, and seconds to the millisecond.
      const tenths = [saved.runMs, ...saved.faults.flatMap((f) => [f.began, f.ended ?? 0])];
      for (const ms of tenths) assert.match(String(ms), /^\d+(\.\d)?$/);
      assert.match(String(saved.seconds), /^\d+(\.\d{1,3})?$/);
      const html = await readFile(join(out, 'report.html'), 'utf8');
      assert.match(html, /<svg/);
      assert.match(html, /Check <span class="valid">valid/);
    },
  );

  test(
    'threads mode: the seed fixes each client’s operations and the fault schedule, not the interleaving',
    LONG_TIMEOUT,
    async () => {
      const clientOps = async (results: Awaited<ReturnType<typeof runCheck>>) => {
        const lines = (await readFile(join(results.parameters.out, 'history.jsonl'), 'utf8'))
          .trim()
          .split('\n');
        const events = lines.map(
          (line) =>
            JSON.parse(line) as { type: string; process: number; f: string; key: string; value?: string },
        );
        return events
          .filter((e) => e.type === 'invoke' && e.process === 0)
          .slice(0, 50)
          .map((e) => `${e.f} ${e.key} ${e.value ?? ''}`);
      };
      const first = await runCheck(
        await checkOptions({ mode: 'threads', seed: 9, timeLimit: 3, faults: ['latency', 'loss'] }),
      );
      const second = await runCheck(
        await checkOptions({ mode: 'threads', seed: 9, timeLimit: 3, faults: ['latency', 'loss'] }),
      );
      // What ran: every window the driver put in force (or skipped), in order, as planned.
      const ran = (r: typeof first) =>
        r.faults.map(({ kind, at, ms, nodes, fault }) => ({ kind, at, ms, nodes, fault }));
      assert.ok(first.faults.length >= 2, `${first.faults.length} faults ran`);
      assert.ok(
        first.faults.every((f) => f.ended !== null && f.began >= f.at),
        JSON.stringify(first.faults),
      );
      assert.deepEqual(ran(second), ran(first));
      assert.deepEqual(await clientOps(second), await clientOps(first));
    },
  );

  test(
    'the command prints every parameter first and the verdict last, exits 1 on invalid, and checks a cluster at --url',
    LONG_TIMEOUT,
    async (t) => {
      // Run in a fresh directory, so the default --out is the README's.
      const cwd = await mkdtemp(join(tmpdir(), 'thunderdb-check-'));
      const cli = async (args: string[]) => {
        const child = spawn(process.execPath, [CLI, 'check', ...args], { cwd, timeout: CHILD_TIMEOUT_MS });
        let stdout = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d));
        child.stderr.on('data', (d: Buffer) => (stdout += d));
        const [code] = (await once(child, 'exit')) as [number | null];
        return { code, stdout, lines: stdout.trim().split('\n') };
      };
      // The README's example, exactly: the deterministic mode prints the same run every time.
      const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
      const example = /^```\n(thunderdb check seed=2 mode=deterministic[^]*?)```/m.exec(readme)![1]!;
      const invalid = await cli([
        '--seed',
        '2',
        '--mode',
        'deterministic',
        '--r',
        '1',
        '--w',
        '1',
        '--time-limit',
        '5',
      ]);
      assert.equal(invalid.code, 1);
      assert.equal(
        invalid.stdout,
        example.replace(
          / [\d.]+ s in all \([\d.]+ s judging\)/,
          invalid.stdout.match(/ [\d.]+ s in all \([\d.]+ s judging\)/)![0],
        ),
      );
      assert.equal(invalid.lines.at(-2), 'verdict: invalid (seed 2)');
      assert.match(invalid.lines.at(-1)!, /^reproduce with: npx thunderdb check --seed 2 /);

      const bad = await cli(['--faults', 'meteor']);
      assert.equal(bad.code, 2);
      assert.match(
        bad.lines.join('\n'),
        /--faults takes crash, partition, latency, loss, pause or none, got "meteor"/,
      );

      const running = await startRunning({ nodes: 3, timeoutMs: 500 });
      t.after(() => running.stop());
      const valid = await cli([
        '--url',
        running.url,
        '--seed',
        '4',
        '--time-limit',
        '3',
        '--faults',
        'partition,latency,pause',
      ]);
      assert.equal(valid.code, 0, valid.lines.join('\n'));
      assert.match(valid.lines[0]!, new RegExp(`url=${running.url} nodes=3 replicas=3 r=2 w=2`));
      // Every run, valid too, ends with the line that repeats it.
      assert.equal(valid.lines.at(-2), 'verdict: valid (seed 4)');
      assert.equal(
        valid.lines.at(-1),
        `reproduce with: npx thunderdb check --seed 4 --mode threads --url ${running.url} --repair sync --faults partition,latency,pause --clients 5 --keys 6 --ops 100000 --time-limit 3 --think-ms 10 --timeout-ms 500 --converge-ms 10000`,
      );
      assert.deepEqual(running.cluster.faults(), [], 'every fault healed at the end');
    },
  );
});

describe('the watch held against the history', () => {
  /** One client writes a, b, deletes, then writes c to k; all acknowledged. */
  const history = () =>
    written((h, at) => {
      let t = 0;
      for (const [f, value] of [
        ['write', 'a'],
        ['write', 'b'],
        ['delete', undefined],
        ['write', 'c'],
      ] as const) {
        const op = h.invoke(0, f, 'k', value);
        at(++t);
        h.complete(op, 'ok');
        at(++t);
      }
    });
  const watched: SeenChange[] = [
    { type: 'put', key: 'k', version: 1, value: 'a' },
    { type: 'put', key: 'k', version: 2, value: 'b' },
    { type: 'delete', key: 'k', version: 3 },
    { type: 'put', key: 'k', version: 4, value: 'c' },
  ];

  test('a watch that reported every acknowledged write, in order, agreeing with the final read, is valid', () => {
    const findings = checkWatch(history(), watched, new Map([['k', 'c']]));
    assert.equal(findings.valid, true, JSON.stringify(findings));
  });

  test('a watch that skipped an acknowledged write, or a delete, is caught', () => {
    const skipped = checkWatch(
      history(),
      watched.filter((c) => c.value !== 'b'),
      new Map([['k', 'c']]),
    );
    assert.equal(skipped.valid, false);
    assert.deepEqual(skipped.missing, [`client 0's write of "b" to k`]);
    const noDelete = checkWatch(
      history(),
      watched.filter((c) => c.type !== 'delete'),
      new Map([['k', 'c']]),
    );
    assert.deepEqual(noDelete.missing, ['1 of 1 acknowledged deletes of k']);
  });

  test('out of order, a duplicate, a value never written, or a last change the final read contradicts, are caught', () => {
    const swapped = [watched[1]!, watched[0]!, watched[2]!, watched[3]!];
    assert.deepEqual(checkWatch(history(), swapped, new Map()).outOfOrder, [1]);
    assert.deepEqual(checkWatch(history(), [...watched, watched[3]!], new Map()).outOfOrder, [4]);
    const invented = [...watched, { type: 'put' as const, key: 'k', version: 5, value: 'z' }];
    assert.deepEqual(checkWatch(history(), invented, new Map()).unexpected, [
      'a put of "z" to k at version 5',
    ]);
    assert.deepEqual(checkWatch(history(), watched, new Map([['k', 'b']])).finalsDiffer, [
      'k: the watch ends at "c", the final read is "b"',
    ]);
  });
});
