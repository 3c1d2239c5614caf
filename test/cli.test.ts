import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { fixture, http } from './helpers.js';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));

/** Runs the CLI to its end. */
async function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args]);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d));
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

/** Starts `thunderdb cluster` and resolves with its URL once it prints the listening line. */
async function startCli(
  args: string[],
): Promise<{ child: ChildProcessWithoutNullStreams; url: string; out: () => string }> {
  const child = spawn(process.execPath, [CLI, 'cluster', '--port', '0', ...args]);
  let out = '';
  child.stderr.on('data', (d: Buffer) => (out += d));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d;
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match) resolve(match[1]!);
    });
    child.on('exit', (code) => reject(new Error(`cluster exited with ${code}: ${out}`)));
  });
  return { child, url, out: () => out };
}

describe('thunderdb CLI', () => {
  test('--help documents every cluster option with its default', async () => {
    const { code, stdout } = await run(['cluster', '--help']);
    assert.equal(code, 0);
    for (const option of [
      '--nodes',
      '--port',
      '--host',
      '--partitions',
      '--load',
      '--max-key-bytes',
      '--max-value-bytes',
      '--max-body-bytes',
      '--grace-ms',
    ]) {
      assert.match(stdout, new RegExp(option), option);
    }
    assert.match(stdout, /default: 3\]/);
    assert.match(stdout, /default: 8080\]/);
  });

  test('bad options fail with a message naming them, exit code not 0', async () => {
    for (const args of [
      ['cluster', '--nodes', '0'],
      ['cluster', '--port', '70000'],
      ['cluster', '--bogus'],
      [],
    ]) {
      const { code, stderr } = await run(args);
      assert.notEqual(code, 0, args.join(' '));
      assert.ok(stderr.length > 0, args.join(' '));
    }
    assert.match((await run(['cluster', '--nodes', '0'])).stderr, /nodes must be/);
  });

  test('cluster --load loads the sample file, serves it, and SIGTERM stops it with exit 0', async () => {
    const { child, url, out } = await startCli(['--nodes', '2', '--load', fixture('data_demo_10000.txt')]);
    try {
      assert.match(out(), /loaded 10,000 pairs/);
      assert.match(out(), /with 2 nodes; press Ctrl-C to stop/);
      const got = await http(url, 'GET', '/kv/d6b250e3-9480-4ed5-a4b7-5d8b28bc75da');
      assert.equal(got.text, 'e8c12114-674b-4f75-a753-c2e1c33ad4bd');
    } finally {
      child.kill('SIGTERM');
    }
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 0);
    assert.match(out(), /SIGTERM: finishing requests in flight/);
  });

  test('load streams a file into a running cluster and reports loaded and rejected lines', async (t) => {
    const { child, url } = await startCli(['--nodes', '3']);
    t.after(() => child.kill('SIGTERM'));
    const good = await run(['load', fixture('data_demo_10000.txt'), '--url', url]);
    assert.equal(good.code, 0, good.stderr);
    assert.match(good.stdout, /loaded 10,000 pairs/);
    assert.match(good.stdout, /rejected 0 lines/);
    const small = await run(['load', fixture('data_demo_small.txt'), '--url', url]);
    assert.match(small.stdout, /loaded 3 pairs/);
    assert.equal((await http(url, 'GET', '/get/foo')).text, '{"foo":"bar"}');
  });

  test('load against nothing fails clearly', async () => {
    const { code, stderr } = await run([
      'load',
      fixture('data_demo_small.txt'),
      '--url',
      'http://127.0.0.1:1',
    ]);
    assert.equal(code, 1);
    assert.match(stderr, /ECONNREFUSED/);
  });
});
