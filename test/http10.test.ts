import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { http, startRunning } from './helpers.js';

// uWebSockets.js v20.30 never answers an HTTP/1.0 request (ab, curl --http1.0, nginx's
// default upstream protocol). What it must not do is hold such a client forever: its idle
// timeout releases the connection. This pins that bound, so a change that made the wait
// unbounded would fail here.
test('an HTTP/1.0 client is released within 15 s, and the server goes on', async (t) => {
  const run = await startRunning({ nodes: 1 });
  t.after(() => run.stop());
  const started = performance.now();
  const received = await new Promise<string>((resolve, reject) => {
    const socket = connect(run.server.port, '127.0.0.1', () => socket.write('GET /ping HTTP/1.0\r\n\r\n'));
    let data = '';
    socket.on('data', (d: Buffer) => (data += d));
    socket.on('close', () => resolve(data));
    socket.on('error', reject);
    socket.setTimeout(15_000, () => {
      socket.destroy();
      reject(new Error('the HTTP/1.0 connection was still open after 15 s'));
    });
  });
  const seconds = (performance.now() - started) / 1000;
  assert.ok(seconds < 15, `released after ${seconds.toFixed(1)} s`);
  assert.ok(received === '' || /^HTTP\/1\.1 505/.test(received), `got ${JSON.stringify(received)}`);
  assert.equal((await http(run.url, 'GET', '/ping')).status, 200);
});
