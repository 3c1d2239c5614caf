import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { codeOf, http, startRunning } from './helpers.js';
import { RawClient } from './raw-http.js';

/** Sends one request on an open socket and resolves with the raw answer's head and body. */
function exchange(socket: Socket, request: string): Promise<string> {
  return new Promise((resolve) => {
    let data = '';
    const onData = (d: Buffer) => {
      data += d;
      const end = data.indexOf('\r\n\r\n');
      const length = /content-length: (\d+)/i.exec(data);
      if (end >= 0 && length && data.length >= end + 4 + Number(length[1])) {
        socket.off('data', onData);
        resolve(data);
      }
    };
    socket.on('data', onData);
    socket.write(request);
  });
}

test('close() lets a batch in flight finish, then refuses new requests on open connections with 503 SHUTTING_DOWN', async (t) => {
  const run = await startRunning({ nodes: 2 });
  t.after(() => run.stop());
  const socket = connect(run.server.port, '127.0.0.1');
  t.after(() => socket.destroy());
  await new Promise((r) => socket.once('connect', r));
  assert.match(await exchange(socket, 'GET /ping HTTP/1.1\r\nHost: localhost\r\n\r\n'), /^HTTP\/1\.1 200/);

  const lines = Array.from({ length: 100_000 }, (_, i) => `drain:${i} v`).join('\n');
  const batch = http(run.url, 'POST', '/kv', lines, { 'Content-Type': 'text/plain' });
  // Wait until the batch is being written, so it is in flight when draining begins.
  while (run.cluster.pending === 0) await new Promise((r) => setImmediate(r));
  const closed = run.server.close(5000);

  const refused = await exchange(socket, 'GET /kv/drain:1 HTTP/1.1\r\nHost: localhost\r\n\r\n');
  assert.match(refused, /^HTTP\/1\.1 503/);
  assert.match(refused, /"code":"SHUTTING_DOWN"/);
  const answer = await batch;
  await closed;
  assert.equal(answer.status, 200, answer.text);
  assert.deepEqual(answer.json, { written: 100_000 });
  assert.equal(codeOf(answer), undefined);
  assert.equal((await run.cluster.get('drain:99999'))?.toString('latin1'), 'v');
});

test('close() waits for a client still downloading an answer, and resolves once its last byte left', async (t) => {
  const run = await startRunning({ nodes: 1, limits: { maxValueBytes: 32 * 1024 * 1024 } });
  t.after(() => run.stop());
  const value = 'v'.repeat(24 * 1024 * 1024);
  await run.cluster.put('big', value);
  const client = await RawClient.open(run.server.port);
  t.after(() => client.destroy());
  client.socket.pause(); // a slow reader: the answer waits in the server for its window
  client.write('GET /kv/big HTTP/1.1\r\nHost: localhost\r\n\r\n');
  while (run.server.port && run.cluster.pending > 0) await new Promise((r) => setImmediate(r));
  await new Promise((r) => setTimeout(r, 100));

  let closed = false;
  const closing = run.server.close(5000).then(() => (closed = true));
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(closed, false, 'close() resolved while the answer was still being sent');
  client.socket.resume();
  const [answer] = await client.responses(1);
  await closing;
  assert.equal(answer?.status, 200);
  assert.equal(answer.body.length, value.length);
});

test('close() resolves at once when every request has been answered', async (t) => {
  const run = await startRunning({ nodes: 2 });
  t.after(() => run.stop());
  assert.equal((await http(run.url, 'PUT', '/kv/a', '1')).status, 204);
  assert.equal((await http(run.url, 'GET', '/kv/a')).status, 200);
  assert.equal((await http(run.url, 'GET', '/kv/nope')).status, 404);
  assert.equal((await http(run.url, 'POST', '/kv/_mget', '{"keys":["a"]}')).status, 200);
  assert.equal((await http(run.url, 'POST', '/kv', 'b 2', { 'Content-Type': 'text/plain' })).status, 200);
  assert.equal((await http(run.url, 'POST', '/put', '{"c":"3"}')).status, 200);
  const started = performance.now();
  await run.server.close(5000);
  assert.ok(performance.now() - started < 1000, `close() took ${performance.now() - started} ms`);
});

test('a batch still streaming when the grace period ends is answered 503 SHUTTING_DOWN with its written count', async (t) => {
  const run = await startRunning({ nodes: 2 });
  t.after(() => run.stop());
  const client = await RawClient.open(run.server.port);
  t.after(() => client.destroy());
  client.write(
    'POST /kv HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n',
  );
  const lines = Array.from({ length: 500 }, (_, i) => `s${i} v\n`).join('');
  client.write(`${Buffer.byteLength(lines).toString(16)}\r\n${lines}\r\n`);
  while ((await run.cluster.get('s499')) === undefined) await new Promise((r) => setTimeout(r, 10));

  const started = performance.now();
  await run.server.close(200);
  const [answer] = await client.responses(1);
  assert.ok(performance.now() - started < 2000);
  assert.equal(answer?.status, 503, client.data.toString());
  const error = (JSON.parse(answer.body) as { error: { code: string; written: number } }).error;
  assert.equal(error.code, 'SHUTTING_DOWN');
  assert.equal(error.written, 500);
});

test('a reply that arrives after its client left is dropped, and the server goes on', async (t) => {
  const run = await startRunning({ nodes: 1 });
  t.after(() => run.stop());
  // Keep the node busy, so the GETs below are answered well after their clients left.
  const lines = Array.from({ length: 200_000 }, (_, i) => `busy${i} v`).join('\n');
  const batch = http(run.url, 'POST', '/kv', lines, { 'Content-Type': 'text/plain' });
  while (run.cluster.pending === 0) await new Promise((r) => setImmediate(r));
  const gone = await Promise.all(
    Array.from({ length: 20 }, async () => {
      const client = await RawClient.open(run.server.port);
      client.write('GET /kv/busy1 HTTP/1.1\r\nHost: localhost\r\n\r\n');
      return client;
    }),
  );
  await new Promise((r) => setTimeout(r, 20));
  for (const client of gone) client.destroy();
  assert.equal((await batch).status, 200);
  assert.equal((await http(run.url, 'GET', '/kv/busy1')).status, 200);
});
