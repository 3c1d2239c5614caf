import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { holdingClock, systemClock, type Clock } from '../src/time/clock.js';
import { TIMEOUT } from './helpers.js';

/** Starts 300 timers of 1 to 7 ms at once; the ones that fired before their delay had passed. */
async function earlyTimers(clock: Clock): Promise<string[]> {
  const early: string[] = [];
  await Promise.all(
    Array.from({ length: 300 }, (_, i) => {
      const ms = 1 + (i % 7);
      const start = clock.now();
      return new Promise<void>((resolve) =>
        clock.setTimer(ms, () => {
          const waited = clock.now() - start;
          if (waited < ms) early.push(`${ms} ms timer fired after ${waited.toFixed(3)} ms`);
          resolve();
        }),
      );
    }),
  );
  return early;
}

/** What a fresh process prints when its only pending work is a 100 ms timer on the named clock. */
async function lastTimerRuns(clock: 'systemClock' | 'holdingClock'): Promise<string> {
  const module = fileURLToPath(new URL('../src/time/clock.js', import.meta.url));
  const script = `import(${JSON.stringify(module)}).then((m) => m.${clock}.setTimer(100, () => console.log('fired')))`;
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', script]);
  return stdout.trim();
}

describe('the system clocks', () => {
  test('never fire a timer before now() has advanced by its delay', TIMEOUT, async (t) => {
    // systemClock's timers do not hold the process open; this does, for the test's length.
    const alive = setInterval(() => {}, 1000);
    t.after(() => clearInterval(alive));
    assert.deepEqual(await earlyTimers(systemClock), []);
    assert.deepEqual(await earlyTimers(holdingClock), []);
  });

  test('a cancelled timer does not fire', TIMEOUT, async () => {
    let fired = 0;
    systemClock.setTimer(1, () => fired++)();
    holdingClock.setTimer(1, () => fired++)();
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(fired, 0);
  });

  test('a pending timer keeps the process alive on holdingClock only', TIMEOUT, async () => {
    assert.equal(await lastTimerRuns('holdingClock'), 'fired');
    assert.equal(await lastTimerRuns('systemClock'), '');
  });
});

describe('timers longer than Node takes (2^31 − 1 ms)', () => {
  test('a 25-day timer on either clock warns of no overflow and does not fire', async () => {
    const module = fileURLToPath(new URL('../src/time/clock.js', import.meta.url));
    // In a process of its own: count the warnings and firings for 50 ms, then exit.
    const script = `
      let warnings = 0, fired = 0;
      process.on('warning', (w) => { if (w.name === 'TimeoutOverflowWarning') warnings++; });
      import(${JSON.stringify(module)}).then((m) => {
        m.systemClock.setTimer(25 * 24 * 3600 * 1000, () => fired++);
        m.holdingClock.setTimer(2 ** 31 + 1, () => fired++);
        setTimeout(() => { console.log(JSON.stringify({ warnings, fired, max: m.MAX_TIMER_MS })); process.exit(0); }, 50);
      });`;
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', script]);
    assert.deepEqual(JSON.parse(stdout), { warnings: 0, fired: 0, max: 2 ** 31 - 1 });
  });
});
