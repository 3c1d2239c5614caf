import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { ThunderClient } from '../src/client/index.js';
import { chromiumSkip, launchChromium, openPage } from './browser.js';
import { FRONT_ENDS, LONG_TIMEOUT, startRunning, TIMEOUT } from './helpers.js';

/** The state a node's card shows. */
const stateOf = (page: Page, node: number) => page.locator(`.node[data-node="${node}"] .state`);

for (const frontEnd of FRONT_ENDS)
  describe(`on ${frontEnd}`, () => {
    test(
      'the dashboard shows every node live, reflects a crash, drives crash and restart, and redraws the ring after a join',
      { ...LONG_TIMEOUT, skip: chromiumSkip() },
      async (t) => {
        const run = await startRunning({ http: frontEnd, nodes: 3, antiEntropyMs: 0 });
        t.after(() => run.stop());
        const db = new ThunderClient(run.url);
        const { page, errors } = await openPage(await launchChromium(t), { width: 1280, height: 900 });

        await page.goto(`${run.url}/`);
        await page.locator('#connection.live').waitFor();
        await page.locator('#nodes .node').nth(2).waitFor();
        assert.equal(await page.locator('#nodes .node').count(), 3);
        for (const node of [0, 1, 2]) assert.equal(await stateOf(page, node).textContent(), 'up');
        // Each card shows its node's round-trip p99 once the node has answered something.
        await page.locator('#changes[data-watching=""]').waitFor({ state: 'attached' });
        const warm = await db.put('warm', 'v');
        // The live feed of changes: GET /watch as Server-Sent Events, read by the browser.
        await page.locator('#changes li', { hasText: `put warm "v" @${warm.version}` }).waitFor();
        await page.fill('#changes-prefix', 'only:');
        await page.click('#changes-filter button');
        await page.locator('#changes[data-watching="only:"]').waitFor({ state: 'attached' });
        await db.put('other', 'x');
        const only = await db.put('only:a', 'y');
        await db.delete('only:a');
        await page.locator('#changes li[data-type="delete"]', { hasText: 'delete only:a' }).waitFor();
        assert.deepEqual(await page.locator('#changes li').allTextContents(), [
          (await page.locator('#changes li').first().textContent())!,
          `put only:a "y" @${only.version}`,
        ]);
        assert.match((await page.locator('#changes li').first().textContent())!, /^delete only:a @\d+$/);
        await page
          .locator('.node[data-node="0"] dd')
          .filter({ hasText: /^≤ \d+\.\d\d ms$/ })
          .first()
          .waitFor();
        // Ownership: a row per node, each owning its share of the partitions as the ring says.
        const owned = await page.$$eval('#owners .owner', (rows) =>
          rows.map((row) => [Number(row.dataset.node), Number(row.dataset.owned)]),
        );
        assert.deepEqual(
          owned,
          [0, 1, 2].map((id) => [id, run.cluster.ring.partitionCounts().get(id)]),
        );

        // A crash through the API shows (a change of state is pushed at once, not at the next tick).
        assert.equal((await db.crash(1)).state, 'down');
        await stateOf(page, 1).filter({ hasText: 'down' }).waitFor();

        // The card's button restarts it, through POST /cluster/nodes/1/restart.
        await page.locator('.node[data-node="1"] button[data-action="restart"]').click();
        await stateOf(page, 1).filter({ hasText: /^up$/ }).waitFor();
        assert.equal(run.cluster.stateOf(1), 'up');

        // And the crash button really crashes a node.
        await page.locator('.node[data-node="2"] button[data-action="crash"]').click();
        await stateOf(page, 2).filter({ hasText: 'down' }).waitFor();
        assert.equal(run.cluster.stateOf(2), 'down');
        await page.locator('.node[data-node="2"] button[data-action="restart"]').click();
        await stateOf(page, 2).filter({ hasText: /^up$/ }).waitFor();

        // A join, planned first, then confirmed: a fourth card, and the ring redrawn with its colour.
        await page.locator('#plan-add').click();
        await page
          .locator('#plan')
          .filter({ hasText: /moves \d+ partition copies/ })
          .waitFor();
        // Slowed by latency on the nodes it copies from, the join shows its moving partitions.
        for (let i = 0; i < 200; i++) await db.put(`k${i}`, 'v');
        run.cluster.addFault({ type: 'latency', nodes: [0, 1, 2], ms: 1000 });
        await page.locator('#add-node-confirm').click();
        await page.locator('#ring [data-status="moving"]').first().waitFor({ state: 'attached' });
        run.cluster.healAll();
        await page.locator('.node[data-node="3"]').waitFor();
        // Once joined, the new node owns its share, and nothing is moving any more.
        await page.locator('#owners .owner[data-node="3"]:not([data-owned="0"])').waitFor();
        await page.locator('#ring [data-status="moving"]').first().waitFor({ state: 'detached' });

        // A fault added through the form is listed, and heals.
        await page.locator('#fault-type').selectOption('latency');
        await page.locator('#fault-nodes').fill('0');
        await page.locator('#fault-amount').fill('5');
        await page.locator('#fault button').first().click();
        await page.locator('#faults li').filter({ hasText: 'latency +5 ms on node 0' }).waitFor();
        assert.equal(run.cluster.faults().length, 1);
        await page.locator('#heal-all').click();
        await page.locator('#faults li').filter({ hasText: 'none' }).waitFor();

        // The key lookup shows the key's preference list and each replica's version.
        await db.put('lookup-me', 'v');
        const located = run.cluster.ring.locate('lookup-me');
        await page.locator('#lookup-key').fill('lookup-me');
        await page.locator('#lookup button').click();
        await page
          .locator('#lookup-result')
          .filter({ hasText: `partition ${located.partition}` })
          .waitFor();
        const lines = (await page.locator('#lookup-result').textContent())!.split('\n').slice(1);
        assert.deepEqual(
          lines.map((line) => Number(/^node (\d+)/.exec(line)![1])),
          located.replicas,
        );
        assert.ok(
          lines.every((line) => /version [1-9]\d*$/.test(line)),
          lines.join('; '),
        );

        const shot = join(tmpdir(), 'thunderdb-dashboard.png');
        await page.screenshot({ path: shot, fullPage: true });
        t.diagnostic(`screenshot: ${shot}`);
        assert.deepEqual(errors, []);
      },
    );

    test('a page from another origin cannot listen on /live', TIMEOUT, async (t) => {
      const run = await startRunning({ http: frontEnd, nodes: 1 });
      t.after(() => run.stop());
      const { request } = await import('node:http');
      const status = await new Promise<number>((resolve, reject) => {
        const req = request(`${run.url}/live`, {
          headers: {
            Connection: 'Upgrade',
            Upgrade: 'websocket',
            'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
            'Sec-WebSocket-Version': '13',
            Origin: 'http://evil.example',
          },
        });
        req.on('response', (res) => resolve(res.statusCode!));
        req.on('upgrade', () => resolve(101));
        req.on('error', reject);
        req.end();
      });
      assert.equal(status, 403);
    });
  });
