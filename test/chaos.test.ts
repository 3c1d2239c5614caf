import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { describeFailures } from '../support/chaos.js';
import { runChaos } from '../support/chaos-targets.js';

/** A short seed set: `npm run bench:chaos` runs many more seeds, and longer ones. */
const SIM_SEEDS = [1, 2, 3, 4];
const THREAD_SEEDS = [1, 2];

describe('racing cluster operations under a writer (replicas 3, W 2)', { timeout: 300_000 }, () => {
  for (const seed of SIM_SEEDS) {
    test(`deterministic mode, seed ${seed}: the process lives and no acknowledged write is lost`, async () => {
      const { report } = await runChaos({ seed, steps: 150, mode: 'deterministic' });
      assert.equal(report.failures.length, 0, describeFailures(report, 'deterministic'));
      // The run raced what it says it raced: every kind started, writes acknowledged.
      for (const kind of ['add', 'remove', 'crash', 'restart', 'plan', 'anti-entropy', 'partition', 'heal'])
        assert.ok(report.outcomes[kind], `no ${kind} in ${JSON.stringify(report.outcomes)}`);
      assert.ok(report.writes.ok > 100, `${report.writes.ok} writes acknowledged`);
    });
  }

  test('deterministic mode: one seed gives the same run twice, event for event', async () => {
    const first = await runChaos({ seed: 7, steps: 60, mode: 'deterministic' });
    const second = await runChaos({ seed: 7, steps: 60, mode: 'deterministic' });
    assert.deepEqual(second.report.events, first.report.events);
    assert.equal(second.hash, first.hash);
  });

  for (const seed of THREAD_SEEDS) {
    test(`threads over HTTP, seed ${seed}: the process lives and no acknowledged write is lost`, async () => {
      const { report } = await runChaos({ seed, steps: 30, mode: 'threads' });
      assert.equal(report.failures.length, 0, describeFailures(report, 'threads'));
      assert.ok(report.writes.ok > 20, `${report.writes.ok} writes acknowledged`);
    });
  }
});
