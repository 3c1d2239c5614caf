import assert from 'node:assert/strict';
import { test } from 'node:test';
import { http, startRunning } from './helpers.js';
import { rawOnce } from './raw-http.js';

// Request shapes uWS 20.30's parser never hands to a route handler, so ThunderDB cannot
// answer them (README, "What the HTTP front end refuses, and what it cannot"). What must
// hold: the connection is released by uWS's idle timeout, never held, nothing is stored,
// and the server goes on. All run at once, so the test costs one timeout (about 10 s).
const SHAPES: Record<string, string> = {
  '49 headers': `PUT /kv/u1 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\n${Array.from({ length: 49 }, (_, i) => `X-${i}: v\r\n`).join('')}\r\nv`,
  'an absolute-form target': 'PUT http://x/kv/u2 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\n\r\nv',
  'bare LF line ends': 'PUT /kv/u3 HTTP/1.1\nHost: x\nContent-Length: 1\n\nv',
  'no Host': 'PUT /kv/u4 HTTP/1.1\r\nContent-Length: 1\r\n\r\nv',
};

test(
  'requests uWS never routes get no answer, are released within 15 s, and store nothing',
  { timeout: 30_000 },
  async (t) => {
    const run = await startRunning({ nodes: 1 });
    t.after(() => run.stop());
    const results = await Promise.all(
      Object.values(SHAPES).map((text) => rawOnce(run.server.port, text, 15_000)),
    );
    Object.keys(SHAPES).forEach((shape, i) => {
      assert.ok(results[i]!.closed, `${shape}: still open after 15 s`);
      assert.equal(results[i]!.data.length, 0, `${shape}: ${results[i]!.data.toString()}`);
    });
    for (const key of ['u1', 'u2', 'u3', 'u4']) assert.equal(await run.cluster.get(key), undefined);
    assert.equal((await http(run.url, 'GET', '/ping')).status, 200);
  },
);
