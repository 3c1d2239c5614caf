import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { runCheck } from '../src/check/run.js';
import { chromiumSkip, launchChromium, openPage } from './browser.js';
import { checkOptions, http, LONG_TIMEOUT, STALE_READ_RUN, startRunning, startCliCheck } from './helpers.js';

/** A cluster of three nodes, and its dashboard open and live in chromium at `viewport`. */
async function openDashboard(t: TestContext, viewport: { width: number; height: number }) {
  const run = await startRunning({ nodes: 3, checksDir: await mkdtemp(join(tmpdir(), 'thunderdb-checks-')) });
  t.after(() => run.stop());
  const { page, errors } = await openPage(await launchChromium(t), viewport);
  await page.goto(`${run.url}/`);
  await page.locator('#connection.live').waitFor();
  return { run, page, errors };
}

describe("the dashboard's live check", () => {
  test(
    'a deterministic check started from the panel ends with the verdict thunderdb check gives its seed, and a red key shows why',
    { ...LONG_TIMEOUT, skip: chromiumSkip() },
    async (t) => {
      const { run, page, errors } = await openDashboard(t, { width: 1280, height: 900 });

      await page.selectOption('#check-mode', 'deterministic');
      await page.fill('#check-seed', '3');
      await page.fill('#check-seconds', '3');
      await page.fill('#check-r', '1');
      await page.fill('#check-w', '1');
      for (const kind of ['crash', 'latency', 'loss', 'pause'])
        await page.uncheck(`#check-form [data-kind="${kind}"]`);
      await page.click('#check-start');
      await page.locator('#check-verdict[data-verdict]').waitFor();

      // The same seed and options from the command line's code: the same run, so the same verdict.
      const local = await runCheck(
        await checkOptions({ ...STALE_READ_RUN, faults: [...STALE_READ_RUN.faults] }),
      );
      const lin = local.checks.linearizability;
      assert.ok(lin.valid === false && lin.witness !== undefined);
      assert.equal(await page.getAttribute('#check-verdict', 'data-verdict'), 'invalid');
      assert.equal(await page.textContent('#check-ops'), local.counts.invoked.toLocaleString('en-US'));
      const red = page.locator(`#check-keys [data-key="${lin.key}"]`);
      assert.equal(await red.getAttribute('data-verdict'), 'invalid');
      // Drawn red: the dashboard's colour for down and invalid.
      assert.equal(
        await red.evaluate((el) => el.ownerDocument.defaultView!.getComputedStyle(el).borderLeftColor),
        'rgb(200, 59, 59)',
      );
      // Every other key is as the judge's search finds it, here valid.
      assert.equal(await page.locator('#check-keys [data-verdict="valid"]').count(), 5);
      // The fault windows on the outcomes' timeline.
      assert.ok((await page.locator('#check-timeline .fault-window[data-kind="partition"]').count()) > 0);

      await red.click();
      const why = page.locator('#check-why');
      await why.locator('.op.blocked').waitFor();
      assert.equal(await why.locator('.op.blocked').count(), 1);
      assert.equal(await why.locator('.op.ordered').count(), lin.witness.ordered.length);
      assert.equal(await why.locator('.op').count(), lin.witness.operations.length);
      assert.equal(await why.locator('.op.stale-by').count(), lin.witness.staleBy === null ? 0 : 1);
      assert.equal(await why.locator('.fault-window').count(), lin.witness.faults.length);
      // The full report, served by the cluster.
      const href = await page.getAttribute('#check-report', 'href');
      assert.equal((await http(run.url, 'GET', href!)).status, 200);
      assert.deepEqual(errors, []);
      // The run's trace, to step through, from the violation on.
      await page.goto(`${run.url}${await page.getAttribute('#check-replay', 'href')}`);
      await page.locator('body[data-loaded]').waitFor({ state: 'attached' });
      await page.click('#jump-violation');
      assert.equal(await page.inputValue('#key'), lin.key);
      assert.deepEqual(errors, []);
    },
  );

  test(
    'a thunderdb check --url against the cluster shows in the panel, and Stop there ends it',
    { ...LONG_TIMEOUT, skip: chromiumSkip() },
    async (t) => {
      const { run, page, errors } = await openDashboard(t, { width: 420, height: 900 });
      const { child } = await startCliCheck(t, run.url, 8);
      await page.locator('#check-status[data-source="cli"][data-state="running"]').waitFor();
      // Operations counted and keys judged while it runs.
      await page.locator('#check-keys [data-verdict="valid"]').first().waitFor();
      assert.equal(await page.isDisabled('#check-start'), true);
      await page.click('#check-stop');
      const [code] = (await once(child, 'exit')) as [number];
      assert.equal(code, 0);
      await page.locator('#check-verdict[data-verdict="valid"]').waitFor();
      assert.equal(await page.getAttribute('#check-status', 'data-state'), 'stopped');
      assert.match((await page.textContent('#check-verdict'))!, /stopped early/);
      assert.equal(await page.isDisabled('#check-start'), false);
      // Nothing overflows at phone width.
      const [page_, window_] = await page
        .locator('html')
        .evaluate((html) => [html.scrollWidth, html.ownerDocument.defaultView!.innerWidth]);
      assert.ok(page_! <= window_!, `page ${page_} px wide in a ${window_} px window`);
      assert.deepEqual(errors, []);
    },
  );
});
