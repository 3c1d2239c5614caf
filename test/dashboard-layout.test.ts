import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { ThunderClient } from '../src/client/index.js';
import { chromiumSkip, launchChromium, openPage } from './browser.js';
import { LONG_TIMEOUT, startRunning } from './helpers.js';

/** A desktop's window and a phone's. */
const VIEWPORTS = [
  { name: 'desktop', width: 1280, height: 900 },
  { name: 'phone', width: 420, height: 900 },
] as const;

/** What the amount field of the fault form asks for, by fault type (none for a partition). */
const AMOUNT_ASKS: Record<string, RegExp | null> = {
  partition: null,
  latency: /\bms\b/,
  loss: /probability/,
  pause: /\bms\b/,
};

/** Each visible text field whose placeholder, typed in, would not fit: its id and placeholder. */
const cutPlaceholders = (page: Page) =>
  page.$$eval('input[placeholder]', (inputs) =>
    inputs
      .filter((input) => input.offsetParent !== null)
      .filter((input) => {
        // A placeholder's overflow does not show in scrollWidth; its text as the value does.
        const value = input.value;
        input.value = input.placeholder;
        const cut = input.scrollWidth > input.clientWidth;
        input.value = value;
        return cut;
      })
      .map((input) => `#${input.id} "${input.placeholder}"`),
  );

/**
 * Elements of `selector` whose height is not one line of theirs (a wrap makes it two), as
 * their text. Rounded: a header figure's bolder value makes its one line a little taller.
 */
const wrapped = (page: Page, selector: string) =>
  page.$$eval(selector, (elements) =>
    elements
      .filter((el) => {
        const lineHeight = parseFloat(el.ownerDocument.defaultView!.getComputedStyle(el).lineHeight);
        return Math.round(el.getBoundingClientRect().height / lineHeight) !== 1;
      })
      .map((el) => el.textContent),
  );

test(
  'the dashboard reads at a desktop and a phone width: one column on a phone, nothing overflowing, placeholders whole, one-line labels, faults described, a crashed node marked',
  { ...LONG_TIMEOUT, skip: chromiumSkip() },
  async (t) => {
    // Four nodes, three replicas: a crash leaves some partitions with every replica up.
    const run = await startRunning({ nodes: 4, replicas: 3, antiEntropyMs: 0 });
    t.after(() => run.stop());
    const db = new ThunderClient(run.url);
    for (let i = 0; i < 20; i++) await db.put(`key:${i}`, 'value');
    // A key with no place to break: the list of changes must wrap it, not widen the page.
    const longKey = `long:${'x'.repeat(200)}`;
    // Through the HTTP routes, as a person's script would: POST /cluster/faults, then a crash.
    const fault = await db.addFault({ type: 'latency', nodes: [2], ms: 5 });
    await db.crash(1);
    const browser = await launchChromium(t);
    const ring = run.cluster.ring;
    const withNode1 = Array.from({ length: ring.partitions }, (_, p) => ring.preferenceList(p)).filter(
      (list) => list.includes(1),
    ).length;

    for (const viewport of VIEWPORTS) {
      const { page, errors } = await openPage(browser, viewport);
      await page.goto(`${run.url}/`);
      await page.locator('#connection.live').waitFor();
      await page.locator('#changes[data-watching=""]').waitFor({ state: 'attached' });
      await db.put(longKey, 'value');
      await page.locator('#changes li', { hasText: longKey }).waitFor();

      // The fault as a person says it, in the list and on the chart's timeline.
      const listed = page.locator(`#faults li[data-fault="${fault.id}"]`);
      await listed.waitFor();
      assert.match(
        (await listed.textContent())!,
        new RegExp(`^#${fault.id} latency \\+5 ms on node 2 Heal$`),
      );
      const window = page.locator('#chart rect.fault-window[data-kind="latency"] title');
      await window.waitFor({ state: 'attached' });
      assert.match((await window.textContent())!, /^latency \+5 ms on node 2: .+–now$/);
      await page.locator('#chart rect.fault-window[data-kind="crash"]').waitFor({ state: 'attached' });

      // The crashed node marked in the ownership view, in red; the others in their colours.
      const down = page.locator('#owners .owner.down[data-node="1"]');
      await down.waitFor();
      assert.equal(await down.getAttribute('data-state'), 'down');
      assert.equal(await down.locator('.who').textContent(), 'node 1 down');
      const colour = (node: number) =>
        page.$eval(
          `#owners .owner[data-node="${node}"] .owned`,
          (el) => el.ownerDocument.defaultView!.getComputedStyle(el).backgroundColor,
        );
      assert.equal(await colour(1), 'rgb(200, 59, 59)');
      assert.equal(await colour(0), 'rgb(78, 121, 167)');
      assert.equal(await page.locator('#owners .owner.down').count(), 1);
      assert.deepEqual(
        await page.$$eval('#ring .owner-arc', (arcs) =>
          arcs.map((arc) => [arc.dataset.node, arc.dataset.state]),
        ),
        [
          ['0', 'up'],
          ['1', 'down'],
          ['2', 'up'],
          ['3', 'up'],
        ],
      );
      // The ring: the partitions with node 1 among their replicas, and only those, stand out.
      const statuses = await page.$$eval('#ring [data-status]', (arcs) =>
        arcs.map((arc) => [arc.dataset.status, arc.dataset.down, Number(arc.dataset.count)] as const),
      );
      const counted = (status: string) =>
        statuses.filter(([s]) => s === status).reduce((sum, [, , count]) => sum + count, 0);
      assert.ok(
        statuses.every(([status, nodes]) => (status === 'degraded') === (nodes === '1')),
        JSON.stringify(statuses),
      );
      assert.equal(counted('degraded'), withNode1);
      assert.equal(counted('healthy'), ring.partitions - withNode1);
      assert.ok(withNode1 < ring.partitions);

      // Nothing wider than the window; on a phone, one column.
      const widths = await page
        .locator('html')
        .evaluate((html) => [html.scrollWidth, html.ownerDocument.defaultView!.innerWidth]);
      assert.ok(
        widths[0]! <= widths[1]!,
        `${viewport.name}: page ${widths[0]} px wide in a ${widths[1]} px window`,
      );
      const columns = await page.$$eval('main > div', (divs) =>
        divs.map((div) => div.getBoundingClientRect()),
      );
      if (viewport.name === 'phone') assert.ok(columns[1]!.top >= columns[0]!.bottom, 'one column');
      else assert.equal(columns[1]!.top, columns[0]!.top, 'two columns');
      // The header's figures each on one line, and the node cards' labels; no card overflows.
      assert.deepEqual(await wrapped(page, 'header .figure'), []);
      await page.locator('.node[data-node="2"] dt').first().waitFor();
      assert.deepEqual(await wrapped(page, '.node dt'), []);
      const overflowing = await page.$$eval('.node', (cards) =>
        cards.filter((card) => card.scrollWidth > card.clientWidth).map((card) => card.dataset.node),
      );
      assert.deepEqual(overflowing, []);
      // The long wording of a short label is kept, as its title.
      assert.match(
        (await page.locator('.node[data-node="0"] dt', { hasText: 'hints' }).getAttribute('title'))!,
        /waiting for it/,
      );

      // Every placeholder whole, and the amount field saying what it takes for each fault type.
      for (const [type, asks] of Object.entries(AMOUNT_ASKS)) {
        await page.locator('#fault-type').selectOption(type);
        const amount = page.locator('#fault-amount');
        if (asks === null) {
          assert.equal(await amount.isVisible(), false, type);
          continue;
        }
        assert.match((await amount.getAttribute('placeholder'))!, asks, type);
        assert.deepEqual(await cutPlaceholders(page), [], type);
      }
      assert.deepEqual(errors, [], viewport.name);
      await page.close();
    }
  },
);
