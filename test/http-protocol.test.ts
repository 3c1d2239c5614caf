import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { TRAITS } from '../src/http/front-ends.js';
import { codeOf, excerpt, FRONT_ENDS, http, type Running, startRunning, TIMEOUT, until } from './helpers.js';
import { parseResponses, RawClient, rawOnce } from './raw-http.js';

const GET = (path: string) => `GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`;

for (const frontEnd of FRONT_ENDS)
  describe(`on ${frontEnd}`, () => {
    describe('HTTP framing (RFC 9112 §6): request smuggling', () => {
      let run: Running;
      before(async () => (run = await startRunning({ http: frontEnd, nodes: 2 })), TIMEOUT);
      after(() => run.stop(), TIMEOUT);

      // A routed GET, no route (404) and a method the route does not answer (405): the 404 and
      // 405 catch-alls must refuse the framing too, or the hidden request runs behind them.
      for (const front of ['GET /ping', 'GET /nope', 'PATCH /kv/x', 'POST /ping']) {
        test(
          `two differing Content-Length headers on ${front}: refused, and the DELETE hidden behind never runs`,
          TIMEOUT,
          async () => {
            await run.cluster.put('victim', 'still here');
            // uWS reads the first length (1), so a proxy that read the second (40) would see one
            // request where the server sees two.
            const smuggled =
              `${front} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\nContent-Length: 40\r\n\r\nx` +
              'DELETE /kv/victim HTTP/1.1\r\nHost: localhost\r\n\r\n';
            const { data, closed } = await rawOnce(run.server.port, smuggled);
            assert.ok(closed, 'the connection is closed');
            assert.ok(!/^HTTP\/1\.1 204/m.test(data.toString()), data.toString());
            assert.equal((await run.cluster.get('victim'))?.toString(), 'still here');
          },
        );
      }

      test(
        'two differing Content-Length headers alone answer 400 BAD_REQUEST and store nothing',
        TIMEOUT,
        async () => {
          const { data, closed } = await rawOnce(
            run.server.port,
            'PUT /kv/dup-cl HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nv',
          );
          const [answer] = parseResponses(data).responses;
          assert.equal(answer?.status, 400, data.toString());
          assert.match(answer.body, /"code":"BAD_REQUEST"/);
          assert.ok(closed);
          assert.equal(await run.cluster.get('dup-cl'), undefined);
        },
      );

      for (const coding of ['gzip', 'xchunked', 'chunked, gzip', 'gzip, chunked']) {
        test(
          `Transfer-Encoding: ${coding} answers 501 UNSUPPORTED_TRANSFER_ENCODING and stores nothing`,
          TIMEOUT,
          async () => {
            const key = `te-${coding.replace(/\W/g, '')}`;
            const { data, closed } = await rawOnce(
              run.server.port,
              `PUT /kv/${key} HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: ${coding}\r\n\r\n1\r\nx\r\n0\r\n\r\n`,
            );
            const [answer] = parseResponses(data).responses;
            assert.equal(answer?.status, 501, data.toString());
            assert.match(answer.body, /"code":"UNSUPPORTED_TRANSFER_ENCODING"/);
            assert.ok(closed);
            assert.equal(await run.cluster.get(key), undefined);
          },
        );
      }

      test('Transfer-Encoding: chunked twice answers 400; chunked itself still works', TIMEOUT, async () => {
        const twice = await rawOnce(
          run.server.port,
          'PUT /kv/te-twice HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n',
        );
        assert.equal(parseResponses(twice.data).responses[0]?.status, 400, twice.data.toString());
        assert.equal(await run.cluster.get('te-twice'), undefined);
        const once = await http(run.url, 'PUT', '/kv/te-once', 'x', { 'Transfer-Encoding': 'chunked' });
        assert.equal(once.status, 204);
        assert.equal((await run.cluster.get('te-once'))?.toString(), 'x');
      });

      test(
        'Transfer-Encoding with Content-Length closes the connection and stores nothing',
        TIMEOUT,
        async () => {
          const { data, closed } = await rawOnce(
            run.server.port,
            'PUT /kv/te-cl HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n1\r\nx\r\n0\r\n\r\n',
          );
          assert.ok(closed);
          assert.equal(await run.cluster.get('te-cl'), undefined);
          // uWS closes it with no answer; node:http's parser refuses it, and the answer says why.
          if (TRAITS[frontEnd].answersMalformed) {
            const [answer] = parseResponses(data).responses;
            assert.equal(answer?.status, 400, excerpt(data));
            assert.match(answer.body, /"code":"BAD_REQUEST".*both Transfer-Encoding and Content-Length/);
          } else assert.equal(data.length, 0, excerpt(data));
        },
      );
    });

    describe('conditional headers sent as several lines (RFC 9110 §5.3: one list)', () => {
      let run: Running;
      before(async () => (run = await startRunning({ http: frontEnd, nodes: 2 })), TIMEOUT);
      after(() => run.stop(), TIMEOUT);

      /** A PUT of `value` to `key` with these header lines; the answer's status. */
      const put = async (key: string, value: string, lines: string[]) => {
        const request =
          `PUT /kv/${key} HTTP/1.1\r\nHost: localhost\r\n${lines.map((l) => `${l}\r\n`).join('')}` +
          `Content-Length: ${value.length}\r\nConnection: close\r\n\r\n${value}`;
        const { data } = await rawOnce(run.server.port, request);
        const [answer] = parseResponses(data).responses;
        assert.ok(answer, data.toString());
        return answer;
      };

      test('an empty second If-Match line does not drop the condition of the first', TIMEOUT, async () => {
        await run.cluster.put('lease', 'held');
        const answer = await put('lease', 'stolen', ['If-Match: "1"', 'If-Match:']);
        assert.equal(answer.status, 412, answer.body);
        assert.equal((await run.cluster.get('lease'))?.toString(), 'held');
      });

      test('If-Match lines are one list: a tag on the second line matches', TIMEOUT, async () => {
        const version = await run.cluster.put('renew', 'first');
        const answer = await put('renew', 'second', ['If-Match: "1"', `If-Match: "${version}"`]);
        assert.equal(answer.status, 204, answer.body);
        assert.equal((await run.cluster.get('renew'))?.toString(), 'second');
      });

      test('an If-Match with no tag at all is refused (400), not read as no condition', TIMEOUT, async () => {
        await run.cluster.put('bare', 'kept');
        const answer = await put('bare', 'overwritten', ['If-Match:']);
        assert.equal(answer.status, 400, answer.body);
        assert.match(answer.body, /"code":"BAD_REQUEST"/);
        assert.equal((await run.cluster.get('bare'))?.toString(), 'kept');
      });
    });

    describe('HEAD', () => {
      let run: Running;
      before(async () => {
        run = await startRunning({ http: frontEnd, nodes: 2 });
        await run.cluster.put('h', 'hello');
      }, TIMEOUT);
      after(() => run.stop(), TIMEOUT);

      // Every GET route answered with a length, each with a path whose GET answer does not
      // change between two calls. /snapshot streams (chunked): it has its own test below.
      const routes = [
        '/health',
        '/ping',
        '/get/h',
        '/kv/h',
        '/kv?prefix=h',
        '/cluster/locate/h',
        '/get/missing',
        '/kv/missing',
        '/kv?limit=0',
        '/kv/%ZZ',
      ];
      for (const path of routes) {
        test(
          `HEAD ${path} sends GET's status and headers, no body, and the connection stays in step`,
          TIMEOUT,
          async (t) => {
            const client = await RawClient.open(run.server.port);
            t.after(() => client.destroy());
            client.write(GET(path));
            const [get] = await client.responses(1);
            client.data = Buffer.alloc(0);
            client.write(`HEAD ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
            await client.responses(1, [true]);
            // A body sent after the head would be read as the start of this answer.
            client.write(GET('/ping'));
            const [head, next] = await client.responses(2, [true]);
            assert.equal(head?.status, get!.status);
            assert.equal(head.headers['content-type'], get!.headers['content-type']);
            assert.equal(head.headers['content-length'], get!.headers['content-length']);
            assert.equal(head.body, '');
            assert.equal(next?.status, 200, client.data.toString());
            assert.equal(next.body, '{"service":"node","status":"OK"}');
          },
        );
      }

      for (const path of ['/snapshot', '/snapshot?node=0']) {
        test(
          `HEAD ${path} answers 200 with a JSON Content-Type, no body, and does not walk the nodes`,
          TIMEOUT,
          async () => {
            const before = (await run.cluster.nodes()).map((n) => n.ops!);
            const client = await RawClient.open(run.server.port);
            client.write(`HEAD ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
            await client.responses(1, [true]);
            client.write(GET('/ping'));
            const [head, next] = await client.responses(2, [true]);
            client.destroy();
            assert.equal(head?.status, 200);
            assert.equal(head.headers['content-type'], 'application/json');
            assert.equal(head.body, '');
            assert.equal(next?.status, 200);
            // Each node's ops grew by the second stats call only: no snapshot slice was read.
            const after = (await run.cluster.nodes()).map((n) => n.ops!);
            assert.deepEqual(
              after,
              before.map((ops) => ops + 1),
            );
          },
        );
      }

      test('HEAD /cluster answers 200 with a JSON Content-Type and a length, no body', TIMEOUT, async () => {
        const client = await RawClient.open(run.server.port);
        client.write(`HEAD /cluster HTTP/1.1\r\nHost: localhost\r\n\r\n`);
        await client.responses(1, [true]);
        client.write(GET('/ping'));
        const [head, next] = await client.responses(2, [true]);
        client.destroy();
        assert.equal(head?.status, 200);
        assert.equal(head.headers['content-type'], 'application/json');
        assert.ok(Number(head.headers['content-length']) > 0);
        assert.equal(next?.status, 200);
      });

      test('HEAD on a route without it (/put) and on no route answers with no body', TIMEOUT, async (t) => {
        for (const path of ['/put', '/nowhere']) {
          const client = await RawClient.open(run.server.port);
          t.after(() => client.destroy());
          client.write(`HEAD ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
          // A body sent after the head would be read as the start of the next answer.
          client.write(GET('/ping'));
          const [head, next] = await client.responses(2, [true]);
          assert.equal(head?.status, path === '/put' ? 405 : 404);
          assert.equal(head.body, '');
          assert.equal(next?.status, 200, `no body after the head: ${excerpt(client.data)}`);
          assert.equal(next.body, '{"service":"node","status":"OK"}');
        }
      });
    });

    describe('pipelining', () => {
      let run: Running;
      before(async () => (run = await startRunning({ http: frontEnd, nodes: 2 })), TIMEOUT);
      after(() => run.stop(), TIMEOUT);

      test(
        'twelve requests to routes answered at once, written together, are all answered in order',
        TIMEOUT,
        async (t) => {
          const client = await RawClient.open(run.server.port);
          t.after(() => client.destroy());
          const paths = Array.from({ length: 12 }, (_, i) =>
            i % 3 === 0 ? '/ping' : i % 3 === 1 ? '/cluster/faults' : '/kv/%ZZ',
          );
          client.write(paths.map(GET).join(''));
          const answers = await client.responses(12);
          assert.deepEqual(
            answers.map((a) => a.status),
            paths.map((p) => (p === '/kv/%ZZ' ? 400 : 200)),
          );
          for (let i = 1; i < 12; i += 3) assert.equal(answers[i]!.body, '{"faults":[]}');
        },
      );

      // TRAITS.slowClients: a body that stops coming is not held for ever, on either front end.
      test(
        `a client that stops mid-body is closed (${TRAITS[frontEnd].slowClients}), and nothing is stored`,
        TIMEOUT,
        async (t) => {
          const client = await RawClient.open(run.server.port);
          t.after(() => client.destroy());
          client.write(
            'PUT /kv/halfway HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n0123456789',
          );
          await client.until(() => client.closed);
          assert.equal(client.data.length, 0, excerpt(client.data));
          assert.equal(await run.cluster.get('halfway'), undefined);
        },
      );

      if (!TRAITS[frontEnd].pipelining) {
        // uWS 20.30 cannot parse a request while an earlier one on the connection waits for its
        // answer: it closes the connection (HttpContext.h, uWebSockets.js issue #277, "wontfix").
        // This pins that limitation as the README states it: no answers at all, never a wrong or
        // partial one, and the server carries on.
        test(
          'requests pipelined behind one answered later close the connection with no partial answer',
          TIMEOUT,
          async () => {
            const requests = [
              'PUT /kv/p1 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\n\r\n1',
              GET('/kv/p1'),
              'POST /kv/_mget HTTP/1.1\r\nHost: localhost\r\nContent-Length: 14\r\n\r\n{"keys":["a"]}',
              GET('/ping'),
            ];
            const { data, closed } = await rawOnce(run.server.port, requests.join(''));
            assert.ok(closed);
            assert.equal(data.length, 0, data.toString());
            assert.equal((await http(run.url, 'GET', '/ping')).status, 200);
          },
        );
        return;
      }

      test(
        '100 requests pipelined in one write get 100 answers, in order, each write applied',
        TIMEOUT,
        async (t) => {
          await Promise.all(Array.from({ length: 50 }, (_, i) => run.cluster.put(`pg${i}`, `old${i}`)));
          const client = await RawClient.open(run.server.port);
          t.after(() => client.destroy());
          const requests = Array.from(
            { length: 50 },
            (_, i) =>
              `PUT /kv/pp${i} HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${`new${i}`.length}\r\n\r\nnew${i}` +
              GET(`/kv/pg${i}`),
          );
          client.write(requests.join(''));
          const answers = await client.responses(100);
          assert.equal(answers.length, 100, excerpt(client.data));
          answers.forEach((answer, i) => {
            if (i % 2 === 0) assert.equal(answer.status, 204, `answer ${i}`);
            else assert.deepEqual([answer.status, answer.body], [200, `old${(i - 1) / 2}`], `answer ${i}`);
          });
          for (let i = 0; i < 50; i++) assert.equal((await run.cluster.get(`pp${i}`))?.toString(), `new${i}`);
        },
      );

      test('an answer ready before an earlier one on the connection waits for it', TIMEOUT, async (t) => {
        await run.cluster.put('slow', 'slow value');
        // Every message to and from the nodes is held 300 ms: the first GET answers that late,
        // the pings and the 400 behind it at once.
        const fault = await http(
          run.url,
          'POST',
          '/cluster/faults',
          JSON.stringify({ type: 'latency', ms: 300, nodes: [0, 1] }),
        );
        assert.equal(fault.status, 201, fault.text);
        t.after(() => http(run.url, 'DELETE', '/cluster/faults'));
        const client = await RawClient.open(run.server.port);
        t.after(() => client.destroy());
        const paths = ['/kv/slow', ...Array.from({ length: 10 }, () => '/ping'), '/kv/%ZZ'];
        client.write(paths.map(GET).join(''));
        const answers = await client.responses(paths.length);
        assert.deepEqual(
          answers.map((a) => a.status),
          [200, ...Array.from({ length: 10 }, () => 200), 400],
        );
        assert.equal(answers[0]!.body, 'slow value');
        assert.equal(answers[1]!.body, '{"service":"node","status":"OK"}');
      });

      test(
        'no request behind an answer that closes the connection is run (RFC 9112 §9.6)',
        TIMEOUT,
        async () => {
          await run.cluster.put('kept', 'still here');
          // A PUT refused before its body is read is answered with the connection closed; the
          // DELETE behind it in the same packet must not run.
          const { data, closed } = await rawOnce(
            run.server.port,
            'PUT /kv/%ZZ HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\n\r\nx' +
              GET('/ping').replace('GET /ping', 'DELETE /kv/kept'),
          );
          assert.ok(closed);
          const { responses, rest } = parseResponses(data);
          assert.deepEqual(
            responses.map((r) => r.status),
            [400],
          );
          assert.equal(rest.length, 0);
          assert.equal((await run.cluster.get('kept'))?.toString(), 'still here');
        },
      );

      // node:http hands the socket over for an upgrade: what node did for it (its error and
      // timeout handlers, holding it while an earlier answer is written) is the app's to do.
      test(
        'an upgrade pipelined behind another request is answered after it, and the server lives',
        TIMEOUT,
        async (t) => {
          const client = await RawClient.open(run.server.port);
          t.after(() => client.destroy());
          client.write(
            GET('/ping') +
              'GET /live HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
              'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
          );
          await client.until(() => /HTTP\/1\.1 101/.test(client.data.toString('latin1')));
          const text = client.data.toString('latin1');
          assert.ok(text.startsWith('HTTP/1.1 200'), excerpt(client.data));
          assert.ok(text.indexOf('{"service":"node"') < text.indexOf('HTTP/1.1 101'), excerpt(client.data));
          assert.equal((await http(run.url, 'GET', '/ping')).status, 200);
        },
      );

      test(
        'a client that resets the connection of an upgrade request leaves the server running',
        TIMEOUT,
        async () => {
          for (let i = 0; i < 3; i++) {
            const socket = connect(run.server.port, '127.0.0.1');
            await once(socket, 'connect');
            socket.write(
              'GET /kv/a HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: foo\r\n\r\n',
            );
            socket.resetAndDestroy();
            await once(socket, 'close');
          }
          assert.equal((await http(run.url, 'GET', '/ping')).status, 200);
        },
      );
    });

    describe('request bodies', () => {
      let run: Running;
      before(
        async () =>
          (run = await startRunning({
            http: frontEnd,
            nodes: 1,
            limits: { maxValueBytes: 4 * 1024 * 1024 },
          })),
        TIMEOUT,
      );
      after(() => run.stop(), TIMEOUT);

      test(
        'a value that arrives in several packets is stored byte for byte (each chunk is copied)',
        TIMEOUT,
        async (t) => {
          const value = Buffer.alloc(3 * 256 * 1024);
          for (let i = 0; i < value.length; i++) value[i] = (i * 7 + (i >> 10)) & 0xff;
          const client = await RawClient.open(run.server.port);
          t.after(() => client.destroy());
          client.write(
            `PUT /kv/pieces HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${value.length}\r\n\r\n`,
          );
          for (let at = 0; at < value.length; at += 256 * 1024) {
            client.write(value.subarray(at, at + 256 * 1024));
            // Read by the server before the next piece is sent: separate arrivals, each its own chunk.
            if (at + 256 * 1024 < value.length) await until(() => client.serverHasRead(), t.signal);
          }
          const [answer] = await client.responses(1);
          assert.equal(answer?.status, 204);
          const stored = await http(run.url, 'GET', '/kv/pieces');
          assert.ok(stored.body.equals(value), 'the stored value differs from what was sent');
        },
      );

      test(
        'an error answer to a kept-alive request carries its code and leaves the connection usable',
        TIMEOUT,
        async (t) => {
          const client = await RawClient.open(run.server.port);
          t.after(() => client.destroy());
          client.write(GET('/kv/absent'));
          const [missing] = await client.responses(1);
          assert.equal(missing?.status, 404);
          assert.equal(codeOf({ json: JSON.parse(missing.body) } as never), 'KEY_NOT_FOUND');
          client.write(GET('/ping'));
          assert.equal((await client.responses(2))[1]?.status, 200);
        },
      );
    });
  });
