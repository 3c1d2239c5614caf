import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { codeOf, fixture, FRONT_ENDS, http, type Running, startRunning, TIMEOUT, until } from './helpers.js';
import { RawClient } from './raw-http.js';

for (const frontEnd of FRONT_ENDS)
  describe(`on ${frontEnd}`, () => {
    describe('HTTP POST /kv batches', () => {
      let run: Running;
      let url: string;
      before(async () => {
        run = await startRunning({
          http: frontEnd,
          nodes: 3,
          limits: { maxKeyBytes: 64, maxValueBytes: 64 },
        });
        url = run.url;
      }, TIMEOUT);
      after(() => run.stop(), TIMEOUT);

      const post = (body: string | Buffer, type: string, query = '') =>
        http(url, 'POST', `/kv${query}`, body, { 'Content-Type': type });

      test('the original sample file loads as text/plain and every pair reads back', TIMEOUT, async () => {
        const text = await readFile(fixture('data_demo_10000.txt'), 'utf8');
        const answer = await post(text, 'text/plain');
        assert.equal(answer.status, 200);
        assert.deepEqual(answer.json, { written: 10000 });
        const pairs = text
          .trim()
          .split('\n')
          .map((line) => line.split(' ') as [string, string]);
        for (const [key, value] of [pairs[0]!, pairs[4999]!, pairs[9999]!]) {
          assert.equal((await http(url, 'GET', `/kv/${key}`)).text, value);
        }
        const keys = pairs.slice(0, 200).map(([k]) => k);
        const values = (await http(url, 'POST', '/kv/_mget', JSON.stringify({ keys }))).json as {
          values: Record<string, string>;
        };
        assert.deepEqual(
          Object.values(values.values),
          pairs.slice(0, 200).map(([, v]) => v),
        );
      });

      test('the same batch in all three formats writes the same pairs', TIMEOUT, async () => {
        const pairs: [string, string][] = [
          ['fmt:a', 'one'],
          ['fmt:b', 'caf\u00e9'],
          ['fmt:c', 'x y'],
        ];
        const bodies: [string, string][] = [
          ['text/plain', pairs.map(([k, v]) => `${k} ${v}`).join('\n')],
          ['application/x-ndjson', pairs.map((p) => JSON.stringify(p)).join('\n')],
          ['application/json', JSON.stringify(Object.fromEntries(pairs))],
        ];
        for (const [type, body] of bodies) {
          for (const [k] of pairs) await http(url, 'DELETE', `/kv/${k}`);
          const answer = await post(body, type);
          assert.deepEqual(answer.json, { written: 3 }, type);
          for (const [k, v] of pairs)
            assert.equal((await http(url, 'GET', `/kv/${k}`)).text, v, `${type} ${k}`);
        }
      });

      test(
        'a bad pair stops the batch: the answer says how many were written before it',
        TIMEOUT,
        async () => {
          const answer = await post('stop:1 a\nstop:2 b\nno-space-here\nstop:3 c\n', 'text/plain');
          assert.equal(answer.status, 400);
          assert.deepEqual(answer.json, {
            error: { code: 'BAD_REQUEST', message: 'line 3: expected "key value"', written: 2 },
          });
          assert.equal((await http(url, 'GET', '/kv/stop:2')).text, 'b');
          assert.equal((await http(url, 'GET', '/kv/stop:3')).status, 404);
        },
      );

      test('?invalid=skip goes past bad pairs and lists the first by line', TIMEOUT, async () => {
        const long = 'v'.repeat(65);
        const answer = await post(`skip:1 a\nbad\nskip:2 ${long}\nskip:3 c\n`, 'text/plain', '?invalid=skip');
        assert.equal(answer.status, 200);
        const body = answer.json as {
          written: number;
          rejected: number;
          rejections: { line: number; code: string }[];
        };
        assert.equal(body.written, 2);
        assert.equal(body.rejected, 2);
        assert.deepEqual(
          body.rejections.map((r) => [r.line, r.code]),
          [
            [2, 'BAD_REQUEST'],
            [3, 'VALUE_TOO_LARGE'],
          ],
        );
      });

      const refusals: [string, string, string, string, number, string][] = [
        [
          'a Content-Type it does not know',
          'a b',
          'application/x-www-form-urlencoded',
          '',
          415,
          'UNSUPPORTED_MEDIA_TYPE',
        ],
        ['broken JSON', '{"a":"b",', 'application/json', '', 400, 'INVALID_JSON'],
        ['broken NDJSON', '["a", "b"\n', 'application/x-ndjson', '', 400, 'INVALID_JSON'],
        ['an unknown invalid= mode', 'a b', 'text/plain', '?invalid=maybe', 400, 'BAD_REQUEST'],
      ];
      for (const [what, body, type, query, status, code] of refusals) {
        test(`a batch with ${what} answers ${status} ${code}`, TIMEOUT, async () => {
          const answer = await post(body, type, query);
          assert.equal(answer.status, status);
          assert.equal(codeOf(answer), code);
        });
      }

      test(
        'a large chunked batch streams through with backpressure and is all written',
        TIMEOUT,
        async () => {
          const lines: string[] = [];
          for (let i = 0; i < 150_000; i++) lines.push(`big:${i} value-${i}`);
          const answer = await http(url, 'POST', '/kv', lines.join('\n'), {
            'Content-Type': 'text/plain',
            'Transfer-Encoding': 'chunked',
          });
          assert.deepEqual(answer.json, { written: 150_000 });
          assert.equal((await http(url, 'GET', '/kv/big:149999')).text, 'value-149999');
        },
      );

      test(
        'a client that disconnects mid-body leaves the server up; only whole lines before it count',
        TIMEOUT,
        async (t) => {
          const client = await RawClient.open(run.server.port);
          client.write(
            'POST /kv HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n' +
              'abort:1 one\nabort:2 two\nabort:3 thr',
          );
          await until(() => client.serverHasRead(), t.signal);
          client.destroy();
          // The server has handled the close, and with it whatever it does with the partial line.
          await until(() => client.serverHasClosed(), t.signal);
          assert.equal((await http(url, 'GET', '/kv/abort:2')).text, 'two');
          assert.equal((await http(url, 'GET', '/kv/abort:3')).status, 404);
          assert.equal((await http(url, 'GET', '/ping')).status, 200);
        },
      );

      test('a client that disconnects mid-PUT stores nothing', TIMEOUT, async (t) => {
        const client = await RawClient.open(run.server.port);
        client.write('PUT /kv/half HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\nhello');
        await until(() => client.serverHasRead(), t.signal);
        client.destroy();
        await until(() => client.serverHasClosed(), t.signal);
        assert.equal((await http(url, 'GET', '/kv/half')).status, 404);
      });

      test(
        'a client that disconnects before reading its answer does not crash the server',
        TIMEOUT,
        async (t) => {
          const clients = await Promise.all(
            Array.from({ length: 20 }, () => RawClient.open(run.server.port)),
          );
          for (const client of clients) {
            client.socket.end('GET /kv/big:1 HTTP/1.1\r\nHost: localhost\r\n\r\n');
            client.destroy();
          }
          await until(() => clients.every((client) => client.serverHasClosed()), t.signal);
          assert.equal((await http(url, 'GET', '/kv/big:1')).text, 'value-1');
        },
      );
    });
  });
