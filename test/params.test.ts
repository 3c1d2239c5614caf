import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { integer, oneOf, parseQuery, text } from '../src/http/params.js';
import { codeOf, FRONT_ENDS, http, type Running, startRunning, TIMEOUT } from './helpers.js';

/** Issue 6, items 11 and 16: one strict parser per kind of parameter; nothing ignored. */

for (const frontEnd of FRONT_ENDS)
  describe(`on ${frontEnd}`, () => {
    describe('parseQuery()', () => {
      const spec = {
        n: integer({ min: 1, max: 1000, fallback: 100 }),
        mode: oneOf(['stop', 'skip'], 'stop'),
      };

      test('reads each parameter by its kind, with defaults for those absent', () => {
        assert.deepEqual(parseQuery(undefined, spec), { n: 100, mode: 'stop' });
        assert.deepEqual(parseQuery('n=7&mode=skip', spec), { n: 7, mode: 'skip' });
        assert.deepEqual(parseQuery('n=1000&&', spec), { n: 1000, mode: 'stop' });
        assert.deepEqual(parseQuery('p=a+b%2Bc%2F%C3%A9', { p: text() }), { p: 'a b+c/\u00e9' });
        assert.deepEqual(parseQuery('n=0', { n: integer({ min: 0 }) }), { n: 0 });
        assert.deepEqual(parseQuery('', { n: integer({ min: 0 }) }), { n: undefined });
      });

      for (const value of [
        '',
        '1e2',
        '0x10',
        '+1',
        '-1',
        ' 1',
        '1 ',
        '%201',
        '01',
        '1.0',
        '1_000',
        '0',
        '1001',
        'NaN',
      ]) {
        test(`an integer refuses ${JSON.stringify(value)} with BAD_REQUEST`, () => {
          assert.throws(() => parseQuery(`n=${value}`, spec), { code: 'BAD_REQUEST' });
        });
      }

      test('an integer of more digits than a safe integer holds is refused, not rounded', () => {
        assert.throws(() => parseQuery('n=9007199254740993', { n: integer({ min: 0 }) }), {
          code: 'BAD_REQUEST',
        });
      });

      test('an enum refuses any other word, and an empty value', () => {
        for (const value of ['', 'Skip', 'skip ', 'yes']) {
          assert.throws(() => parseQuery(`mode=${value}`, spec), { code: 'BAD_REQUEST' }, value);
        }
        assert.throws(() => parseQuery('mode', spec), { code: 'BAD_REQUEST' });
      });

      test('an unknown name is UNKNOWN_PARAMETER; a known missing feature is NOT_IMPLEMENTED; twice is BAD_REQUEST', () => {
        assert.throws(() => parseQuery('limit=5', spec), { code: 'UNKNOWN_PARAMETER' });
        assert.throws(() => parseQuery('N=5', spec), { code: 'UNKNOWN_PARAMETER' });
        for (const name of ['cas', 'pw', 'pr', 'lease', 'prevValue']) {
          assert.throws(() => parseQuery(`${name}=1`, spec), { code: 'NOT_IMPLEMENTED' }, name);
        }
        // ThunderDB has TTLs (on PUT): elsewhere ttl is just a parameter the route does not take.
        assert.throws(() => parseQuery('ttl=1', spec), { code: 'UNKNOWN_PARAMETER' });
        assert.throws(() => parseQuery('n=1&n=2', spec), { code: 'BAD_REQUEST' });
        assert.throws(() => parseQuery('constructor=1', spec), { code: 'UNKNOWN_PARAMETER' });
      });

      test('malformed percent-encoding and non-UTF-8 text are BAD_REQUEST', () => {
        for (const query of ['p=%', 'p=%zz', 'p=%FF', 'p=%ED%A0%80', 'p=a\uFFFD']) {
          assert.throws(() => parseQuery(query, { p: text() }), { code: 'BAD_REQUEST' }, query);
        }
      });
    });

    describe('strict parameters over HTTP', () => {
      let run: Running;
      let url: string;
      before(async () => {
        run = await startRunning({
          http: frontEnd,
          nodes: 3,
          limits: { maxKeyBytes: 16, maxValueBytes: 32, maxBodyBytes: 4096 },
        });
        url = run.url;
      }, TIMEOUT);
      after(() => run.stop(), TIMEOUT);

      test('GET /snapshot?node= (empty) is BAD_REQUEST, not node 0', TIMEOUT, async () => {
        for (const node of ['', '+0', '0x0', '0e0', '%200']) {
          const answer = await http(url, 'GET', `/snapshot?node=${node}`);
          assert.equal(answer.status, 400, node);
          assert.equal(codeOf(answer), 'BAD_REQUEST', node);
        }
        assert.equal((await http(url, 'GET', '/snapshot?node=0')).status, 200);
      });

      test('GET /kv?limit=1e2 or 0x10 is BAD_REQUEST', TIMEOUT, async () => {
        for (const limit of ['1e2', '0x10', '+1', '%201', '']) {
          const answer = await http(url, 'GET', `/kv?limit=${limit}`);
          assert.equal(codeOf(answer), 'BAD_REQUEST', limit);
        }
        assert.equal(codeOf(await http(url, 'GET', '/kv?limit=1&limit=2')), 'BAD_REQUEST');
        assert.equal((await http(url, 'GET', '/kv?limit=10&prefix=a')).status, 200);
      });

      test(
        'PUT /kv/{key}?lease=60 is 501 NOT_IMPLEMENTED and stores nothing; ?cas= and ?pw= too',
        TIMEOUT,
        async () => {
          for (const query of ['lease=60', 'cas=5', 'pw=2']) {
            const answer = await http(url, 'PUT', `/kv/ttl:1?${query}`, 'v');
            assert.equal(answer.status, 501, query);
            assert.equal(codeOf(answer), 'NOT_IMPLEMENTED', query);
          }
          assert.equal((await http(url, 'GET', '/kv/ttl:1')).status, 404);
          assert.equal(codeOf(await http(url, 'GET', '/kv/ttl:1?pr=2')), 'NOT_IMPLEMENTED');
        },
      );

      test(
        'an unknown parameter is 400 UNKNOWN_PARAMETER on every route, and changes nothing',
        TIMEOUT,
        async () => {
          const cases: [string, string, string?][] = [
            ['PUT', '/kv/unk:1?sync=true', 'v'],
            ['DELETE', '/kv/unk:1?force=1'],
            ['GET', '/kv/unk:1?x'],
            ['POST', '/kv?invalid=skip&mode=fast', 'unk:2 v'],
            ['POST', '/kv/_mget?consistent=1', '{"keys":["a"]}'],
            ['POST', '/put?x=1', '{"unk:3":"v"}'],
            ['GET', '/ping?verbose=1'],
            ['GET', '/cluster?x=1'],
          ];
          for (const [method, path, body] of cases) {
            const answer = await http(url, method, path, body, { 'Content-Type': 'text/plain' });
            assert.equal(answer.status, 400, `${method} ${path}`);
            assert.equal(codeOf(answer), 'UNKNOWN_PARAMETER', `${method} ${path}`);
          }
          for (const key of ['unk:1', 'unk:2', 'unk:3'])
            assert.equal((await http(url, 'GET', `/kv/${key}`)).status, 404);
        },
      );

      test(
        'If-Unmodified-Since, and conditional headers on routes that do not honour them, are 501 NOT_IMPLEMENTED and change nothing',
        TIMEOUT,
        async () => {
          await http(url, 'PUT', '/kv/cond:1', 'old');
          const since = { 'If-Unmodified-Since': 'Tue, 01 Jan 2030 00:00:00 GMT' };
          const put = await http(url, 'PUT', '/kv/cond:1', 'new', since);
          assert.equal(put.status, 501);
          assert.equal(codeOf(put), 'NOT_IMPLEMENTED');
          // Honoured headers do not let an unhonoured one through.
          const both = await http(url, 'PUT', '/kv/cond:1', 'new', { 'If-Match': '*', ...since });
          assert.equal(codeOf(both), 'NOT_IMPLEMENTED');
          assert.equal(codeOf(await http(url, 'DELETE', '/kv/cond:1', undefined, since)), 'NOT_IMPLEMENTED');
          const batch = await http(url, 'POST', '/kv', 'cond:1 new', {
            'Content-Type': 'text/plain',
            'If-Match': '*',
          });
          assert.equal(codeOf(batch), 'NOT_IMPLEMENTED');
          assert.equal(
            codeOf(await http(url, 'POST', '/put', '{"cond:1":"new"}', { 'If-None-Match': '*' })),
            'NOT_IMPLEMENTED',
          );
          assert.equal((await http(url, 'GET', '/kv/cond:1')).text, 'old');
        },
      );

      test('a Content-Encoding is 415, not stored still compressed', TIMEOUT, async () => {
        const answer = await http(url, 'PUT', '/kv/enc:1', 'x', { 'Content-Encoding': 'gzip' });
        assert.equal(answer.status, 415);
        assert.equal(codeOf(answer), 'UNSUPPORTED_MEDIA_TYPE');
        assert.equal((await http(url, 'GET', '/kv/enc:1')).status, 404);
        assert.equal(
          (await http(url, 'PUT', '/kv/enc:1', 'x', { 'Content-Encoding': 'identity' })).status,
          204,
        );
      });

      test('a batch whose charset is not UTF-8 is 415', TIMEOUT, async () => {
        const answer = await http(url, 'POST', '/kv', 'cs:1 v', {
          'Content-Type': 'text/plain; charset=iso-8859-1',
        });
        assert.equal(codeOf(answer), 'UNSUPPORTED_MEDIA_TYPE');
        const ok = await http(url, 'POST', '/kv', 'cs:1 v', {
          'Content-Type': 'text/plain; charset="UTF-8"',
        });
        assert.deepEqual(ok.json, { written: 1 });
      });

      test(
        '?invalid=skip skips non-string JSON values and writes the pairs around them',
        TIMEOUT,
        async () => {
          const body =
            '{"ns:a":"1","ns:b":2,"ns:c":{"x":["}"]},"ns:d":null,"ns:e":[1,2],"ns:f":true,"ns:g":"7"}';
          const answer = await http(url, 'POST', '/kv?invalid=skip', body, {
            'Content-Type': 'application/json',
          });
          assert.equal(answer.status, 200);
          const result = answer.json as {
            written: number;
            rejected: number;
            rejections: { line: number; code: string }[];
          };
          assert.equal(result.written, 2);
          assert.deepEqual(
            result.rejections.map((r) => [r.line, r.code]),
            [
              [2, 'BAD_REQUEST'],
              [3, 'BAD_REQUEST'],
              [4, 'BAD_REQUEST'],
              [5, 'BAD_REQUEST'],
              [6, 'BAD_REQUEST'],
            ],
          );
          assert.equal((await http(url, 'GET', '/kv/ns:g')).text, '7');
          assert.equal((await http(url, 'GET', '/kv/ns:b')).status, 404);
        },
      );

      test(
        'the key "_mget" is read, written, sized and deleted through /kv/_mget; POST stays the multi-get',
        TIMEOUT,
        async () => {
          assert.equal((await http(url, 'PUT', '/kv/_mget', 'itself')).status, 204);
          assert.equal((await http(url, 'GET', '/kv/_mget')).text, 'itself');
          const head = await http(url, 'HEAD', '/kv/_mget');
          assert.equal(head.status, 200);
          assert.equal(head.headers['content-length'], '6');
          const mget = await http(url, 'POST', '/kv/_mget', '{"keys":["_mget"]}');
          assert.deepEqual(mget.json, { values: { _mget: 'itself' } });
          assert.equal((await http(url, 'DELETE', '/kv/_mget')).status, 204);
          assert.equal((await http(url, 'GET', '/kv/_mget')).status, 404);
          const patch = await http(url, 'PATCH', '/kv/_mget');
          assert.equal(patch.status, 405);
          assert.equal(patch.headers.allow, 'GET, HEAD, PUT, DELETE, POST');
        },
      );

      test('an _mget body with members besides "keys" is BAD_REQUEST', TIMEOUT, async () => {
        const answer = await http(url, 'POST', '/kv/_mget', '{"keys":["a"],"consistent":true}');
        assert.equal(codeOf(answer), 'BAD_REQUEST');
      });

      test(
        'CRLF lines exactly at the key and value limits are accepted (text and NDJSON)',
        TIMEOUT,
        async () => {
          const key = 'k'.repeat(16);
          const value = 'v'.repeat(32);
          const text = await http(url, 'POST', '/kv', `${key} ${value}\r\n${key.slice(1)}2 ${value}\r\n`, {
            'Content-Type': 'text/plain',
          });
          assert.deepEqual(text.json, { written: 2 });
          assert.equal((await http(url, 'GET', `/kv/${key}`)).text, value);
          // One byte more, before the CRLF, is still refused.
          const over = await http(url, 'POST', '/kv', `${key} ${value}x\r\n`, {
            'Content-Type': 'text/plain',
          });
          assert.equal(codeOf(over), 'VALUE_TOO_LARGE');
          // NDJSON lines are bounded at (key + value limits) × 6 + 16 bytes: here 304, then CRLF.
          const pair = '["nd:crlf","v"]';
          const line = pair.slice(0, 1) + ' '.repeat(304 - pair.length) + pair.slice(1);
          const nd = await http(url, 'POST', '/kv', `${line}\r\n`, {
            'Content-Type': 'application/x-ndjson',
          });
          assert.deepEqual(nd.json, { written: 1 });
        },
      );
    });
  });
