import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { checkOptionsOf, type CheckArgs } from '../src/check/command.js';
import type { HistoryEvent } from '../src/check/history.js';
import { runCheck } from '../src/check/run.js';
import { rawOnce } from './raw-http.js';
import { CHROMIUM, CHROMIUM_FLAGS } from '../support/chromium.js';
import { chromiumSkip, openPage } from './browser.js';
import { FRONT_ENDS, LONG_TIMEOUT, startRunning, TIMEOUT, type Running } from './helpers.js';

/** A short deterministic check into a fresh folder under `root`, named `name`. */
async function check(root: string, name: string, args: Partial<CheckArgs> = {}, trace = true) {
  const out = join(root, name);
  const options = await checkOptionsOf({
    seed: 7,
    mode: 'deterministic',
    nodes: 3,
    repair: 'sync',
    faults: 'crash,partition,latency,loss,pause',
    clients: 3,
    keys: 4,
    ops: 100_000,
    timeLimit: 2,
    thinkMs: 10,
    valueBytes: 0,
    timeoutMs: 500,
    convergeMs: 10_000,
    out,
    ...args,
  });
  const results = await runCheck(options, () => {}, { trace });
  const file = join(out, 'trace.jsonl');
  return { results, out, text: trace ? readFileSync(file, 'utf8') : '' };
}

type TraceEvent = Record<string, unknown> & { t: number; e: string };
const eventsOf = (text: string): TraceEvent[] =>
  text
    .trimEnd()
    .split('\n')
    .slice(1)
    .map((line) => JSON.parse(line) as TraceEvent);
const headerOf = (text: string) => JSON.parse(text.slice(0, text.indexOf('\n'))) as Record<string, unknown>;

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'thunderdb-replay-'));
});

describe('the deterministic trace', () => {
  test(
    'the same seed writes the same bytes; another seed other bytes; the run is the untraced one',
    TIMEOUT,
    async () => {
      const a = await check(root, 'same-a');
      const b = await check(root, 'same-b');
      assert.ok(a.text.length > 10_000);
      assert.equal(a.text, b.text);
      const other = await check(root, 'other', { seed: 8 });
      assert.notEqual(other.text, a.text);
      const untraced = await check(root, 'untraced', {}, false);
      assert.equal(untraced.results.eventLogHash, a.results.eventLogHash);
      assert.equal(existsSync(join(untraced.out, 'trace.jsonl')), false);
      const header = headerOf(a.text);
      assert.equal(header.format, 'thunderdb-trace');
      assert.equal(header.hash, a.results.eventLogHash);
      assert.equal(header.seed, 7);
      assert.deepEqual(header.nodes, [0, 1, 2]);
      assert.equal(header.events, eventsOf(a.text).length);
      // replay.html holds the trace, every `<` escaped.
      const page = readFileSync(join(a.out, 'replay.html'), 'utf8');
      assert.ok(page.includes(a.text.split('\n')[1]!));
    },
  );

  test(
    'a call and a return for each operation, drops under a partition say so, applies on replicas',
    TIMEOUT,
    async () => {
      const { out, text } = await check(root, 'content', {
        faults: 'partition',
        seed: 3,
        r: 1,
        w: 1,
        timeLimit: 3,
      });
      const events = eventsOf(text);
      const history = readFileSync(join(out, 'history.jsonl'), 'utf8')
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line) as HistoryEvent);
      const calls = events.filter((e) => e.e === 'call');
      const rets = events.filter((e) => e.e === 'ret');
      assert.deepEqual(
        calls.map((e) => e.i),
        history.filter((e) => e.type === 'invoke').map((e) => e.index),
      );
      assert.deepEqual(
        rets.map((e) => [e.i, e.r]),
        history.filter((e) => e.type !== 'invoke').map((e) => [e.index, e.type]),
      );
      // A drop for a partition falls inside a partition's window on that message's node.
      const windows = events
        .filter((e) => e.e === 'fault' && (e.spec as { type: string }).type === 'partition')
        .map((fault) => {
          const heal = events.find(
            (e) => e.e === 'heal' && e.t >= fault.t && (e.f === fault.f || e.f === undefined),
          );
          return {
            node: (fault.spec as { nodes: number[] }).nodes[0]!,
            from: fault.t,
            to: heal?.t ?? Infinity,
          };
        });
      const sends = new Map(events.filter((e) => e.e === 'send').map((e) => [e.m, e]));
      const drops = events.filter((e) => e.e === 'drop' && e.why === 'partition');
      assert.ok(drops.length > 0);
      for (const drop of drops) {
        const node = sends.get(drop.m)!.n;
        assert.ok(
          windows.some((w) => w.node === node && w.from <= drop.t && drop.t <= w.to),
          `drop of m${String(drop.m)} at ${drop.t} ms`,
        );
      }
      // Every write acknowledged shows as an apply of its key and value on some replica.
      const written = history.find((e) => e.type === 'invoke' && e.f === 'write')!;
      const applies = events.filter((e) => e.e === 'apply' && e.k === written.key && e.v === written.value);
      assert.ok(applies.length >= 1, `no apply of ${written.key} = ${written.value}`);
      // The verdict, and the blocked call, are in the header.
      const header = headerOf(text);
      assert.equal(header.valid, false);
      const violation = header.violation as { key: string; invoke: number };
      assert.equal(history[violation.invoke]!.key, violation.key);
    },
  );
});

for (const frontEnd of FRONT_ENDS)
  describe(`GET /replay/files on ${frontEnd}`, () => {
    let run: Running;
    before(async () => {
      await check(root, 'served', { timeLimit: 1 });
      run = await startRunning({ http: frontEnd, checksDir: root });
    }, TIMEOUT);
    after(() => run.stop());

    test(
      'serves a trace in --checks-dir, refuses other names with 404 TRACE_NOT_FOUND',
      TIMEOUT,
      async () => {
        const served = await fetch(`${run.url}/replay/files/served/trace.jsonl`);
        assert.equal(served.status, 200);
        assert.equal(await served.text(), readFileSync(join(root, 'served', 'trace.jsonl'), 'utf8'));
        for (const path of [
          '/replay/files/..%2Fserved/trace.jsonl',
          '/replay/files/.served/trace.jsonl',
          '/replay/files/nope/trace.jsonl',
          '/replay/files/served%00/trace.jsonl',
        ]) {
          const answer = await raw(
            run,
            `GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`,
          );
          assert.match(answer, /^HTTP\/1\.1 404/, path);
          assert.match(answer, /"code":"TRACE_NOT_FOUND"/, path);
        }
        const up = await raw(
          run,
          'GET /replay/files/../served/trace.jsonl HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
        );
        assert.match(up, /^HTTP\/1\.1 404/);
        assert.doesNotMatch(up, /thunderdb-trace/);
      },
    );
  });

/** One raw request (the path exactly as given), its whole answer as text. */
const raw = async (run: Running, request: string) =>
  (await rawOnce(run.server.port, request)).data.toString('latin1');

/** What the page shows at the current event: the state a step must reproduce exactly. */
async function shown(page: Page) {
  return {
    index: await page.textContent('#event-index'),
    nodes: await page.innerHTML('#nodes'),
    inFlight: await page.innerHTML('#in-flight'),
    faults: await page.innerHTML('#faults-now'),
  };
}

describe('the replay page', () => {
  let browser: Browser;
  let run: Running;
  before(async () => {
    if (chromiumSkip()) return;
    await check(root, 'invalid', { faults: 'partition', seed: 3, r: 1, w: 1, timeLimit: 3 });
    run = await startRunning({ checksDir: root });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_FLAGS] });
  }, LONG_TIMEOUT);
  after(async () => {
    await browser?.close();
    await run?.stop();
  });

  const open = async (how: 'upload' | 'file') => {
    const { page, errors } = await openPage(browser, { width: 1280, height: 900 });
    if (how === 'upload') {
      await page.goto(`${run.url}/replay`);
      await page.setInputFiles('#file', join(root, 'invalid', 'trace.jsonl'));
    } else await page.goto(`${run.url}/replay?file=invalid`);
    await page.locator('body[data-loaded]').waitFor({ state: 'attached' });
    return { page, errors };
  };

  for (const how of ['upload', 'file'] as const)
    test(
      `opened by ${how}: 50 steps forward, 50 back and forward again land on the same states`,
      { ...LONG_TIMEOUT, skip: chromiumSkip() },
      async () => {
        const { page, errors } = await open(how);
        const events = eventsOf(readFileSync(join(root, 'invalid', 'trace.jsonl'), 'utf8'));
        assert.equal(await page.getAttribute('body', 'data-loaded'), String(events.length));
        // Start where something is in flight and a node holds the key.
        const start = events.findIndex((e, i) => i > 500 && e.e === 'send');
        await page.locator('#scrubber').fill(String(start));
        assert.equal(await page.textContent('#event-index'), String(start));
        const forward: Awaited<ReturnType<typeof shown>>[] = [];
        for (let i = 0; i < 50; i++) {
          forward.push(await shown(page));
          await page.keyboard.press('ArrowRight');
        }
        const end = await shown(page);
        assert.equal(end.index, String(start + 50));
        for (let i = 49; i >= 0; i--) {
          await page.click('#back');
          assert.deepEqual(await shown(page), forward[i], `back at ${start + i}`);
        }
        for (let i = 0; i < 50; i++) await page.click('#forward');
        assert.deepEqual(await shown(page), end);
        assert.ok(
          forward.some((s) => s.inFlight.includes('<li')),
          'some step shows a message in flight',
        );
        assert.equal(await page.locator('#nodes tr[data-node]').count(), 3);
        assert.equal(errors.length, 0, errors.join('\n'));
        await page.close();
      },
    );

  test(
    "the space-time diagram draws the key's messages; jump to violation lands on the blocked call",
    { ...LONG_TIMEOUT, skip: chromiumSkip() },
    async () => {
      const { page } = await open('file');
      const text = readFileSync(join(root, 'invalid', 'trace.jsonl'), 'utf8');
      const violation = headerOf(text).violation as { key: string; client: number; invoke: number };
      await page.click('#jump-violation');
      const events = eventsOf(text);
      const at = events.findIndex((e) => e.e === 'call' && e.i === violation.invoke);
      assert.equal(await page.textContent('#event-index'), String(at));
      assert.equal(await page.inputValue('#key'), violation.key);
      assert.match(
        (await page.textContent('#events li.current'))!,
        new RegExp(`client ${violation.client} calls \\w+ ${violation.key}`),
      );
      assert.ok((await page.locator('#spacetime line.message').count()) > 0);
      assert.ok((await page.locator('#spacetime line.call').count()) > 0);
      // Stepping now goes from one of this key's events to the next.
      await page.click('#forward');
      const next = Number(await page.textContent('#event-index'));
      const keys = (e: TraceEvent) =>
        e.k === violation.key || (Array.isArray(e.k) && e.k.includes(violation.key));
      assert.ok(next > at);
      assert.equal(events.slice(at + 1, next).filter((e) => keys(e)).length, 0);
      await page.close();
    },
  );
});
