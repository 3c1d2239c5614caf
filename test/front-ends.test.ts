/**
 * How the front end is chosen, and the one line that says so. What each front end does
 * differently is TRAITS (src/http/front-ends.ts); each row is tested where the behaviour is:
 * http10 in http10.test.ts, pipelining in http-protocol.test.ts, answersMalformed in
 * unanswered.test.ts and http-protocol.test.ts, rawUtf8Paths in input-bytes.test.ts,
 * overConnectionLimit in connection-limit.test.ts, refusesFramingAfterParse and slowClients in
 * http-protocol.test.ts (smuggling; a body that stops), and Node 22/24 (no uWS binary) in platform.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chooseFrontEnd, frontEndsHere } from '../src/http/front-ends.js';
import { loadUws } from '../src/http/uws/native.js';
import { excerpt, startCli, TIMEOUT } from './helpers.js';
import { rawOnce } from './raw-http.js';

const uwsHere = typeof loadUws() !== 'string';

test('--http node is node:http, wherever uWS loads or not, and the line says it was asked for', () => {
  assert.deepEqual(chooseFrontEnd('node'), { name: 'node', why: 'front end: node:http (--http node)' });
});

test('with no --http: uWS where its binary loads, else node:http with the reason', () => {
  const choice = chooseFrontEnd();
  if (uwsHere) {
    assert.equal(choice.name, 'uws');
    assert.match(
      choice.why,
      /^front end: uWebSockets\.js \(its native binary loads here; --http node for node:http\)$/,
    );
    assert.deepEqual(frontEndsHere(), ['uws', 'node']);
  } else {
    assert.equal(choice.name, 'node');
    assert.match(
      choice.why,
      /^front end: node:http, since uWebSockets\.js \S+ has no native binary for Node v/,
    );
    assert.deepEqual(frontEndsHere(), ['node']);
    assert.throws(() => chooseFrontEnd('uws'), RangeError);
  }
});

test('thunderdb cluster --http node serves with node:http and says so first', TIMEOUT, async (t) => {
  const { child, url, out } = await startCli(['--nodes', '1'], 'node');
  t.after(() => child.kill());
  const [line, listening] = out().split('\n');
  assert.equal(line, 'front end: node:http (--http node)');
  assert.match(listening!, /^ThunderDB listening on /);
  // It is node:http that serves: it answers HTTP/1.0, which uWS never does.
  const { data } = await rawOnce(Number(new URL(url).port), 'GET /ping HTTP/1.0\r\n\r\n');
  assert.match(data.toString('latin1'), /^HTTP\/1\.1 200 OK\r\n/, excerpt(data));
});
