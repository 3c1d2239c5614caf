import assert from 'node:assert/strict';
import { test } from 'node:test';
import { excerpt, http, startRunning, TIMEOUT } from './helpers.js';
import { rawOnce } from './raw-http.js';

// Request shapes uWS 20.30's parser never hands to a route handler, so ThunderDB cannot
// answer them (README, "What the HTTP front end refuses, and what it cannot"). What must
// hold: the connection is released by uWS's idle timeout (about 10 s), never held, nothing
// is stored, and the server goes on. All run at once, so the test costs one timeout; one
// held for good fails it at the test's timeout.
const SHAPES: Record<string, string> = {
  '49 headers': `PUT /kv/u1 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\n${Array.from({ length: 49 }, (_, i) => `X-${i}: v\r\n`).join('')}\r\nv`,
  'an absolute-form target': 'PUT http://x/kv/u2 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\n\r\nv',
  'bare LF line ends': 'PUT /kv/u3 HTTP/1.1\nHost: x\nContent-Length: 1\n\nv',
  'no Host': 'PUT /kv/u4 HTTP/1.1\r\nContent-Length: 1\r\n\r\nv',
};

test(
  'requests uWS never routes get no answer, are released by its idle timeout, and store nothing',
  TIMEOUT,
  async (t) => {
    const run = await startRunning({ nodes: 1 });
    t.after(() => run.stop());
    const results = await Promise.all(Object.values(SHAPES).map((text) => rawOnce(run.server.port, text)));
    Object.keys(SHAPES).forEach((shape, i) => {
      assert.ok(results[i]!.closed, shape);
      assert.equal(results[i]!.data.length, 0, `${shape}: ${excerpt(results[i]!.data)}`);
    });
    for (const key of ['u1', 'u2', 'u3', 'u4']) assert.equal(await run.cluster.get(key), undefined);
    assert.equal((await http(run.url, 'GET', '/ping')).status, 200);
  },
);
