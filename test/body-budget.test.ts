import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Cluster } from '../src/cluster/cluster.js';

import { startServer, type ServerOptions } from '../src/http/server.js';
import { DEFAULT_LIMITS } from '../src/config.js';
import { excerpt, FRONT_ENDS, http, TIMEOUT, until } from './helpers.js';
import { RawClient } from './raw-http.js';

const MiB = 1024 * 1024;

async function serve(t: { after: (fn: () => Promise<void>) => void }, options: Partial<ServerOptions>) {
  const cluster = await Cluster.start({ nodes: 1 });
  const logged: string[] = [];
  const server = await startServer({
    cluster,
    limits: { ...DEFAULT_LIMITS, maxValueBytes: MiB, maxBodyBytes: MiB },
    host: '127.0.0.1',
    port: 0,
    log: (line) => logged.push(line),
    ...options,
  });
  t.after(async () => {
    await server.close(100);
    await cluster.close();
  });
  return { cluster, server, url: `http://127.0.0.1:${server.port}`, logged };
}

/** Starts a PUT of a 1 MiB value and sends all but its last `missing` bytes. */
async function stalledPut(port: number, key: string, missing: number): Promise<RawClient> {
  const client = await RawClient.open(port);
  client.write(`PUT /kv/${key} HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${MiB}\r\n\r\n`);
  client.write(Buffer.alloc(MiB - missing, 'a'));
  return client;
}

for (const frontEnd of FRONT_ENDS)
  describe(`on ${frontEnd}`, () => {
    test(
      'bodies read whole share one budget: past it 503 BODY_BUDGET_EXCEEDED, and a client that leaves gives its share back',
      TIMEOUT,
      async (t) => {
        const { server, url, cluster } = await serve(t, { http: frontEnd, maxBufferedBodyBytes: 2 * MiB });
        // One after another, each read by the server before the next is sent: two hold ~1 MiB
        // each, and the third finds the budget spent.
        const first = await stalledPut(server.port, 'one', 1);
        t.after(() => first.destroy());
        await until(() => first.serverHasRead(), t.signal);
        const second = await stalledPut(server.port, 'two', 1);
        t.after(() => second.destroy());
        await until(() => second.serverHasRead(), t.signal);

        const third = await stalledPut(server.port, 'three', 1);
        t.after(() => third.destroy());
        const [refused] = await third.responses(1);
        assert.equal(refused?.status, 503, excerpt(third.data));
        assert.match(refused.body, /"code":"BODY_BUDGET_EXCEEDED"/);

        first.destroy();
        await until(() => first.serverHasClosed(), t.signal);
        const fits = await http(url, 'PUT', '/kv/four', Buffer.alloc(MiB, 'b'));
        assert.equal(fits.status, 204, excerpt(fits.text));
        second.write('z');
        const [stored] = await second.responses(1);
        assert.equal(stored?.status, 204, `closed: ${second.closed} ${excerpt(second.data)}`);
        assert.equal((await cluster.get('two'))?.length, MiB);
        assert.equal(await cluster.get('one'), undefined);
        assert.equal(await cluster.get('three'), undefined);
      },
    );

    test(
      'maxBufferedBodyBytes below the largest body is refused with a RangeError naming it',
      TIMEOUT,
      async () => {
        const cluster = await Cluster.start({ nodes: 1 });
        try {
          await assert.rejects(
            startServer({
              http: frontEnd,
              cluster,
              limits: DEFAULT_LIMITS,
              port: 0,
              maxBufferedBodyBytes: MiB,
            }),
            (err: Error) => err instanceof RangeError && /maxBufferedBodyBytes/.test(err.message),
          );
        } finally {
          await cluster.close();
        }
      },
    );

    test(
      'a batch cut off mid-body (client gone, or uWS upload timeout) is logged with its written count',
      TIMEOUT,
      async (t) => {
        const { server, logged } = await serve(t, { http: frontEnd });
        const client = await RawClient.open(server.port);
        client.write(
          'POST /kv HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n',
        );
        const lines = Array.from({ length: 300 }, (_, i) => `cut${i} v\n`).join('');
        client.write(`${Buffer.byteLength(lines).toString(16)}\r\n${lines}\r\n`);
        await until(() => client.serverHasRead(), t.signal);
        client.destroy();
        // Logged once the pairs sent are acknowledged, after the server saw the close.
        await until(() => logged.length > 0, t.signal);
        assert.equal(logged.length, 1);
        assert.match(logged[0]!, /POST \/kv: .*300 pairs were written/);
      },
    );
  });
