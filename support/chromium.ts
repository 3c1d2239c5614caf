/** Debian's chromium (design.md §9): `npx playwright install` cannot download here; .ci/run installs it. */
export const CHROMIUM = '/usr/bin/chromium';

/** The flags every headless launch of it takes (design.md §9). */
export const CHROMIUM_FLAGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
