import { existsSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHROMIUM, CHROMIUM_FLAGS } from '../support/chromium.js';

/** Why browser tests are skipped (chromium absent), or false; never skipped under THUNDERDB_REQUIRE_CHROMIUM. */
export function chromiumSkip(): string | false {
  if (existsSync(CHROMIUM)) return false;
  if (process.env.THUNDERDB_REQUIRE_CHROMIUM)
    throw new Error(`THUNDERDB_REQUIRE_CHROMIUM is set, but ${CHROMIUM} is missing`);
  return 'chromium is not installed (apt-get install chromium)';
}

/** Headless chromium, closed when the test ends. */
export async function launchChromium(t: TestContext): Promise<Browser> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_FLAGS] });
  t.after(() => browser.close());
  return browser;
}

/**
 * A page of `browser` at `viewport`, and the errors it reports (uncaught, or logged as
 * errors), for the test to assert there are none. Every wait on it is for something the page
 * will show: generous, as a loaded machine is slow.
 */
export async function openPage(
  browser: Browser,
  viewport: { width: number; height: number },
): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport });
  page.setDefaultTimeout(60_000);
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('console', (message) => message.type() === 'error' && errors.push(message.text()));
  return { page, errors };
}
