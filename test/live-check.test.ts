import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { LiveChecks, REPORTER_SILENT_MS } from '../src/check/live-checks.js';
import type { CheckSummary } from '../src/check/live-tracker.js';
import { LiveVerdict } from '../src/check/live-verdict.js';
import { pair, toOperations, type History, type HistoryEvent } from '../src/check/history.js';
import { checkKey, type Operation } from '../src/check/linearizability.js';
import type { CheckOptions, CheckResults } from '../src/check/results.js';
import { runCheck } from '../src/check/run.js';
import {
  codeOf,
  http,
  LONG_TIMEOUT,
  manualClock,
  startRunning,
  TIMEOUT,
  until,
  checkOptions,
  STALE_READ_RUN,
  startCliCheck,
} from './helpers.js';
import { handWritten } from './histories.js';

/** A condition polled over HTTP: at most ten requests a second against the server under test. */
const slowly =
  (condition: () => Promise<boolean>): (() => Promise<boolean>) =>
  async () =>
    (await condition()) || (await sleep(100), false);

/** The judge's verdict for each key of a whole history: what the live verdicts must end as. */
function judgeEachKey(events: readonly HistoryEvent[]): Map<string, string> {
  const byKey = new Map<string, Operation[]>();
  for (const op of toOperations(pair(events))) {
    if (!byKey.has(op.key)) byKey.set(op.key, []);
    byKey.get(op.key)!.push(op);
  }
  const verdicts = new Map<string, string>();
  for (const [key, ops] of byKey) {
    const { valid } = checkKey(ops);
    verdicts.set(key, valid === true ? 'valid' : valid === false ? 'invalid' : 'unknown');
  }
  return verdicts;
}

/** A deterministic check's options: seed 3 of r = w = 1 under partitions (not linearizable), then `overrides`. */
const deterministic = (overrides: Partial<CheckOptions> = {}): Promise<CheckOptions> =>
  checkOptions({ ...STALE_READ_RUN, faults: [...STALE_READ_RUN.faults], ...overrides });

describe('each key judged as the history grows', () => {
  test('a stale read makes its key invalid once nothing of the key is in flight, and not before', () => {
    const events = handWritten((h, at) => {
      const a = h.invoke(0, 'write', 'k', 'a');
      at(1);
      h.complete(a, 'ok');
      at(2);
      const b = h.invoke(1, 'write', 'k', 'b');
      at(3);
      h.complete(b, 'ok');
      at(4);
      const read = h.invoke(2, 'read', 'k');
      at(5);
      h.complete(read, 'ok', { value: 'a' });
      h.invoke(0, 'read', 'other');
    });
    const live = new LiveVerdict();
    for (const event of events.slice(0, 5)) live.add(event);
    // The read is in flight: the key is not quiescent, so not judged yet.
    assert.deepEqual(live.checkQuiescent(5), []);
    assert.equal(live.keys[0]!.verdict, 'pending');
    live.add(events[5]!);
    live.add(events[6]!);
    // Still at the read's return: an operation called now would be concurrent with it.
    assert.deepEqual(live.checkQuiescent(5), []);
    const changed = live.checkQuiescent(5.001);
    assert.deepEqual(
      changed.map(({ key, verdict, checked }) => ({ key, verdict, checked })),
      [{ key: 'k', verdict: 'invalid', checked: 3 }],
    );
    assert.equal(live.keys.find((k) => k.key === 'other')!.verdict, 'pending');
  });

  test('a key whose search runs past the live budget is unknown until the end, then searched in full', () => {
    const events = handWritten((h, at) => {
      const a = h.invoke(0, 'write', 'k', 'a');
      at(1);
      h.complete(a, 'ok');
      at(2);
      const read = h.invoke(1, 'read', 'k');
      at(3);
      h.complete(read, 'ok', { value: 'b' });
    });
    const live = new LiveVerdict(1);
    for (const event of events) live.add(event);
    assert.deepEqual(
      live.checkQuiescent(4).map(({ verdict }) => verdict),
      ['unknown'],
    );
    // Not searched again while the run goes…
    assert.deepEqual(live.checkQuiescent(5), []);
    // …but once the history is whole, with the judge's budget.
    assert.deepEqual(
      live.checkQuiescent(5, true).map(({ verdict }) => verdict),
      ['invalid'],
    );
  });

  test('a create refused by its precondition counts as a "no", and a write that certainly failed as nothing', () => {
    const events = handWritten((h, at) => {
      const create = h.invoke(0, 'create', 'k', 'a');
      at(1);
      h.complete(create, 'ok');
      at(2);
      const remove = h.invoke(1, 'delete-if-present', 'k');
      at(3);
      h.complete(remove, 'ok');
      at(4);
      // The key holds nothing: a create refused now is not linearizable.
      const refused = h.invoke(2, 'create', 'k', 'b');
      at(5);
      h.complete(refused, 'fail', { error: 'PRECONDITION_FAILED' });
      const failed = h.invoke(0, 'create', 'j', 'c');
      at(6);
      h.complete(failed, 'fail', { error: 'QUORUM_NOT_MET' });
      const read = h.invoke(1, 'read', 'j');
      at(7);
      h.complete(read, 'ok', { value: null });
    });
    const live = new LiveVerdict();
    for (const event of events) live.add(event);
    live.checkQuiescent(8);
    assert.deepEqual(
      live.keys.map(({ key, verdict, checked }) => ({ key, verdict, checked })),
      [
        { key: 'k', verdict: 'invalid', checked: 3 },
        { key: 'j', verdict: 'valid', checked: 1 },
      ],
    );
    assert.deepEqual(new Map(live.keys.map(({ key, verdict }) => [key, verdict])), judgeEachKey(events));
  });

  test('over real histories, judged every few events, each key ends as the judge finds it and is never invalid before', async (t) => {
    // Seed 3 is not linearizable, seed 1 is; both have failed and refused operations. With
    // no think time, clients call at the very time of their last return: ties to get right.
    for (const [seed, thinkMs] of [
      [3, 10],
      [1, 10],
      [3, 0],
    ] as const) {
      const options = await deterministic({ seed, thinkMs, timeLimit: thinkMs === 0 ? 1 : 3 });
      let history!: History;
      await runCheck(options, () => {}, { observe: (run) => (history = run.history) });
      const events = history.events;
      const judged = judgeEachKey(events);
      const live = new LiveVerdict();
      events.forEach((event, i) => {
        live.add(event);
        // As a summary taken between two events of one instant would see it.
        if (i % 7 === 0) {
          for (const { key, verdict } of live.checkQuiescent(event.time))
            if (verdict === 'invalid') assert.equal(judged.get(key), 'invalid', `seed ${seed}: ${key} early`);
        }
      });
      live.checkQuiescent(Infinity, true);
      const ended = new Map(live.keys.map(({ key, verdict }) => [key, verdict]));
      assert.deepEqual(ended, judged, `seed ${seed}`);
      t.diagnostic(`seed ${seed}, think ${thinkMs} ms: ${[...ended.values()].join(', ')}`);
      if (seed === 3 && thinkMs === 10) assert.ok([...ended.values()].includes('invalid'));
    }
  });
});

describe('the checks a server keeps', () => {
  test('a check reported by thunderdb check --url that goes quiet fails, and frees the way for another', () => {
    const clock = manualClock();
    const checks = new LiveChecks({ dir: tmpdir(), clock, url: () => 'http://127.0.0.1:1' });
    const summary = {
      id: 'cli-1-x',
      source: 'cli',
      parameters: {},
      state: 'running',
      startedAt: 0,
      elapsedMs: 0,
      counts: { invoked: 0, ok: 0, fail: 0, info: 0 },
      perSecond: [],
      faults: [],
      keys: [],
      witnesses: {},
      verdict: null,
      findings: [],
      reproduce: '',
      report: null,
    };
    assert.deepEqual(checks.report('cli-1-x', summary), { stop: false });
    assert.throws(() => checks.report('cli-2-y', { ...summary, id: 'cli-2-y' }), { code: 'CHECK_RUNNING' });
    clock.advance(REPORTER_SILENT_MS - 1);
    assert.equal(checks.current!.state, 'running');
    clock.advance(2);
    assert.equal(checks.current!.state, 'failed');
    assert.match(checks.current!.error!, /said nothing/);
    // Its reporter was only judging: its verdict, when it comes, is still taken; then no more.
    const verdict = { ...summary, state: 'done', verdict: true };
    assert.deepEqual(checks.report('cli-1-x', verdict), { stop: false });
    assert.equal(checks.get('cli-1-x').verdict, true);
    assert.throws(() => checks.report('cli-1-x', verdict), { code: 'BAD_REQUEST' });
    assert.deepEqual(checks.report('cli-2-y', { ...summary, id: 'cli-2-y' }), { stop: false });
    // A report of another id than its path's is refused.
    assert.throws(() => checks.report('cli-3-z', summary), { code: 'BAD_REQUEST' });
  });
});

describe('POST /check, GET /check/{id}, DELETE /check/{id}', () => {
  /** Waits for a check to be over; returns its summary. */
  const overOf = async (url: string, id: string, signal: AbortSignal): Promise<CheckSummary> => {
    let summary!: CheckSummary;
    await until(
      slowly(async () => {
        summary = (await http(url, 'GET', `/check/${id}`)).json as CheckSummary;
        return ['done', 'stopped', 'failed'].includes(summary.state);
      }),
      signal,
    );
    return summary;
  };

  test('bad options are refused with the option named, and an unknown check is 404', TIMEOUT, async (t) => {
    const run = await startRunning({
      nodes: 3,
      checksDir: await mkdtemp(join(tmpdir(), 'thunderdb-checks-')),
    });
    t.after(() => run.stop());
    const refused = async (body: string, code: string, words: RegExp) => {
      const answer = await http(run.url, 'POST', '/check', body);
      assert.equal(codeOf(answer), code, answer.text);
      assert.match((answer.json as { error: { message: string } }).error.message, words);
      assert.equal(answer.status, 400);
    };
    await refused('{"bogus": 1}', 'BAD_REQUEST', /does not take "bogus"/);
    await refused('{"clients": "many"}', 'BAD_REQUEST', /"clients" must be a number/);
    await refused('{"clients": 0}', 'BAD_REQUEST', /"clients" must be an integer from 1/);
    await refused('{"faults": "flood"}', 'BAD_REQUEST', /"faults" takes crash/);
    await refused('{"nodes": 5}', 'BAD_REQUEST', /"nodes" and "replicas" size a simulated cluster/);
    await refused('{"mode": "fast"}', 'BAD_REQUEST', /"mode" must be/);
    await refused('[1]', 'BAD_REQUEST', /JSON object/);
    await refused('{', 'INVALID_JSON', /JSON object/);
    const missing = await http(run.url, 'GET', '/check/nope');
    assert.equal(missing.status, 404);
    assert.equal(codeOf(missing), 'CHECK_NOT_FOUND');
    assert.equal(codeOf(await http(run.url, 'DELETE', '/check/nope')), 'CHECK_NOT_FOUND');
    assert.deepEqual((await http(run.url, 'GET', '/check')).json, { checks: [] });
  });

  test(
    'a deterministic check started over HTTP gives the verdict and event log thunderdb check gives for its seed; a second waits its turn',
    LONG_TIMEOUT,
    async (t) => {
      const dir = await mkdtemp(join(tmpdir(), 'thunderdb-checks-'));
      const run = await startRunning({ nodes: 3, checksDir: dir });
      t.after(() => run.stop());
      const body = { mode: 'deterministic', seed: 3, r: 1, w: 1, faults: 'partition', timeLimit: 3 };
      const started = await http(run.url, 'POST', '/check', JSON.stringify(body));
      assert.equal(started.status, 201, started.text);
      const { id } = started.json as CheckSummary;
      const second = await http(run.url, 'POST', '/check', JSON.stringify(body));
      assert.equal(second.status, 409);
      assert.equal(codeOf(second), 'CHECK_RUNNING');
      assert.equal((second.json as { error: { id: string } }).error.id, id);

      const over = await overOf(run.url, id, t.signal);
      assert.equal(over.state, 'done', over.error);
      assert.equal(over.verdict, false);
      const local = await runCheck(await deterministic());
      const served = JSON.parse(await readFile(join(dir, id, 'results.json'), 'utf8')) as CheckResults;
      assert.equal(served.eventLogHash, local.eventLogHash);
      assert.equal(served.valid, local.valid);
      assert.equal(over.counts.invoked, local.counts.invoked);
      // The red key is the judge's, and the live view names it.
      const lin = local.checks.linearizability;
      assert.ok(lin.valid === false);
      assert.equal(over.keys.find((k) => k.key === lin.key)!.verdict, 'invalid');
      assert.ok(over.findings.some((line) => line.includes(`key ${lin.key}`)));
      // Why, as report.html shows it: the judge's witness for its key.
      assert.deepEqual(over.witnesses[lin.key], lin.witness);
      assert.ok(over.witnesses[lin.key]!.operations.length < over.keys.find((k) => k.key === lin.key)!.ops);
      const report = await http(run.url, 'GET', over.report!);
      assert.equal(report.status, 200);
      assert.match(String(report.headers['content-type']), /text\/html/);
      assert.match(report.text.slice(0, 2000), /<html/);
      // Over: the next check may start.
      const third = await http(run.url, 'POST', '/check', JSON.stringify({ ...body, seed: 1 }));
      assert.equal(third.status, 201, third.text);
      await overOf(run.url, (third.json as CheckSummary).id, t.signal);
    },
  );

  test(
    'a check of this cluster runs through its own URL, and DELETE stops it: it heals, then is judged',
    LONG_TIMEOUT,
    async (t) => {
      const run = await startRunning({
        nodes: 3,
        checksDir: await mkdtemp(join(tmpdir(), 'thunderdb-checks-')),
      });
      t.after(() => run.stop());
      const started = await http(
        run.url,
        'POST',
        '/check',
        JSON.stringify({ seed: 5, faults: ['partition'], timeLimit: 600, keys: 3 }),
      );
      assert.equal(started.status, 201, started.text);
      const { id, parameters } = started.json as CheckSummary;
      assert.equal(parameters.url, run.url);
      // Running, with operations counted, before it is stopped.
      await until(
        slowly(
          async () => ((await http(run.url, 'GET', `/check/${id}`)).json as CheckSummary).counts.ok > 50,
        ),
        t.signal,
      );
      const stopping = await http(run.url, 'DELETE', `/check/${id}`);
      assert.equal(stopping.status, 202);
      const over = await overOf(run.url, id, t.signal);
      assert.equal(over.state, 'stopped', over.error);
      assert.equal(over.verdict, true);
      assert.ok(over.elapsedMs < 600_000);
      assert.deepEqual(new Set(over.keys.map((k) => k.verdict)), new Set(['valid']));
      // Every fault it made is healed.
      assert.deepEqual(run.cluster.faults(), []);
    },
  );
});

describe('thunderdb check --url shows on the cluster it checks', () => {
  test(
    'it reports as it runs, ends with its verdict there, and stops when asked there',
    LONG_TIMEOUT,
    async (t) => {
      const run = await startRunning({
        nodes: 3,
        checksDir: await mkdtemp(join(tmpdir(), 'thunderdb-checks-')),
      });
      t.after(() => run.stop());
      const { child, out } = await startCliCheck(t, run.url, 11);
      let printed = '';
      child.stdout.on('data', (d: Buffer) => (printed += d));
      child.stderr.on('data', (d: Buffer) => (printed += d));
      let summary!: CheckSummary;
      await until(
        slowly(async () => {
          const { checks } = (await http(run.url, 'GET', '/check')).json as { checks: CheckSummary[] };
          summary = checks[0]!;
          return summary !== undefined && summary.counts.ok > 20;
        }),
        t.signal,
      );
      assert.equal(summary.source, 'cli');
      assert.equal(summary.parameters.seed, 11);
      assert.match(printed, new RegExp(`shown live at ${run.url}/ \\(check ${summary.id}\\)`));
      // A check from the dashboard waits while this one runs.
      assert.equal(codeOf(await http(run.url, 'POST', '/check', '{}')), 'CHECK_RUNNING');
      await http(run.url, 'DELETE', `/check/${summary.id}`);
      const [code] = (await once(child, 'exit')) as [number];
      assert.equal(code, 0, printed);
      assert.match(printed, /stop asked for on the dashboard/);
      const over = (await http(run.url, 'GET', `/check/${summary.id}`)).json as CheckSummary;
      assert.equal(over.state, 'stopped');
      assert.equal(over.verdict, true);
      assert.equal(over.report, join(out, 'report.html'));
      const results = JSON.parse(await readFile(join(out, 'results.json'), 'utf8')) as CheckResults;
      assert.equal(over.counts.invoked, results.counts.invoked);
    },
  );
});
