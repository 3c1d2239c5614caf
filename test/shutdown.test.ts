import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { codeOf, http, startRunning } from './helpers.js';

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
