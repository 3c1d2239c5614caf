import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, test } from 'node:test';
import { chromiumSkip, launchChromium, openPage } from './browser.js';
import { explainInvalid } from '../src/check/describe.js';
import { checkKey, checkLinearizability, type Input, type Operation } from '../src/check/linearizability.js';
import type { CheckResults } from '../src/check/results.js';
import { runCheck } from '../src/check/run.js';
import type { AppliedWindow } from '../src/check/schedule.js';
import { without, witnessOf, type Witness } from '../src/check/witness.js';
import { Rng } from '../src/time/rng.js';
import { checkOptions, LONG_TIMEOUT, TIMEOUT } from './helpers.js';
import { op, read, write } from './histories.js';

/** A fault window in force from `began` to `ended` (ms since the run's start). */
function window(
  kind: AppliedWindow['kind'],
  node: number,
  began: number,
  ended: number | null,
): AppliedWindow {
  return { kind, at: began, ms: (ended ?? began) - began, nodes: [node], began, ended };
}

/** `ops` without `gone` and the reads that may have seen it: what witnessOf leaves out in one go. */
const withoutOne = (ops: readonly Operation[], gone: Operation) => without(ops, new Set([gone])) ?? [];

/**
 * A seeded history of one register that is linearizable by construction: each operation takes
 * effect at a random point between its call and its return, reads return what the register
 * held then; some writes never return (indeterminate), some of those never take effect.
 */
function registerHistory(seed: number, count: number): Operation[] {
  const rng = new Rng(seed);
  const clients = 4;
  const free = Array.from({ length: clients }, () => 0);
  const planned: { op: Operation; at: number }[] = [];
  for (let i = 0; i < count; i++) {
    // A client whose write never returned invokes nothing more.
    const client = rng.pick(free.flatMap((t, c) => (t === Infinity ? [] : [c])));
    const call = free[client]! + rng.int(0, 5);
    const ret = call + rng.int(1, 12);
    const at = call + rng.next() * (ret - call);
    const r = rng.next();
    const input: Input = r < 0.45 ? read : r < 0.9 ? write(`${client}-${i}`) : { kind: 'delete' };
    const indeterminate = input.kind === 'write' && rng.next() < 0.04;
    free[client] = indeterminate ? Infinity : ret;
    planned.push({
      op: op(client, input, call, indeterminate ? null : ret),
      at: indeterminate && rng.next() < 0.5 ? Infinity : at,
    });
    if (free.every((t) => t === Infinity)) break;
  }
  let state: string | null = null;
  // (Those that never took effect left out first: Infinity - Infinity is no comparison.)
  const tookEffect = planned.filter((p) => p.at !== Infinity).sort((x, y) => x.at - y.at);
  for (const { op: o } of tookEffect) {
    if (o.input.kind === 'read') o.output = { value: state };
    else state = o.input.kind === 'write' ? o.input.value : null;
  }
  return planned.map((p) => p.op);
}

describe('witnessOf()', () => {
  // Client 0 writes a; client 1 writes b after it returned; client 2 then reads a: stale.
  // Around them, operations that change nothing of that.
  const a = op(0, write('a'), 0, 1);
  const b = op(1, write('b'), 2, 3);
  const stale = op(2, read, 4, 5, { value: 'a' });
  const noise = [
    op(3, read, -2, -1, { value: null }),
    op(3, read, 0.5, 1.5, { value: 'a' }),
    op(0, write('z'), 10, 11),
    op(1, read, 12, 13, { value: 'z' }),
  ];
  const history = [noise[0]!, a, noise[1]!, b, stale, noise[2]!, noise[3]!];
  const faults = [
    window('partition', 1, 2.5, 2.8), // while b was written: after the read began, and before
    window('latency', 2, 6, 9), // after the read returned
    { ...window('crash', 0, 3, 4.5), skipped: 'node 1 still down or refilling' }, // never in force
    window('loss', 0, 4.9, null), // still in force at the end
  ];

  test('a stale read: the write, the newer write and the read; blocked is the read, stale by the newer write', () => {
    const witness = witnessOf('k', history, faults)!;
    assert.ok(witness !== null);
    assert.equal(witness.key, 'k');
    assert.deepEqual(witness.operations, [a, b, stale]);
    assert.equal(witness.operations[0], a, 'the operations themselves, not copies');
    assert.deepEqual(witness.ordered, [a, b]);
    assert.equal(witness.blocked, stale);
    assert.equal(witness.staleBy, b);
    assert.deepEqual(
      witness.faults.map((w) => w.kind),
      ['partition', 'loss'],
      'in force from the stale-making write’s call to the read’s return, and never a skipped one',
    );
    assert.equal(witness.from, history.length);
    assert.equal(witness.minimal, true);
  });

  test('the command says it: how small, the write that made the read stale, the faults then', () => {
    const witness = witnessOf('k', history, [
      { ...window('partition', 1, 2.5, 2.8), fault: { type: 'partition', nodes: [1] } },
      { ...window('latency', 2, 4, 5), fault: { type: 'latency', nodes: [2], ms: 40, jitterMs: 10 } },
    ])!;
    const verdict = checkLinearizability(history);
    assert.ok(verdict.valid === false);
    assert.equal(
      explainInvalid({ ...verdict, witness }).at(-1),
      `  smallest failing sub-history: 3 of 7 operations; stale because of client 1's write of "b"; ` +
        `faults then: node 1 cut off, latency +40 ms (±10 ms) on node 2`,
    );
  });

  test('a linearizable key, or one whose search gives up, has no witness', () => {
    assert.equal(witnessOf('k', [a, b, op(2, read, 4, 5, { value: 'b' })], faults), null);
    assert.equal(checkKey(history, 2).valid, 'unknown');
    assert.equal(witnessOf('k', history, faults, 2), null);
  });

  test('the same operations give the same witness, in whatever order they are given', () => {
    const again = witnessOf('k', [...history].reverse(), faults);
    assert.deepEqual(again, witnessOf('k', history, faults));
  });

  test('on seeded histories with one read corrupted: still invalid, and leaving out any one operation makes it linearizable', () => {
    let checked = 0;
    for (let seed = 1; checked < 12; seed++) {
      assert.ok(seed < 200, 'enough seeded histories come out invalid');
      const ops = registerHistory(seed, 120);
      assert.equal(checkKey(ops).valid, true, `seed ${seed}: linearizable by construction`);
      // Corrupt a late read to return an earlier write's value: stale, usually.
      const rng = new Rng(seed * 7919);
      const reads = ops.filter((o) => o.input.kind === 'read' && o.call > 60);
      const writes = ops.filter((o) => o.input.kind === 'write' && o.ret !== null && o.ret < 40);
      if (reads.length === 0 || writes.length === 0) continue;
      const victim = rng.pick(reads);
      victim.output = { value: (rng.pick(writes).input as { value: string }).value };
      if (checkKey(ops).valid !== false) continue;
      checked++;
      const witness = witnessOf('k', ops, [])!;
      assert.ok(witness !== null, `seed ${seed}`);
      assert.equal(witness.minimal, true);
      assert.ok(
        witness.operations.length < ops.length / 4,
        `seed ${seed}: ${witness.operations.length} of ${ops.length}`,
      );
      assert.ok(witness.operations.every((o) => ops.includes(o)));
      assert.ok(
        witness.operations.includes(witness.blocked) &&
          witness.ordered.every((o) => witness.operations.includes(o)),
      );
      assert.equal(
        checkKey(witness.operations).valid,
        false,
        `seed ${seed}: the witness is not linearizable`,
      );
      for (const gone of witness.operations) {
        assert.equal(
          checkKey(withoutOne(witness.operations, gone)).valid,
          true,
          `seed ${seed}: without client ${gone.client}'s ${gone.input.kind} at ${gone.call} it is linearizable`,
        );
      }
    }
  });

  test('past its step budget it stops early: smaller, still invalid, and says it is not minimal', () => {
    const ops = registerHistory(3, 400);
    // A read after 200 ms made stale: it returns a value written and overwritten long before.
    const stale = ops.find((o) => o.input.kind === 'read' && o.call > 200)!;
    const old = ops.find((o) => o.input.kind === 'write' && o.ret !== null && o.ret < 100)!;
    stale.output = { value: (old.input as { value: string }).value };
    // A few times the least budget the first check needs: enough for the cut after the read
    // and a few halvings, too little to try leaving out each operation.
    let steps = 1;
    while (checkKey(ops, steps).valid === 'unknown') steps *= 2;
    const witness = witnessOf('k', ops, [], steps * 4)!;
    assert.equal(witness.minimal, false);
    assert.ok(witness.operations.length < ops.length / 2, `${witness.operations.length} of ${ops.length}`);
    assert.equal(checkKey(witness.operations).valid, false);
    assert.equal(witnessOf('k', ops, [])!.minimal, true, 'with the default budget it finishes');
  });
});

/** Seed 5 of R = W = 1 under partitions: a stale read (by a delete) on k0, found within 2 s simulated. */
let invalidRun: Promise<CheckResults> | undefined;
const runInvalid = async () =>
  (invalidRun ??= runCheck(
    await checkOptions({ seed: 5, r: 1, w: 1, faults: ['partition'], keys: 3, timeLimit: 2 }),
  ));

describe('a witness in a real run', () => {
  test(
    'results.json names the invalid key’s smallest failing sub-history, far smaller than its history',
    TIMEOUT,
    async () => {
      const results = await runInvalid();
      const saved = JSON.parse(
        await readFile(join(results.parameters.out, 'results.json'), 'utf8'),
      ) as CheckResults;
      const lin = saved.checks.linearizability;
      assert.ok(lin.valid === false, 'R = W = 1 under partitions: not linearizable');
      const witness = lin.witness!;
      assert.equal(witness.key, lin.key);
      assert.equal(witness.from, lin.operations.length);
      assert.ok(witness.operations.every((o) => o.key === lin.key));
      assert.ok(
        witness.operations.length >= 2 && witness.operations.length * 20 < lin.operations.length,
        `${witness.operations.length} of ${lin.operations.length}`,
      );
      assert.equal(witness.blocked.input.kind, 'read');
      assert.ok(witness.staleBy !== null, 'a stale read: the write that made it stale is named');
      assert.ok(witness.faults.length >= 1 && witness.faults.every((w) => w.kind === 'partition'));
      const keyOps = lin.operations.map((o) => JSON.stringify(o));
      assert.ok(
        witness.operations.every((o) => keyOps.includes(JSON.stringify(o))),
        'operations of the key, as recorded',
      );
      assert.equal(
        checkKey(witness.operations).valid,
        false,
        'the witness as saved is itself not linearizable',
      );
    },
  );

  test(
    'report.html draws why: the blocked read red, the ordered prefix numbered, the stale-making write, the faults then',
    { ...LONG_TIMEOUT, skip: chromiumSkip() },
    async (t) => {
      const results = await runInvalid();
      const lin = results.checks.linearizability;
      assert.ok(lin.valid === false && lin.witness !== undefined);
      const witness: Witness = lin.witness;
      const browser = await launchChromium(t);
      // A phone's width: the view scales to it.
      const { page, errors } = await openPage(browser, { width: 390, height: 800 });
      await page.goto(pathToFileURL(join(results.parameters.out, 'report.html')).href);
      const view = page.locator('#why-view');
      await view.locator('.op').first().waitFor();
      assert.equal(await view.locator('.op').count(), witness.operations.length);
      const blocked = view.locator('.op.blocked');
      assert.equal(await blocked.count(), 1);
      assert.equal(await blocked.locator('rect').getAttribute('fill'), '#d62728');
      assert.equal(
        await blocked.getAttribute('data-op'),
        String(witness.operations.indexOf(witness.blocked)),
      );
      assert.match((await blocked.textContent())!, new RegExp(`r → ${witness.blocked.output.value ?? '∅'}`));
      const ordered = view.locator('.op.ordered');
      assert.equal(await ordered.count(), witness.ordered.length);
      for (const [k, o] of witness.ordered.entries()) {
        assert.equal(
          await view.locator(`.op[data-order="${k + 1}"]`).getAttribute('data-op'),
          String(witness.operations.indexOf(o)),
        );
      }
      const staleBy = view.locator('.op.stale-by');
      assert.equal(await staleBy.count(), 1);
      assert.equal(
        await staleBy.getAttribute('data-op'),
        String(witness.operations.indexOf(witness.staleBy!)),
      );
      assert.ok((await view.locator('.fault-window').count()) >= 1);
      assert.equal(await view.locator('.fault-window').first().getAttribute('data-kind'), 'partition');
      const clients = new Set(witness.operations.map((o) => o.client));
      assert.deepEqual(
        await view.locator('text.client').allTextContents(),
        [...clients].sort((x, y) => x - y).map((c) => `client ${c}`),
      );
      // At a phone's width the drawing is as wide as the screen, not wider.
      const box = (await view.boundingBox())!;
      assert.ok(box.width <= 390 && box.width > 200, `${box.width} px`);
      assert.deepEqual(errors, []);
    },
  );
});
