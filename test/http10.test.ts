import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { excerpt, http, startRunning, TIMEOUT } from './helpers.js';

// uWebSockets.js v20.30 never answers an HTTP/1.0 request (ab, curl --http1.0, nginx's
// default upstream protocol). What it must not do is hold such a client forever: its idle
// timeout (about 10 s) releases the connection. This pins that bound: a change that made the
// wait unbounded would hold the connection until the test's timeout fails it.
test('an HTTP/1.0 client is released by the idle timeout, and the server goes on', TIMEOUT, async (t) => {
  const run = await startRunning({ nodes: 1 });
  t.after(() => run.stop());
  const received = await new Promise<string>((resolve, reject) => {
    const socket = connect(run.server.port, '127.0.0.1', () => socket.write('GET /ping HTTP/1.0\r\n\r\n'));
    t.after(() => socket.destroy());
    let data = '';
    socket.on('data', (d: Buffer) => (data += d));
    socket.on('close', () => resolve(data));
    socket.on('error', reject);
  });
  assert.ok(received === '' || /^HTTP\/1\.1 505/.test(received), `got ${excerpt(received)}`);
  assert.equal((await http(run.url, 'GET', '/ping')).status, 200);
});
