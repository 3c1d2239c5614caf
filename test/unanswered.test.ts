import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TRAITS } from '../src/http/front-ends.js';
import { excerpt, FRONT_ENDS, http, startRunning, TIMEOUT } from './helpers.js';
import { parseResponses, rawOnce } from './raw-http.js';

// Request shapes uWS 20.30's parser never hands to a route handler, so ThunderDB cannot
// answer them there (README, "What the HTTP front end refuses, and what it cannot").
const SHAPES: Record<string, string> = {
  '49 headers': `PUT /kv/u1 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\n${Array.from({ length: 49 }, (_, i) => `X-${i}: v\r\n`).join('')}\r\nv`,
  'an absolute-form target': 'PUT http://x/kv/u2 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\n\r\nv',
  'bare LF line ends': 'PUT /kv/u3 HTTP/1.1\nHost: x\nContent-Length: 1\n\nv',
  'no Host': 'PUT /kv/u4 HTTP/1.1\r\nContent-Length: 1\r\n\r\nv',
};

/** node:http's answer to each: what HTTP allows is served, the rest refused with a JSON 400. */
const ANSWERS: Record<string, [status: number, stored: boolean]> = {
  '49 headers': [204, true],
  'an absolute-form target': [204, true],
  'bare LF line ends': [400, false],
  'no Host': [400, false],
};

for (const frontEnd of FRONT_ENDS)
  describe(`malformed requests on ${frontEnd}`, () => {
    if (TRAITS[frontEnd].answersMalformed) {
      test(
        'each is answered: served where HTTP allows it, else a JSON 400 that closes the connection',
        TIMEOUT,
        async (t) => {
          const run = await startRunning({ http: frontEnd, nodes: 1 });
          t.after(() => run.stop());
          const results = await Promise.all(
            Object.values(SHAPES).map((text) => rawOnce(run.server.port, text)),
          );
          Object.keys(SHAPES).forEach((shape, i) => {
            const [answer] = parseResponses(results[i]!.data).responses;
            const [status] = ANSWERS[shape]!;
            assert.equal(answer?.status, status, `${shape}: ${excerpt(results[i]!.data)}`);
            if (status === 400) {
              assert.match(answer.body, /^\{"error":\{"code":"BAD_REQUEST","message":"[^"]+"\}\}$/, shape);
              assert.ok(results[i]!.closed, `${shape}: the connection is closed`);
            }
          });
          for (const [i, [, stored]] of Object.values(ANSWERS).entries()) {
            assert.equal(
              (await run.cluster.get(`u${i + 1}`))?.toString(),
              stored ? 'v' : undefined,
              `u${i + 1}`,
            );
          }
        },
      );
      return;
    }

    // What must hold: the connection is released by uWS's idle timeout (about 10 s), never
    // held, nothing is stored, and the server goes on. All run at once, so the test costs one
    // timeout; one held for good fails it at the test's timeout.
    test(
      'requests uWS never routes get no answer, are released by its idle timeout, and store nothing',
      TIMEOUT,
      async (t) => {
        const run = await startRunning({ http: frontEnd, nodes: 1 });
        t.after(() => run.stop());
        const results = await Promise.all(
          Object.values(SHAPES).map((text) => rawOnce(run.server.port, text)),
        );
        Object.keys(SHAPES).forEach((shape, i) => {
          assert.ok(results[i]!.closed, shape);
          assert.equal(results[i]!.data.length, 0, `${shape}: ${excerpt(results[i]!.data)}`);
        });
        for (const key of ['u1', 'u2', 'u3', 'u4']) assert.equal(await run.cluster.get(key), undefined);
        assert.equal((await http(run.url, 'GET', '/ping')).status, 200);
      },
    );
  });
