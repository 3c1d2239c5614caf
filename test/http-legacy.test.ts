import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Ring } from '../src/ring/ring.js';
import { codeOf, FRONT_ENDS, http, type Running, settled, startRunning, TIMEOUT } from './helpers.js';

for (const frontEnd of FRONT_ENDS)
  describe(`on ${frontEnd}`, () => {
    describe("the original ThunderDB's routes", () => {
      let run: Running;
      let url: string;
      before(async () => {
        run = await startRunning({ http: frontEnd, nodes: 3 });
        url = run.url;
      }, TIMEOUT);
      after(() => run.stop(), TIMEOUT);

      test('GET /ping answers {"service": "node", "status": "OK"}', TIMEOUT, async () => {
        const answer = await http(url, 'GET', '/ping');
        assert.equal(answer.status, 200);
        assert.deepEqual(answer.json, { service: 'node', status: 'OK' });
      });

      test(
        'POST /put stores one pair and answers an empty 200; GET /get/{key} answers {"key": "value"}',
        TIMEOUT,
        async () => {
          const put = await http(url, 'POST', '/put', JSON.stringify({ new_foo: 'new_bar' }));
          assert.equal(put.status, 200);
          assert.equal(put.body.length, 0);
          const got = await http(url, 'GET', '/get/new_foo');
          assert.equal(got.status, 200);
          assert.deepEqual(got.json, { new_foo: 'new_bar' });
          assert.equal((await http(url, 'GET', '/kv/new_foo')).text, 'new_bar');
        },
      );

      test('GET /get/{key} of an absent key is 404', TIMEOUT, async () => {
        const answer = await http(url, 'GET', '/get/foo1');
        assert.equal(answer.status, 404);
        assert.equal(codeOf(answer), 'KEY_NOT_FOUND');
      });

      const badPuts: [string, string, string][] = [
        ['two pairs', '{"a":"1","b":"2"}', 'BAD_REQUEST'],
        ['no pair', '{}', 'BAD_REQUEST'],
        ['an array', '[["a","1"]]', 'BAD_REQUEST'],
        ['a number value', '{"a":1}', 'BAD_REQUEST'],
        ['broken JSON', '{"a":', 'INVALID_JSON'],
        ['an empty key', '{"":"v"}', 'INVALID_KEY'],
      ];
      for (const [what, body, code] of badPuts) {
        test(`POST /put with ${what} is 400 ${code} and stores nothing`, TIMEOUT, async () => {
          const before = (await http(url, 'GET', '/snapshot')).text;
          const answer = await http(url, 'POST', '/put', body);
          assert.equal(answer.status, 400);
          assert.equal(codeOf(answer), code);
          assert.equal((await http(url, 'GET', '/snapshot')).text, before);
        });
      }

      test(
        "GET /snapshot is every pair once, as one object; ?node=ID is that node's data, the replicas it holds included",
        TIMEOUT,
        async (t) => {
          const pairs = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`snap:${i}`, `v${i}`]));
          for (const [k, v] of Object.entries(pairs))
            await http(url, 'POST', '/put', JSON.stringify({ [k]: v }));
          const text = (await http(url, 'GET', '/snapshot')).text;
          const all = JSON.parse(text) as Record<string, string>;
          for (const [k, v] of Object.entries(pairs)) assert.equal(all[k], v);
          // Each key once in the text, though three nodes hold it.
          assert.equal(text.split('"snap:7"').length, 2);

          await settled(run.cluster, t.signal); // W = 2: the third copy lands a moment later
          const ring = new Ring({ nodes: 3, replicas: 3 });
          for (let node = 0; node < 3; node++) {
            const held = (await http(url, 'GET', `/snapshot?node=${node}`)).json as Record<string, string>;
            for (const key of Object.keys(all)) {
              assert.equal(key in held, ring.locate(key).replicas.includes(node), `${key} on node ${node}`);
            }
          }
        },
      );

      for (const node of ['3', '-1', 'x']) {
        test(`GET /snapshot?node=${node} is 400 BAD_REQUEST`, TIMEOUT, async () => {
          const answer = await http(url, 'GET', `/snapshot?node=${node}`);
          assert.equal(answer.status, 400);
          assert.equal(codeOf(answer), 'BAD_REQUEST');
        });
      }
    });
  });
