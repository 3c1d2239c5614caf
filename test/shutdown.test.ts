import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { codeOf, excerpt, FRONT_ENDS, http, startRunning, TIMEOUT, until } from './helpers.js';
import { RawClient } from './raw-http.js';

/**
 * A grace period no test outlasts: a close() given it ends by its requests finishing, never
 * by the grace running out, however slow the machine.
 */
const FOREVER_MS = 60 * 60_000;

/** Resolves after the next turn of the event loop: whatever was due now has run. */
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

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

for (const frontEnd of FRONT_ENDS)
  describe(`on ${frontEnd}`, () => {
    test(
      'close() lets a batch in flight finish, then refuses new requests on open connections with 503 SHUTTING_DOWN',
      TIMEOUT,
      async (t) => {
        const run = await startRunning({ http: frontEnd, nodes: 2 });
        t.after(() => run.stop());
        const socket = connect(run.server.port, '127.0.0.1');
        t.after(() => socket.destroy());
        await new Promise((r) => socket.once('connect', r));
        assert.match(
          await exchange(socket, 'GET /ping HTTP/1.1\r\nHost: localhost\r\n\r\n'),
          /^HTTP\/1\.1 200/,
        );

        const lines = Array.from({ length: 100_000 }, (_, i) => `drain:${i} v`).join('\n');
        const batch = http(run.url, 'POST', '/kv', lines, { 'Content-Type': 'text/plain' });
        // Wait until the batch is being written, so it is in flight when draining begins.
        while (run.cluster.pending === 0) await nextTurn();
        const closed = run.server.close(FOREVER_MS);

        const refused = await exchange(socket, 'GET /kv/drain:1 HTTP/1.1\r\nHost: localhost\r\n\r\n');
        assert.match(refused, /^HTTP\/1\.1 503/);
        assert.match(refused, /"code":"SHUTTING_DOWN"/);
        const answer = await batch;
        await closed;
        assert.equal(answer.status, 200, excerpt(answer.text));
        assert.deepEqual(answer.json, { written: 100_000 });
        assert.equal(codeOf(answer), undefined);
        assert.equal((await run.cluster.get('drain:99999'))?.toString('latin1'), 'v');
      },
    );

    test(
      'close() waits for a client still downloading an answer, and resolves once its last byte left',
      TIMEOUT,
      async (t) => {
        const run = await startRunning({
          http: frontEnd,
          nodes: 1,
          limits: { maxValueBytes: 32 * 1024 * 1024 },
        });
        t.after(() => run.stop());
        const value = 'v'.repeat(24 * 1024 * 1024);
        await run.cluster.put('big', value);
        const client = await RawClient.open(run.server.port);
        t.after(() => client.destroy());
        client.socket.pause(); // a slow reader: the answer waits in the server for its window
        client.write('GET /kv/big HTTP/1.1\r\nHost: localhost\r\n\r\n');
        // The answer has begun: its first bytes wait in the kernel for the paused client.
        await until(() => client.unread() > 0, t.signal);

        let closed = false;
        const closing = run.server.close(FOREVER_MS).then(() => (closed = true));
        // A close() that did not count the answer still being written resolves at once.
        await nextTurn();
        await nextTurn();
        assert.equal(closed, false, 'close() resolved while the answer was still being sent');
        client.socket.resume();
        const [answer] = await client.responses(1);
        await closing;
        assert.equal(answer?.status, 200);
        assert.equal(answer.body.length, value.length);
        assert.ok(/^v+$/.test(answer.body), `the body is the value: ${excerpt(answer.body)}`);
      },
    );

    test('close() resolves at once when every request has been answered', TIMEOUT, async (t) => {
      const run = await startRunning({ http: frontEnd, nodes: 2 });
      t.after(() => run.stop());
      assert.equal((await http(run.url, 'PUT', '/kv/a', '1')).status, 204);
      assert.equal((await http(run.url, 'GET', '/kv/a')).status, 200);
      assert.equal((await http(run.url, 'GET', '/kv/nope')).status, 404);
      assert.equal((await http(run.url, 'POST', '/kv/_mget', '{"keys":["a"]}')).status, 200);
      assert.equal((await http(run.url, 'POST', '/kv', 'b 2', { 'Content-Type': 'text/plain' })).status, 200);
      assert.equal((await http(run.url, 'POST', '/put', '{"c":"3"}')).status, 200);
      // Waiting out the grace period instead would outlast the test's timeout.
      await run.server.close(FOREVER_MS);
    });

    test(
      'a batch still streaming when the grace period ends is answered 503 SHUTTING_DOWN with its written count',
      TIMEOUT,
      async (t) => {
        const run = await startRunning({ http: frontEnd, nodes: 2 });
        t.after(() => run.stop());
        const client = await RawClient.open(run.server.port);
        t.after(() => client.destroy());
        client.write(
          'POST /kv HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n',
        );
        const lines = Array.from({ length: 500 }, (_, i) => `s${i} v\n`).join('');
        client.write(`${Buffer.byteLength(lines).toString(16)}\r\n${lines}\r\n`);
        await until(() => client.serverHasRead(), t.signal);

        // The body never ends: only the end of the grace period answers it.
        await run.server.close(200);
        const [answer] = await client.responses(1);
        assert.equal(answer?.status, 503, excerpt(client.data));
        const error = (JSON.parse(answer.body) as { error: { code: string; written: number } }).error;
        assert.equal(error.code, 'SHUTTING_DOWN');
        assert.equal(error.written, 500);
      },
    );

    test(
      'a reply that arrives after its client left is dropped, and the server goes on',
      TIMEOUT,
      async (t) => {
        const run = await startRunning({ http: frontEnd, nodes: 1 });
        t.after(() => run.stop());
        // Keep the node busy, so the GETs below are answered well after their clients left.
        const lines = Array.from({ length: 200_000 }, (_, i) => `busy${i} v`).join('\n');
        const batch = http(run.url, 'POST', '/kv', lines, { 'Content-Type': 'text/plain' });
        while (run.cluster.pending === 0) await nextTurn();
        const gone = await Promise.all(
          Array.from({ length: 20 }, async () => {
            const client = await RawClient.open(run.server.port);
            client.write('GET /kv/busy1 HTTP/1.1\r\nHost: localhost\r\n\r\n');
            return client;
          }),
        );
        // Each GET reached the server; then each client leaves, and the server sees it go.
        await until(() => gone.every((client) => client.serverHasRead()), t.signal);
        for (const client of gone) client.destroy();
        await until(() => gone.every((client) => client.serverHasClosed()), t.signal);
        assert.equal((await batch).status, 200);
        assert.equal((await http(run.url, 'GET', '/kv/busy1')).status, 200);
      },
    );
  });
