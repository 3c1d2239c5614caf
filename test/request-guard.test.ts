import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';

import { once } from 'node:events';

import { connect } from 'node:net';

import { fileURLToPath } from 'node:url';

import { after, before, describe, test, type TestContext } from 'node:test';

import { Cluster } from '../src/cluster/cluster.js';

import { isLoopback, RequestGuard } from '../src/http/request-guard.js';
import type { HttpRequest } from '../src/http/seam.js';

import { startServer, type Server } from '../src/http/server.js';
import { DEFAULT_LIMITS } from '../src/config.js';
import { codeOf, FRONT_ENDS, http, type Running, startRunning, TIMEOUT } from './helpers.js';

/** Issue 6, item 15: a web page must not be able to write, read or delete. */

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const EVIL = 'http://evil.example';

for (const frontEnd of FRONT_ENDS)
  describe(`on ${frontEnd}`, () => {
    describe('cross-origin requests and foreign Host names are refused', () => {
      let run: Running;
      let url: string;
      let port: number;
      before(async () => {
        run = await startRunning({ http: frontEnd, nodes: 2 });
        url = run.url;
        port = run.server.port;
        await http(url, 'PUT', '/kv/victim', 'precious');
      }, TIMEOUT);
      after(() => run.stop(), TIMEOUT);

      const snapshot = async () => (await http(url, 'GET', '/snapshot')).text;

      test(
        'a POST text/plain, PUT or DELETE with Origin: http://evil.example is 403 and changes nothing',
        TIMEOUT,
        async () => {
          const before = await snapshot();
          const attempts: [string, string, string?][] = [
            ['POST', '/kv', 'evil:1 written'],
            ['POST', '/put', '{"evil:2":"written"}'],
            ['PUT', '/kv/victim', 'overwritten'],
            ['DELETE', '/kv/victim'],
          ];
          for (const [method, path, body] of attempts) {
            const answer = await http(url, method, path, body, {
              Origin: EVIL,
              'Content-Type': 'text/plain',
            });
            assert.equal(answer.status, 403, `${method} ${path}`);
            assert.equal(codeOf(answer), 'FORBIDDEN_ORIGIN', `${method} ${path}`);
          }
          assert.equal(await snapshot(), before);
          assert.equal((await http(url, 'GET', '/kv/victim')).text, 'precious');
        },
      );

      test(
        'reads from another origin are refused too, with or without Origin (an <img> sends Sec-Fetch-Site)',
        TIMEOUT,
        async () => {
          const withOrigin = await http(url, 'GET', '/kv/victim', undefined, { Origin: EVIL });
          assert.equal(codeOf(withOrigin), 'FORBIDDEN_ORIGIN');
          const postMget = await http(url, 'POST', '/kv/_mget', '{"keys":["victim"]}', { Origin: 'null' });
          assert.equal(codeOf(postMget), 'FORBIDDEN_ORIGIN');
          for (const site of ['cross-site', 'same-site']) {
            const img = await http(url, 'GET', '/snapshot', undefined, { 'Sec-Fetch-Site': site });
            assert.equal(img.status, 403, site);
            assert.equal(codeOf(img), 'FORBIDDEN_ORIGIN', site);
          }
          // Another port on the same host is another origin.
          const sibling = await http(url, 'GET', '/kv/victim', undefined, {
            Origin: `http://127.0.0.1:${port + 1}`,
          });
          assert.equal(codeOf(sibling), 'FORBIDDEN_ORIGIN');
        },
      );

      test(
        'same-origin requests (a page served by this server) and curl-style requests work',
        TIMEOUT,
        async () => {
          const same = { Origin: `http://127.0.0.1:${port}`, 'Sec-Fetch-Site': 'same-origin' };
          assert.equal((await http(url, 'PUT', '/kv/same:1', 'a', same)).status, 204);
          // An older browser without Sec-Fetch-*: Origin alone, matching Host.
          assert.equal(
            (await http(url, 'PUT', '/kv/same:2', 'b', { Origin: `http://127.0.0.1:${port}` })).status,
            204,
          );
          assert.equal((await http(url, 'GET', '/kv/same:1', undefined, same)).text, 'a');
          // A typed URL or bookmark: Sec-Fetch-Site none, no Origin.
          assert.equal(
            (await http(url, 'GET', '/kv/same:2', undefined, { 'Sec-Fetch-Site': 'none' })).text,
            'b',
          );
          assert.equal((await http(url, 'GET', '/kv/same:2')).text, 'b');
        },
      );

      test(
        'Host: evil.example:8080 is 403 FORBIDDEN_HOST on a loopback server; IPs and localhost pass',
        TIMEOUT,
        async () => {
          for (const host of ['evil.example:8080', 'evil.example', 'localhost.evil.example', 'x']) {
            const answer = await http(url, 'PUT', '/kv/victim', 'rebound', { Host: host });
            assert.equal(answer.status, 403, host);
            assert.equal(codeOf(answer), 'FORBIDDEN_HOST', host);
          }
          // DNS rebinding: the page's own origin, under its own name.
          const rebound = await http(url, 'GET', '/kv/victim', undefined, {
            Host: `evil.example:${port}`,
            Origin: `http://evil.example:${port}`,
            'Sec-Fetch-Site': 'same-origin',
          });
          assert.equal(codeOf(rebound), 'FORBIDDEN_HOST');
          // An empty Host (node:http would fill it in, so written by hand).
          const empty = await new Promise<string>((resolve, reject) => {
            const socket = connect(port, '127.0.0.1', () =>
              socket.write('DELETE /kv/victim HTTP/1.1\r\nHost:\r\nConnection: close\r\n\r\n'),
            );
            let answer = '';
            socket.on('data', (d: Buffer) => (answer += d));
            socket.on('close', () => resolve(answer));
            socket.on('error', reject);
          });
          assert.match(empty, /^HTTP\/1\.1 403 .*FORBIDDEN_HOST/s);
          assert.equal((await http(url, 'GET', '/kv/victim')).text, 'precious');
          for (const host of [
            `localhost:${port}`,
            `LOCALHOST:${port}`,
            'app.localhost',
            `[::1]:${port}`,
            '10.0.0.5',
          ]) {
            assert.equal((await http(url, 'GET', '/kv/victim', undefined, { Host: host })).status, 200, host);
          }
        },
      );
    });

    describe('--allow-host and --allow-origin widen what is accepted', () => {
      let cluster: Cluster;
      let server: Server;
      let url: string;
      before(async () => {
        cluster = await Cluster.start({ nodes: 1 });
        server = await startServer({
          http: frontEnd,
          cluster,
          limits: DEFAULT_LIMITS,
          host: '127.0.0.1',
          port: 0,
          allowHosts: ['db.internal'],
          allowOrigins: ['http://dashboard.internal:3000'],
        });
        url = `http://127.0.0.1:${server.port}`;
      }, TIMEOUT);
      after(async () => {
        await server.close(100);
        await cluster.close();
      }, TIMEOUT);

      test('an allowed Host name and an allowed Origin pass; others are still refused', TIMEOUT, async () => {
        assert.equal((await http(url, 'PUT', '/kv/w:1', 'v', { Host: 'DB.internal:1234' })).status, 204);
        assert.equal(
          codeOf(await http(url, 'PUT', '/kv/w:1', 'v', { Host: 'db.internal.evil' })),
          'FORBIDDEN_HOST',
        );
        const allowed = { Origin: 'http://dashboard.internal:3000', 'Sec-Fetch-Site': 'cross-site' };
        assert.equal(
          (await http(url, 'POST', '/kv', 'w:2 v', { ...allowed, 'Content-Type': 'text/plain' })).status,
          200,
        );
        assert.equal(
          codeOf(await http(url, 'DELETE', '/kv/w:1', undefined, { Origin: EVIL })),
          'FORBIDDEN_ORIGIN',
        );
        assert.equal((await http(url, 'GET', '/kv/w:1')).status, 200);
      });

      test('bad allow-list entries are a TypeError naming the option', () => {
        assert.throws(
          () => new RequestGuard({ bindHost: '127.0.0.1', allowHosts: ['http://x'] }),
          /allow-host/,
        );
        assert.throws(
          () => new RequestGuard({ bindHost: '127.0.0.1', allowOrigins: ['evil.example'] }),
          /allow-origin/,
        );
      });
    });

    test('isLoopback() knows the loopback addresses', () => {
      for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1']) {
        assert.equal(isLoopback(host), true, host);
      }
      for (const host of ['0.0.0.0', '::', '192.168.1.2', '10.0.0.1', 'example.com', '128.0.0.1']) {
        assert.equal(isLoopback(host), false, host);
      }
    });

    /** Starts `thunderdb cluster` with extra args; resolves with its stderr and stdout up to the listening line. */
    async function startupOutput(
      t: TestContext,
      args: string[],
    ): Promise<{ stdout: string; stderr: string }> {
      const child = spawn(process.execPath, [CLI, 'cluster', '--port', '0', '--nodes', '1', ...args]);
      // Killed however the test ends: a start-up that never listens fails at the test's timeout.
      t.after(() => child.kill('SIGKILL'));
      let stdout = '';
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d));
      try {
        await new Promise<void>((resolve, reject) => {
          child.stdout.on('data', (d: Buffer) => {
            stdout += d;
            if (stdout.includes('listening on')) resolve();
          });
          child.on('exit', (code) => reject(new Error(`cluster exited with ${code}: ${stdout}${stderr}`)));
        });
      } finally {
        child.kill('SIGKILL');
        await once(child, 'close');
      }
      return { stdout, stderr };
    }

    test(
      'start-up warns, on its first line, when --host exposes the API beyond this machine',
      TIMEOUT,
      async (t) => {
        const exposed = await startupOutput(t, ['--host', '0.0.0.0']);
        const first = exposed.stderr.split('\n')[0]!;
        assert.match(first, /^warning: --host 0\.0\.0\.0 exposes ThunderDB beyond this machine/);
        assert.match(first, /no authentication/);
        const local = await startupOutput(t, []);
        assert.doesNotMatch(local.stderr, /warning/);
      },
    );
  });

test('each Host header keeps its own verdict when asked again, for more hosts than the guard remembers', () => {
  const guard = new RequestGuard({ bindHost: '127.0.0.1' });
  /** A request carrying only `Host: host`, as the guard reads one. */
  const request = (host: string) =>
    ({
      forEach: (visit: (name: string, value: string) => void) => visit('host', host),
      getQuery: () => undefined,
    }) as unknown as HttpRequest;
  // 100 hosts, more than the guard remembers, allowed and refused in turn, each asked
  // three times in a row (so the second and third find the first's verdict).
  for (let i = 0; i < 100; i++) {
    const host = i % 2 === 0 ? `127.0.0.${i}:8080` : `evil${i}.example:8080`;
    for (let ask = 0; ask < 3; ask++) {
      const refused = guard.check(request(host), []);
      assert.equal(refused?.code ?? null, i % 2 === 0 ? null : 'FORBIDDEN_HOST', `${host}, ask ${ask}`);
    }
  }
});
