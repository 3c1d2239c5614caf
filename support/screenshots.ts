import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Page } from 'playwright-core';
import { ThunderClient } from '../src/client/index.js';
import { Cluster } from '../src/cluster/cluster.js';
import { DEFAULT_LIMITS } from '../src/config.js';
import { startServer } from '../src/http/server.js';
import { CHROMIUM, CHROMIUM_FLAGS } from './chromium.js';

/**
 * `npm run screenshots`: the README's pictures of the dashboard, taken of a real cluster of
 * five nodes (three replicas) holding some keys, under a trickle of writes, with a latency
 * fault on node 2 and node 1 crashed, at a desktop's width (dashboard/screenshot.png) and a
 * phone's (dashboard/screenshot-phone.png); and of the live check panel after a check that
 * is not linearizable (seed 3 of r = w = 1 under partitions, in the deterministic mode), its
 * red key clicked (dashboard/screenshot-check.png).
 */
const SHOTS = [
  { file: 'screenshot.png', viewport: { width: 1280, height: 900 } },
  { file: 'screenshot-phone.png', viewport: { width: 420, height: 900 } },
] as const;

/** Resolves once the page has drawn `count` more states from /live. */
async function statesDrawn(page: Page, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const shown = await page.locator('body').getAttribute('data-updated');
    await page.locator(`body:not([data-updated="${shown}"])`).waitFor({ state: 'attached' });
  }
}

// Five nodes: a crash then leaves some partitions with every replica up, so the ring shows both.
const cluster = await Cluster.start({ nodes: 5, replicas: 3 });
const server = await startServer({
  cluster,
  limits: DEFAULT_LIMITS,
  port: 0,
  checksDir: await mkdtemp(join(tmpdir(), 'thunderdb-screenshots-')),
});
const url = `http://127.0.0.1:${server.port}`;
const browser = await chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_FLAGS] });
try {
  const db = new ThunderClient(url);
  const pages = await Promise.all(
    SHOTS.map(async ({ viewport }) => {
      const page = await browser.newPage({ viewport });
      page.setDefaultTimeout(60_000);
      await page.goto(`${url}/`);
      await page.locator('#connection.live').waitFor();
      return page;
    }),
  );
  // A check that is not linearizable, its red key clicked: the panel shows why.
  const desktop = pages[0]!;
  await desktop.selectOption('#check-mode', 'deterministic');
  for (const [field, value] of [
    ['seed', '3'],
    ['seconds', '3'],
    ['r', '1'],
    ['w', '1'],
  ] as const)
    await desktop.fill(`#check-${field}`, value);
  for (const kind of ['crash', 'latency', 'loss', 'pause'])
    await desktop.uncheck(`#check-form [data-kind="${kind}"]`);
  await desktop.click('#check-start');
  await desktop.locator('#check-keys [data-verdict="invalid"]').first().click();
  await desktop.locator('#check-why .op.blocked').waitFor();
  const check = fileURLToPath(new URL('../../dashboard/screenshot-check.png', import.meta.url));
  await desktop.locator('#check').screenshot({ path: check });
  console.log(check);
  // Some traffic for the chart, then a fault and a crash for the views to show.
  for (let i = 0; i < 300; i++) await db.put(`user:${i}`, `value ${i}`);
  await db.addFault({ type: 'latency', nodes: [2], ms: 5 });
  for (let i = 0; i < 300; i++) await db.get(`user:${i}`);
  await db.crash(1);
  // Writes go on while the pictures are taken, so the header and the cards show a rate.
  let taken = false;
  const trickle = (async () => {
    for (let i = 0; !taken && i < 100_000; i++) await db.put(`user:${i % 300}`, `value ${i}`);
  })();
  for (const [i, page] of pages.entries()) {
    await page.locator('#owners .owner.down[data-node="1"]').waitFor();
    await page.locator('#faults li', { hasText: 'node 2' }).waitFor();
    await statesDrawn(page, 2);
    const path = fileURLToPath(new URL(`../../dashboard/${SHOTS[i]!.file}`, import.meta.url));
    await page.screenshot({ path, fullPage: true });
    console.log(path);
  }
  taken = true;
  await trickle;
} finally {
  await browser.close();
  await server.close(100);
  await cluster.close();
}
