import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';

import { once } from 'node:events';

import { createServer } from 'node:net';

import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { startServer } from '../src/http/server.js';
import { DEFAULT_LIMITS } from '../src/config.js';
import { CHILD_TIMEOUT_MS, FRONT_ENDS, http, startRunning, TIMEOUT } from './helpers.js';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));

for (const frontEnd of FRONT_ENDS)
  describe(`on ${frontEnd}`, () => {
    test(
      'startServer() on a port another ThunderDB listens on fails, instead of sharing it',
      TIMEOUT,
      async (t) => {
        const run = await startRunning({ http: frontEnd, nodes: 1 });
        t.after(() => run.stop());
        const port = run.server.port;
        // Without an exclusive bind uWS sets SO_REUSEPORT, this "succeeds", and the kernel
        // splits new connections between the two servers.
        const second = startServer({
          http: frontEnd,
          cluster: run.cluster,
          limits: DEFAULT_LIMITS,
          host: '127.0.0.1',
          port,
        });
        second.then((s) => s.close(0)).catch(() => {});
        await assert.rejects(second, {
          message: `cannot listen on 127.0.0.1:${port}: port ${port} is already in use on 127.0.0.1 (another ThunderDB, or another program); stop it or pick another --port`,
        });
        assert.equal((await http(run.url, 'GET', '/ping')).status, 200, 'the first server is untouched');
      },
    );

    test('startServer() on a port a plain Node server holds says the port is in use', TIMEOUT, async (t) => {
      const other = createServer();
      other.listen(0, '127.0.0.1');
      await once(other, 'listening');
      t.after(() => other.close());
      const { port } = other.address() as { port: number };
      const run = await startRunning({ http: frontEnd, nodes: 1 });
      t.after(() => run.stop());
      await assert.rejects(
        startServer({
          http: frontEnd,
          cluster: run.cluster,
          limits: DEFAULT_LIMITS,
          host: '127.0.0.1',
          port,
        }),
        /port \d+ is already in use on 127\.0\.0\.1/,
      );
    });

    test('thunderdb cluster on a taken port exits 1 with one line saying so', TIMEOUT, async (t) => {
      const run = await startRunning({ http: frontEnd, nodes: 1 });
      t.after(() => run.stop());
      const port = String(run.server.port);
      const child = spawn(
        process.execPath,
        [CLI, 'cluster', '--nodes', '1', '--port', port, '--http', frontEnd],
        {
          timeout: CHILD_TIMEOUT_MS,
        },
      );
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d));
      child.stderr.on('data', (d: Buffer) => (out += d));
      const [code] = (await once(child, 'exit')) as [number | null];
      assert.equal(code, 1, out);
      assert.equal(
        out,
        `thunderdb: cannot listen on 127.0.0.1:${port}: port ${port} is already in use on 127.0.0.1 (another ThunderDB, or another program); stop it or pick another --port\n`,
      );
    });
  });
