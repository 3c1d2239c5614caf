import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, connect, type Socket } from 'node:net';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { ThunderClient, type WatchEvent } from '../src/client/index.js';
import { CHILD_TIMEOUT_MS, startRunning, TIMEOUT } from './helpers.js';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));

/** A TCP relay in front of `port` whose connections the test can cut. */
async function relay(port: number) {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(port, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const gone = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', gone).on('close', gone);
    upstream.on('error', gone).on('close', gone);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    /** Cuts every connection open now. */
    cut: () => {
      for (const socket of sockets) socket.destroy();
    },
    close: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

test(
  'client.watch resumes by itself after its connection is cut, with no change missed or repeated',
  TIMEOUT,
  async (t) => {
    const run = await startRunning({ nodes: 3 });
    t.after(() => run.stop());
    const proxy = await relay(run.server.port);
    t.after(() => proxy.close());
    const direct = new ThunderClient(run.url);
    const watcher = new ThunderClient(proxy.url);
    const stop = new AbortController();
    const since = run.cluster.feed.through;
    const seen: WatchEvent[] = [];
    const total = 300;
    const watching = (async () => {
      for await (const event of watcher.watch('cw:', { since, signal: stop.signal, maxRetryMs: 50 })) {
        seen.push(event);
        // Cut the connection after every 50 changes: the client must resume on its own.
        if (seen.length % 50 === 0) proxy.cut();
        if (seen.length === total) stop.abort();
      }
    })();
    const versions: number[] = [];
    for (let i = 0; i < total; i++) versions.push((await direct.put(`cw:${i % 17}`, `v${i}`)).version);
    await watching;
    assert.deepEqual(
      seen.map((e) => e.version),
      versions,
      'every write, once, in order',
    );
    assert.equal(new TextDecoder().decode(seen.at(-1)!.value), `v${total - 1}`);
  },
);

test('client.watch: a since older than the cluster keeps throws HISTORY_COMPACTED', TIMEOUT, async (t) => {
  const run = await startRunning({ nodes: 1, watchHistory: 2 });
  t.after(() => run.stop());
  assert.ok(run.cluster.feed.through > 0, 'keeping changes from here');
  const client = new ThunderClient(run.url);
  const first = await client.put('hc:a', '1');
  await client.put('hc:a', '2');
  await client.put('hc:a', '3');
  await assert.rejects(
    async () => {
      await client.watch('hc:', { since: first.version - 1 }).next();
    },
    (err: { code?: string; details?: { oldest?: number } }) =>
      err.code === 'HISTORY_COMPACTED' && err.details?.oldest === first.version,
  );
});

test(
  'thunderdb watch prints each change as a line, and --json one JSON object per line',
  TIMEOUT,
  async (t) => {
    const run = await startRunning({ nodes: 1 });
    t.after(() => run.stop());
    assert.ok(run.cluster.feed.through > 0, 'keeping changes from here');
    const client = new ThunderClient(run.url);
    const { version } = await client.put('cli:a', 'hello');
    await client.delete('cli:a');
    await client.put('cli:b', new Uint8Array([0xff]));
    for (const [json, expected] of [
      [false, [`put cli:a ${version} hello`, /^delete cli:a \d+$/, /^put cli:b \d+ <1 bytes>$/]],
      [true, [{ type: 'put', key: 'cli:a', version, size: 5, value: 'aGVsbG8=' }]],
    ] as const) {
      const args = [
        CLI,
        'watch',
        'cli:',
        '--url',
        run.url,
        '--since',
        String(version - 1),
        ...(json ? ['--json'] : []),
      ];
      const child = spawn(process.execPath, args, { timeout: CHILD_TIMEOUT_MS });
      let out = '';
      child.stdout.setEncoding('utf8');
      const lines = new Promise<string[]>((resolve) => {
        child.stdout.on('data', (chunk: string) => {
          out += chunk;
          const whole = out.split('\n').slice(0, -1);
          if (whole.length >= expected.length) resolve(whole);
        });
      });
      const printed = await lines;
      child.kill('SIGINT');
      const [code] = (await once(child, 'exit')) as [number];
      assert.equal(code, 0, 'Ctrl-C ends a watch cleanly');
      if (json) assert.deepEqual(JSON.parse(printed[0]!), expected[0]);
      else
        expected.forEach((want, i) =>
          typeof want === 'string'
            ? assert.equal(printed[i], want)
            : assert.match(printed[i]!, want as RegExp),
        );
    }
  },
);
