import assert from 'node:assert/strict';
import { request, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { FRONT_ENDS, http, startRunning, TIMEOUT, until, type Running } from './helpers.js';

/** One `GET /watch` stream read as NDJSON lines (or SSE text), until closed. */
class Stream {
  readonly lines: Record<string, unknown>[] = [];
  text = '';
  status = 0;
  headers: IncomingMessage['headers'] = {};
  ended = false;
  #buffer = '';
  #wake: (() => void) | null = null;
  readonly #req;

  constructor(
    url: string,
    path: string,
    headers: Record<string, string> = { Accept: 'application/x-ndjson' },
  ) {
    this.#req = request(`${url}${path}`, { headers, agent: false }, (res) => {
      this.status = res.statusCode!;
      this.headers = res.headers;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        // The last 64 KiB: enough for the assertions on SSE text, bounded under a load.
        this.text = (this.text + chunk).slice(-65_536);
        this.#buffer += chunk;
        for (let end = this.#buffer.indexOf('\n'); end >= 0; end = this.#buffer.indexOf('\n')) {
          const line = this.#buffer.slice(0, end);
          this.#buffer = this.#buffer.slice(end + 1);
          if (line.startsWith('{')) this.lines.push(JSON.parse(line) as Record<string, unknown>);
        }
        this.#wake?.();
      });
      res.on('end', () => {
        this.ended = true;
        this.#wake?.();
      });
      res.on('error', () => {});
    });
    this.#req.on('error', () => {
      this.ended = true;
      this.#wake?.();
    });
    this.#req.end();
  }

  /** Resolves once `condition` holds (checked after each chunk), or rejects when the stream ended first. */
  async until(condition: () => boolean): Promise<void> {
    while (!condition()) {
      if (this.ended) throw new Error(`the stream ended first; it held: ${this.text.slice(-400)}`);
      await new Promise<void>((resolve) => (this.#wake = resolve));
      this.#wake = null;
    }
  }

  /** The change events so far (no progress events). */
  get changes(): Record<string, unknown>[] {
    return this.lines.filter((line) => line.type !== 'progress');
  }

  close(): void {
    this.#req.destroy();
  }
}

const put = (url: string, key: string, value: string) => http(url, 'PUT', `/kv/${key}`, value);
const versionOf = (answer: { headers: Record<string, unknown> }) =>
  Number(String(answer.headers.etag).slice(1, -1));

for (const frontEnd of FRONT_ENDS)
  describe(`GET /watch on ${frontEnd}`, () => {
    let run: Running;
    before(async () => {
      run = await startRunning({ nodes: 3, http: frontEnd });
    }, TIMEOUT);
    after(() => run.stop(), TIMEOUT);

    test(
      'as Server-Sent Events: a progress event first, then puts and deletes of the prefix, each with its version as id',
      TIMEOUT,
      async (t) => {
        const stream = new Stream(run.url, '/watch?prefix=sse:', {});
        t.after(() => stream.close());
        await stream.until(() => stream.text.includes('event: progress'));
        assert.equal(stream.status, 200);
        assert.equal(stream.headers['content-type'], 'text/event-stream');
        const written = versionOf(await put(run.url, 'sse:a', 'hello'));
        await put(run.url, 'other:a', 'not watched');
        assert.equal((await http(run.url, 'DELETE', '/kv/sse:a')).status, 204);
        await stream.until(() => stream.text.includes('event: delete'));
        // A delete's answer carries no version: the stream's says it, after the put's.
        const deleted = Number(/id: (\d+)\nevent: delete/.exec(stream.text)![1]);
        assert.ok(deleted > written);
        const events = stream.text.split('\n\n').filter((e) => !e.includes('event: progress') && e !== '');
        assert.deepEqual(events, [
          `id: ${written}\nevent: put\ndata: {"type":"put","key":"sse:a","version":${written},"size":5,"value":"hello"}`,
          `id: ${deleted}\nevent: delete\ndata: {"type":"delete","key":"sse:a","version":${deleted}}`,
        ]);
      },
    );

    test(
      'as NDJSON when asked; a key watch hears its key only; binary values come as base64',
      TIMEOUT,
      async (t) => {
        const stream = new Stream(run.url, '/watch?key=nd:k');
        t.after(() => stream.close());
        await stream.until(() => stream.lines.length > 0);
        assert.equal(stream.headers['content-type'], 'application/x-ndjson');
        assert.equal(stream.lines[0]!.type, 'progress');
        await put(run.url, 'nd:k2', 'no');
        await http(run.url, 'PUT', '/kv/nd:k', Buffer.from([0xff, 0x00, 0x80]));
        await stream.until(() => stream.changes.length > 0);
        assert.deepEqual(
          stream.changes.map(({ key, size, value, encoding }) => ({ key, size, value, encoding })),
          [{ key: 'nd:k', size: 3, value: '/wCA', encoding: 'base64' }],
        );
      },
    );

    test(
      'resumes from a version with no gap and no duplicate, across 100 reconnects under a write load',
      TIMEOUT,
      async (t) => {
        const writes = 1000;
        const acknowledged: number[] = [];
        // Where the feed is before the first write: the first watch resumes from there.
        let since: number | undefined = run.cluster.feed.through;
        // Four writers, each writing its keys one after another: every version acknowledged is
        // known, whatever order the writes land in.
        const writing = Promise.all(
          [0, 1, 2, 3].map(async (writer) => {
            for (let i = writer; i < writes; i += 4) {
              const answer = await put(run.url, `res:${i % 37}`, `v${i}`);
              assert.equal(answer.status, 204);
              acknowledged.push(versionOf(answer));
            }
          }),
        );
        const seen: number[] = [];
        let reconnects = 0;
        // Reconnect after every 10 changes, from the last one taken.
        while (seen.length < writes) {
          const stream = new Stream(run.url, `/watch?prefix=res:&since=${since}`);
          t.after(() => stream.close());
          const take = Math.min(10, writes - seen.length);
          await stream.until(() => stream.changes.length >= take);
          stream.close();
          // The first ten: what came after them comes again on the next connection.
          for (const change of stream.changes.slice(0, take)) seen.push(change.version as number);
          since = seen.at(-1);
          reconnects++;
        }
        await writing;
        t.diagnostic(`${reconnects} reconnects, ${seen.length} changes`);
        assert.ok(reconnects >= 100);
        assert.equal(new Set(seen).size, seen.length, 'no change twice');
        assert.deepEqual(
          seen,
          [...seen].sort((a, b) => a - b),
          'in version order',
        );
        assert.deepEqual(
          seen,
          [...acknowledged].sort((a, b) => a - b),
          'every acknowledged write, and nothing else',
        );
      },
    );
  });

describe('a watch across membership changes', () => {
  test(
    'a watch hears every acknowledged write while a node crashes and restarts, a node joins and one leaves',
    TIMEOUT,
    async (t) => {
      const run = await startRunning({ nodes: 3 });
      t.after(() => run.stop());
      const stream = new Stream(run.url, `/watch?prefix=m:&since=${run.cluster.feed.through}`);
      t.after(() => stream.close());
      const acknowledged: number[] = [];
      let n = 0;
      const write = async (count: number) => {
        for (let i = 0; i < count; i++, n++) {
          const answer = await put(run.url, `m:${n % 50}`, `v${n}`);
          if (answer.status === 204) acknowledged.push(versionOf(answer));
        }
      };
      await write(50);
      assert.equal((await http(run.url, 'POST', '/cluster/nodes/1/crash')).status, 200);
      await write(50);
      assert.equal((await http(run.url, 'POST', '/cluster/nodes/1/restart')).status, 200);
      await write(50);
      assert.equal((await http(run.url, 'POST', '/cluster/nodes')).status, 200);
      await write(50);
      assert.equal((await http(run.url, 'DELETE', '/cluster/nodes/0')).status, 200);
      await write(50);
      assert.ok(acknowledged.length >= 200, `${acknowledged.length} of 250 writes acknowledged`);
      await stream.until(() => stream.changes.length >= acknowledged.length);
      assert.deepEqual(
        stream.changes.map((c) => c.version),
        acknowledged,
        'every acknowledged write, once, in order, and nothing else',
      );
    },
  );
});

describe('GET /watch against a short history', () => {
  test(
    'a since older than the changes kept is 410 HISTORY_COMPACTED with the oldest version to watch from',
    TIMEOUT,
    async (t) => {
      const run = await startRunning({ nodes: 1, watchHistory: 3 });
      t.after(() => run.stop());
      // Watched from the start: the feed keeps changes once something asks where it is.
      assert.ok(run.cluster.feed.through > 0);
      const versions: number[] = [];
      for (let i = 0; i < 5; i++) versions.push(versionOf(await put(run.url, `c:${i}`, 'x')));
      const refused = await http(run.url, 'GET', `/watch?since=${versions[0]}`);
      assert.equal(refused.status, 410);
      const body = (refused.json as { error: { code: string; oldest: number } }).error;
      assert.equal(body.code, 'HISTORY_COMPACTED');
      assert.equal(body.oldest, versions[1], 'versions 3, 4 and 5 are kept: watch from 2');
      const resumed = new Stream(run.url, `/watch?since=${body.oldest}`);
      t.after(() => resumed.close());
      await resumed.until(() => resumed.changes.length === 3);
      assert.deepEqual(
        resumed.changes.map((c) => c.version),
        versions.slice(2),
      );
    },
  );
});

describe('GET /kv/{key}?index=V&wait=S: a blocking read', () => {
  let run: Running;
  before(async () => {
    run = await startRunning({ nodes: 3 });
  }, TIMEOUT);
  after(() => run.stop(), TIMEOUT);

  test(
    'answers at once when the key is past the index, and says the index to wait past next',
    TIMEOUT,
    async () => {
      const version = versionOf(await put(run.url, 'b:now', 'one'));
      const answer = await http(run.url, 'GET', `/kv/b:now?index=${version - 1}&wait=60`);
      assert.equal(answer.text, 'one');
      assert.equal(answer.headers['x-thunderdb-index'], String(version));
    },
  );

  test('waits until a write passes the index, then answers the new value', TIMEOUT, async () => {
    const version = versionOf(await put(run.url, 'b:wait', 'old'));
    const waiting = http(run.url, 'GET', `/kv/b:wait?index=${version}&wait=60`);
    // The read is under way once its wait is registered on the feed.
    await until(() => run.cluster.feed.watchers > 0, AbortSignal.timeout(60_000));
    const newer = versionOf(await put(run.url, 'b:wait', 'new'));
    const answer = await waiting;
    assert.equal(answer.text, 'new');
    assert.equal(answer.headers['x-thunderdb-index'], String(newer));
    assert.equal(run.cluster.feed.watchers, 0, 'the wait let go of its subscription');
  });

  test(
    'a wait that ends answers what the key holds; an absent key answers 404 with an index to wait past',
    TIMEOUT,
    async () => {
      const version = versionOf(await put(run.url, 'b:quiet', 'same'));
      const answer = await http(run.url, 'GET', `/kv/b:quiet?index=${version}&wait=0.05`);
      assert.equal(answer.text, 'same');
      assert.equal(answer.headers['x-thunderdb-index'], String(version));
      const absent = await http(run.url, 'GET', '/kv/b:never?index=0&wait=0.05');
      assert.equal(absent.status, 404);
      assert.ok(Number(absent.headers['x-thunderdb-index']) > 0);
      const refused = await http(run.url, 'GET', '/kv/b:quiet?wait=5');
      assert.equal(refused.status, 400);
    },
  );
});

describe('a watcher that stops reading', () => {
  test('is cut once more than its buffer waits for it, and the others go on', TIMEOUT, async (t) => {
    const run = await startRunning({ nodes: 1 });
    t.after(() => run.stop());
    const port = new URL(run.url).port;
    // A raw connection that asks and never reads: the kernel's buffers fill, then ours.
    const socket = connect(Number(port), '127.0.0.1');
    await once(socket, 'connect');
    socket.write(
      'GET /watch?prefix=slow: HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/x-ndjson\r\n\r\n',
    );
    socket.pause();
    const closed = once(socket, 'close');
    socket.on('error', () => {});
    await until(() => run.cluster.feed.watchers === 1, AbortSignal.timeout(60_000));
    const reader = new Stream(run.url, '/watch?prefix=slow:');
    t.after(() => reader.close());
    await reader.until(() => reader.lines.length > 0);
    const value = 'x'.repeat(1000);
    const body = Array.from({ length: 500 }, (_, i) => `slow:${i} ${value}`).join('\n');
    for (let batch = 0; run.cluster.feed.watchers > 1; batch++) {
      if (batch > 200) assert.fail('the watcher that does not read was never cut');
      const answer = await http(run.url, 'POST', '/kv', body, { 'Content-Type': 'text/plain' });
      assert.equal(answer.status, 200);
    }
    // Cut: what it is sent ends (read on to see the end).
    socket.resume();
    await closed;
    const metrics = (await http(run.url, 'GET', '/metrics')).text;
    assert.deepEqual(
      metrics.match(/^thunderdb_watchers_cut_total .*$/m)?.[0],
      'thunderdb_watchers_cut_total 1',
    );
    // The reader that reads is still there, and hears what comes next.
    await put(run.url, 'slow:last', 'after');
    await reader.until(() => reader.changes.some((c) => c.key === 'slow:last'));
  });
});
