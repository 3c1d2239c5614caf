import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { compareKeys } from '../src/ring/key-bytes.js';
import { codeOf, FRONT_ENDS, http, type Running, startRunning, TIMEOUT } from './helpers.js';

for (const frontEnd of FRONT_ENDS)
  describe(`HTTP /kv (${frontEnd})`, () => {
    let run: Running;
    let url: string;
    before(async () => {
      run = await startRunning({
        http: frontEnd,
        nodes: 3,
        limits: { maxKeyBytes: 64, maxValueBytes: 1024, maxBodyBytes: 4096 },
      });
      url = run.url;
    }, TIMEOUT);
    after(() => run.stop(), TIMEOUT);

    test('PUT then GET returns the value; HEAD reports its length; DELETE removes it', TIMEOUT, async () => {
      assert.equal((await http(url, 'PUT', '/kv/greeting', 'hello')).status, 204);
      const got = await http(url, 'GET', '/kv/greeting');
      assert.equal(got.status, 200);
      assert.equal(got.text, 'hello');
      assert.equal(got.headers['content-type'], 'application/octet-stream');
      const head = await http(url, 'HEAD', '/kv/greeting');
      assert.equal(head.status, 200);
      assert.equal(head.headers['content-length'], '5');
      assert.equal(head.body.length, 0);
      assert.equal((await http(url, 'DELETE', '/kv/greeting')).status, 204);
      const gone = await http(url, 'GET', '/kv/greeting');
      assert.equal(gone.status, 404);
      assert.equal(codeOf(gone), 'KEY_NOT_FOUND');
      assert.equal((await http(url, 'HEAD', '/kv/greeting')).status, 404);
      const again = await http(url, 'DELETE', '/kv/greeting');
      assert.equal(again.status, 404);
      assert.equal(codeOf(again), 'KEY_NOT_FOUND');
    });

    test('PUT overwrites; an empty value is a value', TIMEOUT, async () => {
      await http(url, 'PUT', '/kv/over', 'one');
      await http(url, 'PUT', '/kv/over', '');
      const got = await http(url, 'GET', '/kv/over');
      assert.equal(got.status, 200);
      assert.equal(got.body.length, 0);
    });

    test('values are binary-safe: all 256 byte values round-trip exactly', TIMEOUT, async () => {
      const value = Buffer.from(Array.from({ length: 512 }, (_, i) => i % 256));
      assert.equal((await http(url, 'PUT', '/kv/binary', value)).status, 204);
      assert.deepEqual((await http(url, 'GET', '/kv/binary')).body, value);
    });

    test('keys are percent-decoded UTF-8: /kv/a%2Fb is key "a/b"', TIMEOUT, async () => {
      await http(url, 'PUT', '/kv/a%2Fb%20%C3%A9', 'v');
      const located = await http(url, 'GET', '/cluster/locate/a%2Fb%20%C3%A9');
      assert.equal((located.json as { key: string }).key, 'a/b é');
      assert.equal((await http(url, 'GET', '/kv/a%2fb%20%c3%a9')).text, 'v');
      const listed = await http(url, 'GET', '/kv?prefix=a%2F');
      assert.deepEqual((listed.json as { keys: string[] }).keys, ['a/b é']);
    });

    const badKeys: [string, string, number, string][] = [
      ['malformed percent-encoding', '/kv/%E0%A4%A', 400, 'INVALID_KEY'],
      ['percent-encoding that is not UTF-8', '/kv/%FF', 400, 'INVALID_KEY'],
      ['an empty key', '/kv/', 400, 'INVALID_KEY'],
      ['a key over the limit', '/kv/' + 'k'.repeat(65), 413, 'KEY_TOO_LARGE'],
      [
        'a key over the limit once decoded to UTF-8 bytes',
        '/kv/' + '%C3%A9'.repeat(33),
        413,
        'KEY_TOO_LARGE',
      ],
    ];
    for (const [what, path, status, code] of badKeys) {
      for (const method of ['GET', 'PUT', 'DELETE']) {
        test(`${method} with ${what} answers ${status} ${code}`, TIMEOUT, async () => {
          const answer = await http(url, method, path, method === 'PUT' ? 'v' : undefined);
          assert.equal(answer.status, status);
          assert.equal(codeOf(answer), code);
        });
      }
    }

    test(
      'a value over the limit answers 413 VALUE_TOO_LARGE, declared or chunked, and is not stored',
      TIMEOUT,
      async () => {
        const big = Buffer.alloc(1025, 120);
        const declared = await http(url, 'PUT', '/kv/big', big);
        assert.equal(declared.status, 413);
        assert.equal(codeOf(declared), 'VALUE_TOO_LARGE');
        const chunked = await http(url, 'PUT', '/kv/big', big, { 'Transfer-Encoding': 'chunked' });
        assert.equal(chunked.status, 413);
        assert.equal(codeOf(chunked), 'VALUE_TOO_LARGE');
        assert.equal((await http(url, 'GET', '/kv/big')).status, 404);
        assert.equal((await http(url, 'PUT', '/kv/big', big.subarray(0, 1024))).status, 204);
      },
    );

    test('POST /kv/_mget answers every key, null where absent', TIMEOUT, async () => {
      await http(url, 'PUT', '/kv/m1', 'one');
      await http(url, 'PUT', '/kv/m2', 'caf\u00e9');
      const answer = await http(
        url,
        'POST',
        '/kv/_mget',
        JSON.stringify({ keys: ['m1', 'm2', 'nope', '__proto__'] }),
      );
      assert.equal(answer.status, 200);
      assert.deepEqual(answer.json, { values: { m1: 'one', m2: 'café', nope: null, ['__proto__']: null } });
      assert.deepEqual((await http(url, 'POST', '/kv/_mget', '{"keys":[]}')).json, { values: {} });
    });

    const badMgets: [string, string, number, string][] = [
      ['broken JSON', '{"keys": [', 400, 'INVALID_JSON'],
      ['keys that are not strings', '{"keys": [1]}', 400, 'BAD_REQUEST'],
      ['no keys field', '{}', 400, 'BAD_REQUEST'],
      ['an empty key', '{"keys": [""]}', 400, 'INVALID_KEY'],
      ['a body over the limit', JSON.stringify({ keys: Array(1000).fill('abcdef') }), 413, 'BODY_TOO_LARGE'],
    ];
    for (const [what, body, status, code] of badMgets) {
      test(`POST /kv/_mget with ${what} answers ${status} ${code}`, TIMEOUT, async () => {
        const answer = await http(url, 'POST', '/kv/_mget', body);
        assert.equal(answer.status, status);
        assert.equal(codeOf(answer), code);
      });
    }

    test('GET /kv lists keys by prefix in order, across nodes, a page at a time', TIMEOUT, async () => {
      for (let i = 0; i < 25; i++) await http(url, 'PUT', `/kv/page:${String(i).padStart(2, '0')}`, 'v');
      const seen: string[] = [];
      let after = '';
      for (;;) {
        const answer = await http(url, 'GET', `/kv?prefix=page:&limit=10&after=${encodeURIComponent(after)}`);
        assert.equal(answer.status, 200);
        const { keys, next } = answer.json as { keys: string[]; next: string | null };
        seen.push(...keys);
        if (next === null) break;
        after = next;
      }
      assert.deepEqual(
        seen,
        Array.from({ length: 25 }, (_, i) => `page:${String(i).padStart(2, '0')}`),
      );
    });

    test('GET /kv pages while keys come and go between pages: every key held throughout once, in UTF-8 byte order', async () => {
      // UTF-16 order would put 😀 (a surrogate pair) before \ue000; UTF-8 bytes put it after.
      const marks = ['a', 'é', '\ue000', '😀', 'z'];
      const held = Array.from({ length: 2000 }, (_, i) => `walk/${marks[i % 5]}${i}`);
      await Promise.all(held.map((key) => run.cluster.put(key, 'v')));
      const doomed = held.filter((_, i) => i % 7 === 0);
      const stable = held.filter((_, i) => i % 7 !== 0).sort(compareKeys);
      const born: string[] = [];
      const seen: string[] = [];
      let after = '';
      for (let page = 0; ; page++) {
        const answer = await http(
          url,
          'GET',
          `/kv?prefix=walk%2F&limit=150&after=${encodeURIComponent(after)}`,
        );
        assert.equal(answer.status, 200);
        const { keys, next } = answer.json as { keys: string[]; next: string | null };
        assert.ok(keys.length <= 150);
        seen.push(...keys);
        if (next === null) break;
        assert.equal(next, keys.at(-1));
        after = next;
        // Between pages: keys written before the cursor and past it, and some deleted.
        born.push(`walk/0new${page}`, `walk/😀new${page}`);
        await Promise.all([
          run.cluster.put(born.at(-2)!, 'v'),
          run.cluster.put(born.at(-1)!, 'v'),
          ...doomed.splice(0, 40).map((key) => run.cluster.delete(key)),
        ]);
      }
      for (let i = 1; i < seen.length; i++) {
        assert.ok(compareKeys(seen[i - 1]!, seen[i]!) < 0, `${seen[i - 1]} then ${seen[i]}`);
      }
      const listed = new Set(seen);
      assert.deepEqual(
        stable.filter((key) => !listed.has(key)),
        [],
        'keys held throughout',
      );
      assert.deepEqual(
        seen.filter((key) => !held.includes(key) && !born.includes(key)),
        [],
        'only keys written',
      );
    });

    for (const limit of ['0', '1001', 'x', '1.5']) {
      test(`GET /kv?limit=${limit} answers 400 BAD_REQUEST`, TIMEOUT, async () => {
        const answer = await http(url, 'GET', `/kv?limit=${limit}`);
        assert.equal(answer.status, 400);
        assert.equal(codeOf(answer), 'BAD_REQUEST');
      });
    }

    test(
      'a method a route does not answer is 405 METHOD_NOT_ALLOWED with an Allow header',
      TIMEOUT,
      async () => {
        const answer = await http(url, 'PATCH', '/kv/x', 'v');
        assert.equal(answer.status, 405);
        assert.equal(codeOf(answer), 'METHOD_NOT_ALLOWED');
        assert.equal(answer.headers.allow, 'GET, HEAD, PUT, DELETE');
        assert.equal((await http(url, 'DELETE', '/kv')).status, 405);
        assert.equal((await http(url, 'PUT', '/ping')).status, 405);
      },
    );

    test('an unknown path is 404 NOT_FOUND', TIMEOUT, async () => {
      const answer = await http(url, 'GET', '/nothing/here');
      assert.equal(answer.status, 404);
      assert.equal(codeOf(answer), 'NOT_FOUND');
    });
  });
