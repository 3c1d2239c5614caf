/**
 * `npm run bench:live-panel`: whether the dashboard stays responsive while it shows a check
 * of about 100,000 operations (issue 23). Starts a cluster, opens the dashboard in Debian's
 * chromium, starts a deterministic check of that size from it (`POST /check`: 10 clients, 50
 * keys, no think time, every fault kind), and records, until the verdict: every task of the
 * page's main thread longer than 50 ms (the Long Tasks API), how many states it drew, and
 * the time from a click on a key to its drawn answer.
 *
 *   npm run bench:live-panel -- [--ops 100000] [--seed 7]
 */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_FLAGS } from '../support/chromium.js';
import { runContext } from './lib/machine.js';
import { startCluster } from './lib/processes.js';

const { values: args } = parseArgs({
  options: { ops: { type: 'string', default: '100000' }, seed: { type: 'string', default: '7' } },
});
const OUT = fileURLToPath(new URL('../../bench/results/', import.meta.url));
const OPS = Number(args.ops);

async function main(): Promise<void> {
  const meta = runContext();
  const checksDir = await mkdtemp(join(tmpdir(), 'thunderdb-bench-checks-'));
  const cluster = await startCluster({ nodes: 3, replicas: 3 }, ['--checks-dir', checksDir]);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_FLAGS] });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(600_000);
    await page.goto(`${cluster.url}/`);
    await page.locator('#connection.live').waitFor();
    // In the page (a string: this file is compiled without the DOM's types).
    await page.evaluate(`(() => {
      window.longTasks = [];
      window.drawn = 0;
      new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) window.longTasks.push(entry.duration);
      }).observe({ type: 'longtask', buffered: true });
      new MutationObserver(() => window.drawn++).observe(document.body, {
        attributes: true,
        attributeFilter: ['data-updated'],
      });
    })()`);
    const started = Date.now();
    const res = await fetch(`${cluster.url}/check`, {
      method: 'POST',
      body: JSON.stringify({
        mode: 'deterministic',
        seed: Number(args.seed),
        ops: OPS,
        clients: 10,
        keys: 50,
        thinkMs: 0,
        timeLimit: 600,
      }),
    });
    if (res.status !== 201) throw new Error(`POST /check answered ${res.status}: ${await res.text()}`);
    await page.locator('#check-verdict[data-verdict]').waitFor();
    const seconds = (Date.now() - started) / 1000;
    const invoked = await page.textContent('#check-ops');
    // A key's answer: the first key drawn, clicked, until its title is in the page's data.
    const clickStart = await page.evaluate(() => performance.now());
    await page.locator('#check-keys .key').first().click();
    const clickMs = (await page.evaluate(() => performance.now())) - clickStart;
    const { longTasks, drawn } = (await page.evaluate(
      '({ longTasks: window.longTasks, drawn: window.drawn })',
    )) as {
      longTasks: number[];
      drawn: number;
    };
    const sorted = [...longTasks].sort((a, b) => b - a);
    const lines = [
      `ThunderDB bench:live-panel, ${meta.date}, commit ${meta.commit}, ${meta.cores} cores (${meta.cpu}), Node ${meta.node}, ${await browser.version()}`,
      `a deterministic check from the dashboard: seed ${args.seed}, ${invoked} operations, 10 clients, 50 keys, no think time, every fault kind; ${seconds.toFixed(1)} s to its verdict`,
      '',
      `states drawn: ${drawn}; tasks over 50 ms: ${longTasks.length}, longest ${
        sorted
          .slice(0, 3)
          .map((ms) => `${ms.toFixed(0)} ms`)
          .join(', ') || 'none'
      }`,
      `a click on a key, to its answer drawn: ${clickMs.toFixed(0)} ms`,
    ];
    console.log(lines.join('\n'));
    await mkdir(OUT, { recursive: true });
    await writeFile(`${OUT}live-panel-${Date.now()}.md`, lines.join('\n') + '\n');
  } finally {
    await browser.close();
    await cluster.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
