import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ThunderHttpError } from '../src/client/index.js';
import { loadFileOverHttp } from '../src/load/http-load.js';
import { fixture, FRONT_ENDS, startRunning, TIMEOUT } from './helpers.js';
import { linesIn, pairOfLine, writeLoadFile } from './load-fixtures.js';

for (const frontEnd of FRONT_ENDS)
  describe(`on ${frontEnd}`, () => {
    test(
      'loadFileOverHttp() streams the sample file and reports what the server stored',
      TIMEOUT,
      async (t) => {
        const run = await startRunning({ http: frontEnd, nodes: 3 });
        t.after(() => run.stop());
        const report = await loadFileOverHttp(run.url, fixture('data_demo_10000.txt'));
        assert.equal(report.loaded, 10_000);
        assert.equal(report.rejected, 0);
        assert.ok(report.seconds > 0);
        assert.equal(
          (await run.cluster.get('eedd9f68-0d6b-41f1-9061-05a0dc373bf3'))?.toString('latin1'),
          '69c3cb9c-a20a-4244-94f7-5bc2070db283',
        );
      },
    );

    test(
      'loadFileOverHttp() into a cluster with too few nodes up fails with the code and the count stored',
      TIMEOUT,
      async (t) => {
        const run = await startRunning({ http: frontEnd, nodes: 3 });
        t.after(() => run.stop());
        // Replicas 3, W 2: one node down is carried, two are not.
        await run.cluster.crash(1);
        await run.cluster.crash(2);
        // The server's error as the client verbs get it: its code, status and the pairs stored.
        await assert.rejects(loadFileOverHttp(run.url, fixture('data_demo_10000.txt')), (err: unknown) => {
          assert.ok(err instanceof ThunderHttpError);
          assert.deepEqual(
            [err.code, err.status, typeof err.details.written],
            ['QUORUM_NOT_MET', 503, 'number'],
          );
          return true;
        });
      },
    );

    test(
      'loadFileOverHttp() of a directory rejects with one line saying so, and sends nothing',
      TIMEOUT,
      async (t) => {
        const run = await startRunning({ http: frontEnd, nodes: 1 });
        t.after(() => run.stop());
        const dir = await mkdtemp(join(tmpdir(), 'thunderdb-'));
        await assert.rejects(loadFileOverHttp(run.url, dir), {
          code: 'EISDIR',
          message: `cannot load ${dir}: it is a directory; give a file of "key value" lines`,
        });
      },
    );

    test(
      'loadFileOverHttp() stopped by its signal ends the body after a whole line and reports what the server stored',
      TIMEOUT,
      async (t) => {
        const run = await startRunning({ http: frontEnd, nodes: 2 });
        t.after(() => run.stop());
        const file = await writeLoadFile(30_000); // about 3 MB: three 1 MiB chunks
        t.after(() => file.remove());
        const controller = new AbortController();
        // The first progress draw comes as the first chunk is read: stop there.
        const out = { write: () => controller.abort() };
        const report = await loadFileOverHttp(run.url, file.path, { out, signal: controller.signal });
        const stop = linesIn(1 << 20);
        assert.equal(report.stoppedAfterLine, stop);
        assert.equal(report.loaded, stop, 'the server stored every line sent');
        assert.equal(report.rejected, 0, 'the first chunk ends mid-line; that part was not sent');
        const [lastKey, lastValue] = pairOfLine(stop);
        assert.equal((await run.cluster.get(lastKey))?.toString('latin1'), lastValue);
        assert.equal(await run.cluster.get(pairOfLine(stop + 1)[0]), undefined);
      },
    );

    test(
      'loadFileOverHttp() fails when a node fails pairs in flight after the rest were acknowledged',
      TIMEOUT,
      async (t) => {
        const run = await startRunning({ http: frontEnd, nodes: 3 });
        t.after(() => run.stop());
        let crashed = false;
        const out = {
          write: () => {
            // The first draw comes as the only chunk is read, before the server has it.
            if (!crashed) void run.cluster.crash(2);
            crashed = true;
          },
        };
        const outcome = await loadFileOverHttp(run.url, fixture('data_demo_10000.txt'), { out }).then(
          (report) => report,
          (err: Error) => err,
        );
        // Never a success for fewer pairs than the file holds.
        if ('loaded' in outcome)
          assert.equal(outcome.loaded, 10_000, 'a load that lost pairs reported success');
        else {
          assert.ok(outcome instanceof ThunderHttpError, String(outcome));
          assert.deepEqual([outcome.code, outcome.status], ['NODE_UNAVAILABLE', 503]);
          assert.equal(typeof outcome.details.written, 'number');
        }
        assert.ok(crashed);
      },
    );
  });
