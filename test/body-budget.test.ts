import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Cluster } from '../src/cluster/cluster.js';
import { startServer, type ServerOptions } from '../src/http/server.js';
import { DEFAULT_LIMITS } from '../src/limits.js';
import { http } from './helpers.js';
import { parseResponses, RawClient } from './raw-http.js';

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

test('bodies read whole share one budget: past it 503 BODY_BUDGET_EXCEEDED, and a client that leaves gives its share back', async (t) => {
  const { server, url, cluster } = await serve(t, { maxBufferedBodyBytes: 2 * MiB });
  const first = await stalledPut(server.port, 'one', 1);
  const second = await stalledPut(server.port, 'two', 1);
  t.after(() => first.destroy());
  t.after(() => second.destroy());
  await new Promise((r) => setTimeout(r, 300)); // both have ~1 MiB held in the server now

  const third = await stalledPut(server.port, 'three', 1);
  t.after(() => third.destroy());
  await third.until(() => third.closed || parseResponses(third.data).responses.length > 0);
  const [refused] = parseResponses(third.data).responses;
  assert.equal(refused?.status, 503, third.data.toString());
  assert.match(refused.body, /"code":"BODY_BUDGET_EXCEEDED"/);

  first.destroy();
  await new Promise((r) => setTimeout(r, 100));
  const fits = await http(url, 'PUT', '/kv/four', Buffer.alloc(MiB, 'b'));
  assert.equal(fits.status, 204, fits.text);
  second.write('z');
  assert.equal((await second.responses(1))[0]?.status, 204);
  assert.equal((await cluster.get('two'))?.length, MiB);
  assert.equal(await cluster.get('one'), undefined);
  assert.equal(await cluster.get('three'), undefined);
});

test('maxBufferedBodyBytes below the largest body is refused with a RangeError naming it', async () => {
  const cluster = await Cluster.start({ nodes: 1 });
  try {
    await assert.rejects(
      startServer({ cluster, limits: DEFAULT_LIMITS, port: 0, maxBufferedBodyBytes: MiB }),
      (err: Error) => err instanceof RangeError && /maxBufferedBodyBytes/.test(err.message),
    );
  } finally {
    await cluster.close();
  }
});

test('a batch cut off mid-body (client gone, or uWS upload timeout) is logged with its written count', async (t) => {
  const { server, logged, cluster } = await serve(t, {});
  const client = await RawClient.open(server.port);
  client.write(
    'POST /kv HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n',
  );
  const lines = Array.from({ length: 300 }, (_, i) => `cut${i} v\n`).join('');
  client.write(`${Buffer.byteLength(lines).toString(16)}\r\n${lines}\r\n`);
  while ((await cluster.get('cut299')) === undefined) await new Promise((r) => setTimeout(r, 10));
  client.destroy();
  const deadline = Date.now() + 2000;
  while (logged.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.equal(logged.length, 1);
  assert.match(logged[0]!, /POST \/kv: .*300 pairs were written/);
});
