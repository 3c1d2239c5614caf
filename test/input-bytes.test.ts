import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { TRAITS } from '../src/http/front-ends.js';
import { type Answer, codeOf, FRONT_ENDS, http, type Running, startRunning, TIMEOUT } from './helpers.js';

/**
 * Issue 6, item 10: bytes that are not UTF-8 must be refused on every path, never replaced
 * by U+FFFD, or two different keys become one key. Each test sends two different invalid
 * sequences for the same position and checks both are refused and nothing was stored.
 */

const FF = Buffer.from([0xff]);
const FE = Buffer.from([0xfe]);
/** A 3-byte encoded surrogate: looks like UTF-8, is not. */
const SURROGATE = Buffer.from([0xed, 0xa0, 0x80]);

const bytes = (...parts: (string | Buffer)[]) =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p)));

/** One request written byte for byte on its own connection (node:http refuses raw non-ASCII paths). */
function raw(port: number, request: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(request));
    const parts: Buffer[] = [];
    socket.on('data', (d: Buffer) => parts.push(d));
    socket.on('error', reject);
    socket.on('close', () => {
      const all = Buffer.concat(parts).toString('latin1');
      const [head = '', body = ''] = all.split('\r\n\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
      const buf = Buffer.from(body, 'latin1');
      resolve({ status, headers: {}, body: buf, text: buf.toString('utf8'), json });
    });
  });
}

/** A request line with a raw path, and a body. */
function rawRequest(method: string, path: Buffer, body = ''): Buffer {
  return bytes(
    `${method} `,
    path,
    ` HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`,
    body,
  );
}

for (const frontEnd of FRONT_ENDS)
  describe(`on ${frontEnd}`, () => {
    describe('bytes that are not UTF-8 are refused on every path, never replaced', () => {
      let run: Running;
      let url: string;
      before(async () => {
        run = await startRunning({ http: frontEnd, nodes: 2 });
        url = run.url;
      }, TIMEOUT);
      after(() => run.stop(), TIMEOUT);

      /** The keys stored under a prefix. */
      async function keysUnder(prefix: string): Promise<string[]> {
        const answer = await http(url, 'GET', `/kv?prefix=${encodeURIComponent(prefix)}`);
        return (answer.json as { keys: string[] }).keys;
      }

      // uWS decodes a raw path as UTF-8, so a byte that is not UTF-8 is an invalid key; node:http
      // refuses every raw byte above 0x7F, as a URL may not carry it (front-ends.ts, rawUtf8Paths).
      const rawUtf8 = TRAITS[frontEnd].rawUtf8Paths;
      const refusal = rawUtf8 ? 'INVALID_KEY' : 'BAD_REQUEST';

      test(
        `raw path bytes: /kv/a\\xFF and /kv/a\\xFE are both ${refusal}, not one key "a\\uFFFD"`,
        TIMEOUT,
        async () => {
          for (const bad of [FF, FE, SURROGATE]) {
            const put = await raw(run.server.port, rawRequest('PUT', bytes('/kv/raw:', bad), 'v'));
            assert.equal(put.status, 400);
            assert.equal(codeOf(put), refusal);
            const get = await raw(run.server.port, rawRequest('GET', bytes('/kv/raw:', bad)));
            assert.equal(codeOf(get), refusal);
          }
          assert.deepEqual(await keysUnder('raw:'), []);
          // Raw UTF-8 is a key where raw paths are read, and a real U+FFFD is one when percent-encoded.
          assert.equal(
            (await raw(run.server.port, rawRequest('PUT', bytes('/kv/raw:caf\u00e9'), 'v'))).status,
            rawUtf8 ? 204 : 400,
          );
          assert.equal((await http(url, 'PUT', '/kv/raw:%EF%BF%BD', 'w')).status, 204);
          assert.deepEqual(
            (await keysUnder('raw:')).sort(),
            rawUtf8 ? ['raw:caf\u00e9', 'raw:\uFFFD'] : ['raw:\uFFFD'],
          );
          const rawReplacement = await raw(run.server.port, rawRequest('GET', bytes('/kv/raw:\uFFFD')));
          assert.equal(codeOf(rawReplacement), refusal);
        },
      );

      test(`the other key routes refuse raw invalid bytes the same way (${refusal})`, TIMEOUT, async () => {
        for (const path of ['/get/', '/cluster/locate/']) {
          const answer = await raw(run.server.port, rawRequest('GET', bytes(path, 'a', FF)));
          assert.equal(codeOf(answer), refusal, path);
        }
      });

      test('percent-encoded path: %FF and %FE are both INVALID_KEY', TIMEOUT, async () => {
        for (const bad of ['%FF', '%FE', '%ED%A0%80', '%C0%AF']) {
          const answer = await http(url, 'PUT', `/kv/pct:${bad}`, 'v');
          assert.equal(answer.status, 400, bad);
          assert.equal(codeOf(answer), 'INVALID_KEY', bad);
        }
        assert.deepEqual(await keysUnder('pct:'), []);
      });

      test(
        'query values: ?prefix=%FF and a raw \\xFF are BAD_REQUEST, not a prefix of U+FFFD',
        TIMEOUT,
        async () => {
          await http(url, 'PUT', '/kv/q:%EF%BF%BD', 'v');
          for (const query of [bytes('?prefix=q:%FF'), bytes('?prefix=q:', FE)]) {
            const answer = await raw(run.server.port, rawRequest('GET', bytes('/kv', query)));
            assert.equal(answer.status, 400);
            assert.equal(codeOf(answer), 'BAD_REQUEST');
          }
        },
      );

      test(
        'NDJSON: keys or values with different invalid bytes are refused (INVALID_JSON), skipped lines listed',
        TIMEOUT,
        async () => {
          const body = bytes(
            '["nd:a',
            FF,
            '","1"]\n["nd:a',
            FE,
            '","2"]\n["nd:v1","',
            FF,
            '"]\n["nd:v2","',
            FE,
            '"]\n["nd:ok","fine"]\n',
          );
          const answer = await http(url, 'POST', '/kv?invalid=skip', body, {
            'Content-Type': 'application/x-ndjson',
          });
          assert.equal(answer.status, 200);
          const result = answer.json as { written: number; rejections: { line: number; code: string }[] };
          assert.equal(result.written, 1);
          assert.deepEqual(
            result.rejections.map((r) => [r.line, r.code]),
            [
              [1, 'INVALID_JSON'],
              [2, 'INVALID_JSON'],
              [3, 'INVALID_JSON'],
              [4, 'INVALID_JSON'],
            ],
          );
          assert.deepEqual(await keysUnder('nd:'), ['nd:ok']);
          // Without ?invalid=skip the first such line ends the batch with its code.
          const stopped = await http(url, 'POST', '/kv', bytes('["nd:b","', FF, '"]\n'), {
            'Content-Type': 'application/x-ndjson',
          });
          assert.equal(stopped.status, 400);
          assert.equal(codeOf(stopped), 'INVALID_JSON');
          assert.equal((await http(url, 'GET', '/kv/nd:b')).status, 404);
        },
      );

      test(
        'NDJSON and JSON values with an escaped lone surrogate are refused, not stored as EF BF BD',
        TIMEOUT,
        async () => {
          const nd = await http(url, 'POST', '/kv', '["sur:1","\\ud800"]\n', {
            'Content-Type': 'application/x-ndjson',
          });
          assert.equal(codeOf(nd), 'INVALID_JSON');
          const obj = await http(url, 'POST', '/kv', '{"sur:2":"\\udc00"}', {
            'Content-Type': 'application/json',
          });
          assert.equal(codeOf(obj), 'INVALID_JSON');
          const put = await http(url, 'POST', '/put', '{"sur:3":"\\ud800"}');
          assert.equal(codeOf(put), 'INVALID_JSON');
          assert.deepEqual(await keysUnder('sur:'), []);
        },
      );

      test(
        'text/plain: keys with different invalid bytes are INVALID_KEY; values stay raw bytes, exactly',
        TIMEOUT,
        async () => {
          const body = bytes('tx:a', FF, ' 1\ntx:a', FE, ' 2\ntx:v1 ', FF, '\ntx:v2 ', FE, '\n');
          const answer = await http(url, 'POST', '/kv?invalid=skip', body, { 'Content-Type': 'text/plain' });
          const result = answer.json as { written: number; rejections: { line: number; code: string }[] };
          assert.equal(result.written, 2);
          assert.deepEqual(
            result.rejections.map((r) => [r.line, r.code]),
            [
              [1, 'INVALID_KEY'],
              [2, 'INVALID_KEY'],
            ],
          );
          assert.deepEqual((await http(url, 'GET', '/kv/tx:v1')).body, FF);
          assert.deepEqual((await http(url, 'GET', '/kv/tx:v2')).body, FE);
        },
      );

      test(
        'JSON object: strings with different invalid bytes are each a refused pair (INVALID_JSON)',
        TIMEOUT,
        async () => {
          const body = bytes('{"js:a', FF, '":"1","js:a', FE, '":"2","js:v":"', FF, '","js:ok":"fine"}');
          const answer = await http(url, 'POST', '/kv?invalid=skip', body, {
            'Content-Type': 'application/json',
          });
          const result = answer.json as { written: number; rejections: { line: number; code: string }[] };
          assert.equal(result.written, 1);
          assert.deepEqual(
            result.rejections.map((r) => [r.line, r.code]),
            [
              [1, 'INVALID_JSON'],
              [2, 'INVALID_JSON'],
              [3, 'INVALID_JSON'],
            ],
          );
          assert.deepEqual(await keysUnder('js:'), ['js:ok']);
        },
      );

      test(
        '/put: a key or value with invalid bytes is INVALID_JSON, and nothing is stored',
        TIMEOUT,
        async () => {
          for (const body of [
            bytes('{"put:a', FF, '":"v"}'),
            bytes('{"put:a', FE, '":"v"}'),
            bytes('{"put:v":"', FF, '"}'),
            bytes('{"put:v":"', FE, '"}'),
          ]) {
            const answer = await http(url, 'POST', '/put', body);
            assert.equal(answer.status, 400);
            assert.equal(codeOf(answer), 'INVALID_JSON');
          }
          assert.deepEqual(await keysUnder('put:'), []);
          // A repeated key is two pairs, not the last one silently kept.
          assert.equal(codeOf(await http(url, 'POST', '/put', '{"put:d":"1","put:d":"2"}')), 'BAD_REQUEST');
        },
      );

      test("_mget: a key with invalid bytes is INVALID_JSON, not another key's value", TIMEOUT, async () => {
        assert.equal((await http(url, 'PUT', '/kv/mg:%EF%BF%BD', 'secret')).status, 204);
        for (const bad of [FF, FE]) {
          const answer = await http(url, 'POST', '/kv/_mget', bytes('{"keys":["mg:', bad, '"]}'));
          assert.equal(answer.status, 400);
          assert.equal(codeOf(answer), 'INVALID_JSON');
        }
        const real = await http(url, 'POST', '/kv/_mget', '{"keys":["mg:\\ufffd"]}');
        assert.deepEqual(real.json, { values: { 'mg:\uFFFD': 'secret' } });
      });
    });
  });
