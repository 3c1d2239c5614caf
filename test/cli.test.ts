import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import {
  CHILD_TIMEOUT_MS,
  closedPort,
  fixture,
  http,
  LONG_TIMEOUT,
  startCli,
  startRunning,
  TIMEOUT,
} from './helpers.js';
import { pairOfLine, writeLoadFile } from './load-fixtures.js';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));

/** Runs the CLI to its end. */
async function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { timeout: CHILD_TIMEOUT_MS });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d));
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

describe('thunderdb CLI', () => {
  /** The options `thunderdb COMMAND --help` lists, and those the README's table for it lists. */
  async function documentedOptions(command: string, tableStart: string, tableEnd: string) {
    const { code, stdout } = await run([command, '--help']);
    assert.equal(code, 0);
    // yargs shows a one-letter option as -r; it takes --r as well, as the README writes it.
    const inHelp = new Set(
      [...stdout.matchAll(/^\s+(?:-\w, )?(--[a-z-]+|-[a-z])\s/gm)].map((m) =>
        m[1]!.replace(/^-(?=\w$)/, '--'),
      ),
    );
    inHelp.delete('--help');
    inHelp.delete('--version');
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    const table = readme.slice(readme.indexOf(tableStart), readme.indexOf(tableEnd));
    const inReadme = new Set(
      [...table.matchAll(/^\| `(--[a-z-]+)[^`]*`(?:, `(--[a-z-]+)`)?/gm)].flatMap((m) =>
        m.slice(1).filter(Boolean),
      ),
    );
    return { stdout, inHelp: [...inHelp].sort(), inReadme: [...inReadme].sort() };
  }

  test('--help and the README document the same cluster options, --help with defaults', TIMEOUT, async () => {
    const { stdout, inHelp, inReadme } = await documentedOptions(
      'cluster',
      'Options of `cluster`',
      '`thunderdb load FILE',
    );
    assert.deepEqual(inHelp, inReadme);
    assert.ok(inHelp.length >= 15, `${inHelp.length} options`);
    assert.match(stdout, /default: 3\]/);
    assert.match(stdout, /default: 8080\]/);
  });

  test('--help and the README document the same check options', TIMEOUT, async () => {
    const { stdout, inHelp, inReadme } = await documentedOptions(
      'check',
      'Options of `check`',
      'CI runs `npm run check',
    );
    assert.deepEqual(inHelp, inReadme);
    assert.ok(inHelp.length >= 15, `${inHelp.length} options`);
    assert.match(stdout, /default: "crash,partition,latency,loss,pause"\]/);
  });

  test('bad options fail with a message naming them, exit code not 0', LONG_TIMEOUT, async () => {
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
    assert.match((await run(['cluster', '--storage', 'log'])).stderr, /--storage log needs --data-dir DIR/);
    assert.match((await run(['cluster', '--fsync', 'always'])).stderr, /--fsync goes with --storage log/);
    assert.match(
      (await run(['cluster', '--storage', 'redis', '--data-dir', '/tmp', '--redis-url', 'redis://x'])).stderr,
      /--data-dir goes with --storage log/,
    );
    assert.match(
      (await run(['cluster', '--storage', 'log', '--data-dir', '/tmp/x', '--redis-prefix', 'p'])).stderr,
      /--redis-prefix goes with --storage redis/,
    );
    assert.match(
      (await run(['cluster', '--storage', 'redis'])).stderr,
      /--storage redis needs one of --redis-url URL or --redis-cluster HOST:PORT/,
    );
    assert.match(
      (await run(['cluster', '--storage', 'redis', '--redis-cluster', '127.0.0.1'])).stderr,
      /--redis-cluster takes host:port,host:port…, got "127.0.0.1"/,
    );
    assert.match(
      (await run(['cluster', '--storage', 'redis', '--redis-url', 'redis://x', '--redis-prefix', 'a{b}']))
        .stderr,
      /--redis-prefix takes 1 to 100 printable characters without spaces or braces, got "a\{b\}"/,
    );
    assert.match(
      (await run(['cluster', '--storage', 'memcached', '--data-dir', '/tmp/x'])).stderr,
      /--storage memcached needs --memcached HOST:PORT,…/,
    );
    assert.match(
      (await run(['cluster', '--storage', 'memcached', '--memcached', '127.0.0.1:1'])).stderr,
      /--storage memcached needs --data-dir DIR, where each node logs its records/,
    );
    assert.match(
      (await run(['cluster', '--storage', 'memcached', '--memcached', 'localhost', '--data-dir', '/tmp/x']))
        .stderr,
      /--memcached takes host:port,host:port…, got "localhost"/,
    );
    assert.match(
      (await run(['cluster', '--storage', 'log', '--data-dir', '/tmp/x', '--memcached', '127.0.0.1:1']))
        .stderr,
      /--memcached goes with --storage memcached/,
    );
    const noMemcached = await run([
      'cluster',
      '--storage',
      'memcached',
      '--memcached',
      '127.0.0.1:1',
      '--data-dir',
      '/tmp/x',
    ]);
    assert.match(noMemcached.stderr, /cannot reach memcached at 127\.0\.0\.1:1/);
    const unreachable = await run(['cluster', '--storage', 'redis', '--redis-url', 'redis://127.0.0.1:1']);
    assert.notEqual(unreachable.code, 0);
    assert.match(unreachable.stderr, /cannot reach Redis at redis:\/\/127\.0\.0\.1:1/);
  });

  test(
    'cluster --load loads the sample file, serves it, and SIGTERM stops it with exit 0',
    TIMEOUT,
    async () => {
      const { child, url, out } = await startCli(['--nodes', '2', '--load', fixture('data_demo_10000.txt')]);
      try {
        assert.match(out(), /loaded 10,000 pairs/);
        assert.match(out(), /with 2 nodes \(replicas 2, r 2, w 2, seed \d+\); press Ctrl-C to stop/);
        const got = await http(url, 'GET', '/kv/d6b250e3-9480-4ed5-a4b7-5d8b28bc75da');
        assert.equal(got.text, 'e8c12114-674b-4f75-a753-c2e1c33ad4bd');
      } finally {
        child.kill('SIGTERM');
      }
      const [code] = (await once(child, 'exit')) as [number | null];
      assert.equal(code, 0);
      assert.match(out(), /SIGTERM: finishing requests in flight/);
    },
  );

  test(
    'load streams a file into a running cluster and reports loaded and rejected lines',
    TIMEOUT,
    async (t) => {
      const { child, url } = await startCli(['--nodes', '3']);
      t.after(() => child.kill('SIGTERM'));
      const good = await run(['load', fixture('data_demo_10000.txt'), '--url', url]);
      assert.equal(good.code, 0, good.stderr);
      assert.match(good.stdout, /loaded 10,000 pairs/);
      assert.match(good.stdout, /rejected 0 lines/);
      const small = await run(['load', fixture('data_demo_small.txt'), '--url', url]);
      assert.match(small.stdout, /loaded 3 pairs/);
      assert.equal((await http(url, 'GET', '/get/foo')).text, '{"foo":"bar"}');
    },
  );

  test('load against nothing fails as every client verb does: one line, exit 3', TIMEOUT, async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const { code, stdout, stderr } = await run(['load', fixture('data_demo_small.txt'), '--url', url]);
    assert.deepEqual([code, stdout], [3, '']);
    // Its last line; a progress line may come first on a slow machine (a line a second).
    assert.equal(
      stderr.split('\n').at(-2),
      `thunderdb: cannot reach ${url} (connection refused); is the cluster running? start one with: npm run cluster`,
    );
    assert.doesNotMatch(stderr, /ECONNREFUSED|at .*\.js:\d+/, 'no raw error, no stack');
  });
  test('load of a directory fails with one line saying so, no stack trace', TIMEOUT, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'thunderdb-'));
    const { code, stdout, stderr } = await run(['load', dir, '--url', 'http://127.0.0.1:1']);
    assert.equal(code, 2, 'bad input, as for import');
    assert.equal(stdout, '');
    assert.equal(
      stderr,
      `thunderdb: cannot load ${dir}: it is a directory; give a file of "key value" lines\n`,
    );
  });

  test(
    'Ctrl-C during load ends the upload after a whole line and prints what the server stored',
    TIMEOUT,
    async (t) => {
      const { child: cluster, url } = await startCli(['--nodes', '2']);
      t.after(() => cluster.kill('SIGTERM'));
      const file = await writeLoadFile(200_000); // about 20 MB
      t.after(() => file.remove());
      const load = spawn(process.execPath, [CLI, 'load', file.path, '--url', url], {
        timeout: CHILD_TIMEOUT_MS,
      });
      let stdout = '';
      load.stdout.on('data', (d: Buffer) => (stdout += d));
      // The first progress line comes as the first chunk is read: interrupt then.
      load.stderr.once('data', () => load.kill('SIGINT'));
      const [code] = (await once(load, 'exit')) as [number | null];
      assert.equal(code, 130, stdout);
      const match =
        /^interrupted: stored ([\d,]+) pairs from .* from lines 1 to ([\d,]+); nothing after line \2 was sent/.exec(
          stdout,
        );
      assert.ok(match, stdout);
      const stored = Number(match[1]!.replaceAll(',', ''));
      const last = Number(match[2]!.replaceAll(',', ''));
      assert.ok(last > 0 && last < 200_000, `stopped after line ${last}`);
      assert.equal(stored, last, 'every line sent was stored');
      const [key, value] = pairOfLine(last);
      assert.equal((await http(url, 'GET', `/kv/${key}`)).text, value);
      assert.equal((await http(url, 'GET', `/kv/${pairOfLine(last + 1)[0]}`)).status, 404);
      const nodes = (await http(url, 'GET', '/cluster')).json as { nodes: { keys: number }[] };
      // Two nodes hold two replicas of every pair.
      assert.equal(
        nodes.nodes.reduce((sum, n) => sum + n.keys, 0),
        2 * stored,
      );
    },
  );

  test(
    'Ctrl-C during cluster --load prints what was stored and exits 130 without serving',
    TIMEOUT,
    async () => {
      const file = await writeLoadFile(200_000);
      try {
        const child = spawn(
          process.execPath,
          [CLI, 'cluster', '--port', '0', '--nodes', '1', '--load', file.path],
          { timeout: CHILD_TIMEOUT_MS },
        );
        let stdout = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d));
        child.stderr.once('data', () => child.kill('SIGINT'));
        const [code] = (await once(child, 'exit')) as [number | null];
        assert.equal(code, 130, stdout);
        assert.match(stdout, /^interrupted: stored ([\d,]+) pairs from .* from lines 1 to \1; /);
        assert.doesNotMatch(stdout, /listening/);
      } finally {
        await file.remove();
      }
    },
  );

  test('--host ::1 prints a URL with the address in brackets, and it answers', TIMEOUT, async (t) => {
    const probe = createServer();
    const ipv6 = await new Promise<boolean>((resolve) => {
      probe.once('error', () => resolve(false));
      probe.listen(0, '::1', () => probe.close(() => resolve(true)));
    });
    if (!ipv6) return t.skip('no IPv6 loopback on this machine');
    const { child, url } = await startCli(['--nodes', '1', '--host', '::1']);
    t.after(() => child.kill('SIGTERM'));
    assert.match(url, /^http:\/\/\[::1\]:\d+$/);
    const answer = await fetch(`${url}/ping`);
    assert.equal(answer.status, 200);
    assert.deepEqual(await answer.json(), { service: 'node', status: 'OK' });
  });

  test('--nodes above the bound fails at once, saying the bound and why', TIMEOUT, async () => {
    const { code, stderr } = await run(['cluster', '--port', '0', '--nodes', '1000']);
    assert.equal(code, 1);
    // The message alone: past 32 nodes the CLI says it is starting them before it starts one.
    assert.equal(
      stderr,
      'thunderdb: nodes must be an integer from 1 to 128, got 1000: each node is a worker thread costing about 9 MB of memory and 30 ms to start, so 128 nodes take about 1.2 GB and 1000 would take about 9.0 GB\n',
    );
  });

  test('a cluster of many nodes says it is starting them before it listens', TIMEOUT, async (t) => {
    const { child, out } = await startCli(['--nodes', '33']);
    t.after(() => child.kill('SIGTERM'));
    assert.match(out(), /^starting 33 node threads \(about 0\.3 GB, 1 s\)\n/);
  });
  test(
    'load on a real 80-column terminal redraws its bar in place, within 79 columns',
    TIMEOUT,
    async (t) => {
      if (spawnSync('script', ['--version']).status !== 0) return t.skip('no script(1) to make a terminal');
      const { child: cluster, url } = await startCli(['--nodes', '1']);
      t.after(() => cluster.kill('SIGTERM'));
      const file = await writeLoadFile(100_000); // about 10 MB: several redraws
      t.after(() => file.remove());
      const command = `stty cols 80 rows 24; exec '${process.execPath}' '${CLI}' load '${file.path}' --url ${url}`;
      // script(1) runs the command on a pseudo-terminal, so stderr is a TTY with 80 columns.
      const child = spawn('script', ['-qec', command, '/dev/null'], { timeout: CHILD_TIMEOUT_MS });
      child.stdin.end();
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d));
      const [code] = (await once(child, 'exit')) as [number | null];
      assert.equal(code, 0, out);
      const draws = out.split(/\r\n|\r|\n/).map((s) => s.replaceAll('\x1b[K', ''));
      const bars = draws.filter((d) => d.includes('%'));
      assert.ok(bars.length >= 2, out);
      for (const draw of bars) assert.ok(draw.length <= 79, `${draw.length} columns: ${draw}`);
      assert.match(out, /loaded 100,000 pairs/);
    },
  );

  test(
    'fault add, list and heal drive a running cluster; a bad fault prints the server error and exits 2',
    TIMEOUT,
    async (t) => {
      const cluster = await startRunning({ nodes: 3 });
      t.after(() => cluster.stop());
      const url = ['--url', cluster.url];
      const added = await run([
        'fault',
        'add',
        'latency',
        '--ms',
        '5',
        '--nodes',
        '1,2',
        '--distribution',
        'exponential',
        ...url,
      ]);
      assert.equal(added.code, 0, added.stderr);
      assert.deepEqual(JSON.parse(added.stdout), {
        type: 'latency',
        nodes: [1, 2],
        ms: 5,
        jitterMs: 0,
        distribution: 'exponential',
        id: 1,
      });
      await run(['fault', 'add', 'pause', '--nodes', '0', '--ms', '60000', ...url]);
      await run(['fault', 'add', 'loss', '--probability', '0.07', ...url]);
      // A table, as nodes prints one; --json gives the server's answer.
      const listed = await run(['fault', 'list', ...url]);
      assert.equal(
        listed.stdout,
        [
          'ID  TYPE     NODES  EFFECT',
          '1   latency  1,2    5 ms each way',
          '3   loss     all    7% of messages dropped',
          '2   pause    0      paused for 60000 ms',
          '',
        ].join('\n'),
      );
      const json = await run(['fault', 'list', '--json', ...url]);
      assert.deepEqual(
        (JSON.parse(json.stdout) as { faults: { id: number }[] }).faults.map((f) => f.id),
        [1, 3, 2],
      );
      assert.deepEqual(
        cluster.cluster.faults().map((f) => f.type),
        ['latency', 'loss', 'pause'],
      );
      const bad = await run(['fault', 'add', 'meteor', ...url]);
      assert.equal(bad.code, 2);
      assert.equal(
        bad.stderr,
        'thunderdb: BAD_REQUEST: "type" must be one of partition, latency, loss, duplicate or pause, got "meteor"\n',
      );
      const healed = await run(['fault', 'heal', ...url]);
      assert.deepEqual(JSON.parse(healed.stdout), { healed: 2 });
      assert.deepEqual(
        cluster.cluster.faults().map((f) => f.type),
        ['pause'],
        'a pause runs its course',
      );
    },
  );
});
