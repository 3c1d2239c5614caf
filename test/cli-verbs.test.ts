import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { ThunderClient } from '../src/client/index.js';
import {
  CHILD_TIMEOUT_MS,
  closedPort,
  FRONT_ENDS,
  movableClock,
  type Running,
  startRunning,
  TIMEOUT,
} from './helpers.js';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));

interface Ran {
  code: number | null;
  stdout: Buffer;
  out: string;
  err: string;
}

/** Runs the CLI to its end with `stdin` as its input. */
async function cli(args: string[], stdin: Buffer | string = ''): Promise<Ran> {
  const child = spawn(process.execPath, [CLI, ...args], { timeout: CHILD_TIMEOUT_MS });
  const stdout: Buffer[] = [];
  let err = '';
  child.stdout.on('data', (d: Buffer) => stdout.push(d));
  child.stderr.on('data', (d: Buffer) => (err += d));
  child.stdin.end(stdin);
  const [code] = (await once(child, 'exit')) as [number | null];
  const bytes = Buffer.concat(stdout);
  return { code, stdout: bytes, out: bytes.toString('utf8'), err };
}

/** The one JSON document a `--json` run printed. */
function jsonOf(ran: Ran): Record<string, unknown> {
  return JSON.parse(ran.out) as Record<string, unknown>;
}

for (const frontEnd of FRONT_ENDS)
  describe(`on ${frontEnd}`, () => {
    describe('thunderdb client verbs against a real cluster', () => {
      // A wall clock that stands still: a TTL reads the same however long the verbs take to run.
      const clock = movableClock();
      let run: Running;
      let url: string[];
      let db: ThunderClient;
      before(async () => {
        run = await startRunning({ http: frontEnd, nodes: 3, clock });
        url = ['--url', run.url];
        db = new ThunderClient(run.url);
      }, TIMEOUT);
      after(() => run.stop(), TIMEOUT);

      test(
        'put then get prints the value exactly; get --json gives key, value (base64), text, etag, version, ttl',
        TIMEOUT,
        async () => {
          const put = await cli(['put', 'greeting', '007 hello', ...url]);
          assert.deepEqual([put.code, put.out, put.err], [0, '', '']);
          const got = await cli(['get', 'greeting', ...url]);
          assert.deepEqual([got.code, got.out], [0, '007 hello']);
          const json = await cli(['get', 'greeting', '--json', ...url]);
          const doc = jsonOf(json);
          const entry = await db.get('greeting');
          assert.deepEqual(doc, {
            key: 'greeting',
            value: Buffer.from('007 hello').toString('base64'),
            text: '007 hello',
            etag: entry!.etag,
            version: entry!.version,
            ttl: null,
          });
        },
      );

      test('put - stores the bytes of stdin exactly, and get writes them back exactly', TIMEOUT, async () => {
        const value = Buffer.from([...Array(256).keys(), 13, 10, 0, 10]);
        const put = await cli(['put', 'a/bin ü', '-', ...url], value);
        assert.equal(put.code, 0, put.err);
        const got = await cli(['get', 'a/bin ü', ...url]);
        assert.equal(got.code, 0);
        assert.deepEqual(got.stdout, value);
        assert.deepEqual(Buffer.from((await db.get('a/bin ü'))!.value), value);
        const json = jsonOf(await cli(['get', 'a/bin ü', '--json', ...url]));
        assert.equal(json.value, value.toString('base64'));
        assert.equal(json.text, null, 'not UTF-8: no text');
      });

      test('a key named "-" is a key, not stdin', TIMEOUT, async () => {
        assert.equal((await cli(['put', '-', 'dash', ...url])).code, 0);
        assert.equal((await cli(['get', '-', ...url])).out, 'dash');
        assert.equal(await db.getText('-'), 'dash', 'stored under "-" itself');
        assert.equal((await cli(['mget', '-', ...url])).out, '- dash\n');
      });

      test('values and keys that look like numbers are kept as typed', TIMEOUT, async () => {
        for (const [key, value] of [
          ['0x10', '1.10'],
          ['1e3', '007'],
          ['1.0', '1e3'],
        ]) {
          assert.equal((await cli(['put', key, value, ...url])).code, 0);
          assert.equal(await db.getText(key), value, `${key} = ${value}`);
          assert.equal((await cli(['get', key, ...url])).out, value);
        }
        assert.equal(
          (await cli(['mget', '1e3', '0x10', ...url])).out,
          '1e3 007\n0x10 1.10\n',
          'in the order named',
        );
      });

      test('a value that starts with a byte-order mark keeps those three bytes', TIMEOUT, async () => {
        const value = Buffer.from([0xef, 0xbb, 0xbf, 0x41]);
        assert.equal((await cli(['put', 'bom', '-', ...url], value)).code, 0);
        assert.deepEqual(Buffer.from((await db.get('bom'))!.value), value);
        assert.equal(jsonOf(await cli(['get', 'bom', '--json', ...url])).text, '\ufeffA');
        assert.equal(await db.getText('bom'), '\ufeffA');
      });

      test('an empty --if-match is refused, not a write without a condition', TIMEOUT, async () => {
        const put = await cli(['put', 'guarded', 'v', '--if-match', '', ...url]);
        assert.equal(put.code, 2);
        assert.match(put.err, /If-Match needs a tag/);
        assert.equal(await db.getText('guarded'), null, 'nothing written');
      });

      test(
        'export into a pipe closed early ends quietly, as a Unix tool does (141), without a stack trace',
        TIMEOUT,
        async () => {
          await db.putMany(Array.from({ length: 200 }, (_, i) => [`pipe/${i}`, 'x'.repeat(4096)] as const));
          const child = spawn(process.execPath, [CLI, 'export', 'pipe/', ...url], {
            timeout: CHILD_TIMEOUT_MS,
          });
          let err = '';
          child.stderr.on('data', (d: Buffer) => (err += d));
          // Like `| head -c 1`: read a little, then close the pipe with far more to come.
          await once(child.stdout, 'data');
          child.stdout.destroy();
          const [code] = (await once(child, 'exit')) as [number | null];
          assert.equal(code, 141);
          assert.equal(err, '');
        },
      );

      test('export --out into a path that cannot be written is one line and exit 2', TIMEOUT, async () => {
        const out = await cli(['export', '--out', '/nonexistent-dir/dump.ndjson', ...url]);
        assert.equal(out.code, 2);
        assert.match(
          out.err,
          /^thunderdb: ENOENT: no such file or directory, open '\/nonexistent-dir\/dump.ndjson'\n$/,
        );
      });

      test(
        'get of an absent key exits 1 with one line on stderr; --json prints the error document',
        TIMEOUT,
        async () => {
          const got = await cli(['get', 'nope', ...url]);
          assert.deepEqual(
            [got.code, got.out, got.err],
            [1, '', 'thunderdb: KEY_NOT_FOUND: key "nope" not found\n'],
          );
          const json = await cli(['get', 'nope', '--json', ...url]);
          assert.equal(json.code, 1);
          assert.deepEqual(jsonOf(json), {
            error: { code: 'KEY_NOT_FOUND', message: 'key "nope" not found', status: 404 },
          });
        },
      );

      test(
        'put --if-absent, --if-match: a failed condition exits 1; put --json gives key, etag, version',
        TIMEOUT,
        async () => {
          const first = jsonOf(await cli(['put', 'lock', 'a', '--if-absent', '--json', ...url]));
          assert.equal(first.key, 'lock');
          assert.match(first.etag as string, /^"\d+"$/);
          assert.equal(first.version, Number((first.etag as string).slice(1, -1)));
          const again = await cli(['put', 'lock', 'b', '--if-absent', ...url]);
          assert.equal(again.code, 1);
          // It says the key exists, not that it "is at another version".
          assert.equal(again.err, 'thunderdb: PRECONDITION_FAILED: key "lock" exists\n');
          // The bare version works as the tag does.
          const matched = await cli(['put', 'lock', 'c', '--if-match', String(first.version), ...url]);
          assert.equal(matched.code, 0, matched.err);
          assert.equal((await cli(['put', 'lock', 'd', '--if-match', first.etag as string, ...url])).code, 1);
          assert.equal(await db.getText('lock'), 'c');
        },
      );

      test(
        'del exits 0 when the key held a value, 1 when absent; --json gives key and deleted',
        TIMEOUT,
        async () => {
          await db.put('gone', 'x');
          assert.deepEqual(jsonOf(await cli(['del', 'gone', '--json', ...url])), {
            key: 'gone',
            deleted: true,
          });
          const again = await cli(['del', 'gone', ...url]);
          assert.deepEqual([again.code, again.err], [1, 'thunderdb: KEY_NOT_FOUND: key "gone" not found\n']);
        },
      );

      test(
        'ls prints every key of a prefix, one per line, across pages; --json gives keys',
        TIMEOUT,
        async () => {
          async function* pairs() {
            for (let i = 0; i < 2100; i++) yield [`ls/${String(i).padStart(4, '0')}`, 'v'] as const;
          }
          await db.putMany(pairs());
          const ls = await cli(['ls', 'ls/', ...url]);
          assert.equal(ls.code, 0, ls.err);
          const lines = ls.out.split('\n');
          assert.equal(lines.pop(), '');
          assert.equal(lines.length, 2100);
          assert.deepEqual(lines.slice(0, 2), ['ls/0000', 'ls/0001']);
          assert.equal(lines[2099], 'ls/2099');
          const json = jsonOf(await cli(['ls', 'ls/20', '--json', ...url]));
          assert.deepEqual(json, {
            keys: Array.from({ length: 100 }, (_, i) => `ls/20${String(i).padStart(2, '0')}`),
          });
        },
      );

      test(
        'mget prints "key value" lines for the keys found and exits 1 naming the absent; --json gives values',
        TIMEOUT,
        async () => {
          await db.putMany([
            ['m1', 'one'],
            ['m2', 'two'],
          ]);
          const all = await cli(['mget', 'm1', 'm2', ...url]);
          assert.deepEqual([all.code, all.out], [0, 'm1 one\nm2 two\n']);
          const some = await cli(['mget', 'm1', 'nope', 'm2', ...url]);
          assert.deepEqual(
            [some.code, some.out, some.err],
            [1, 'm1 one\nm2 two\n', 'thunderdb: 1 of 3 keys not found: nope\n'],
          );
          const json = await cli(['mget', 'm1', 'nope', '--json', ...url]);
          assert.equal(json.code, 1);
          assert.deepEqual(jsonOf(json), { values: { m1: 'one', nope: null } });
        },
      );

      test(
        'a request the server refuses exits 2; bad usage exits 2 with one line and a hint, not the help',
        TIMEOUT,
        async () => {
          const refused = await cli(['put', 'k', 'v', '-w', '9', ...url]);
          assert.equal(refused.code, 2);
          assert.equal(
            refused.err,
            'thunderdb: BAD_REQUEST: w must be from 1 to the replica count (3), got 9\n',
          );
          const json = await cli(['put', 'k', 'v', '-w', '9', '--json', ...url]);
          assert.equal((jsonOf(json).error as { code: string }).code, 'BAD_REQUEST');
          const usage = await cli(['get', ...url]);
          assert.deepEqual(
            [usage.code, usage.err],
            [
              2,
              'thunderdb: Not enough non-option arguments: got 0, need at least 1\ntry: thunderdb get --help\n',
            ],
          );
          const both = await cli(['put', 'k', 'v', '--if-absent', '--if-match', '1', ...url]);
          assert.deepEqual(
            [both.code, both.err],
            [
              2,
              'thunderdb: Arguments if-match and if-absent are mutually exclusive\ntry: thunderdb put --help\n',
            ],
          );
          const unknown = await cli(['node', 'crash', '1', '--bogus', ...url]);
          assert.deepEqual(
            [unknown.code, unknown.err],
            [2, 'thunderdb: Unknown argument: bogus\ntry: thunderdb node crash --help\n'],
          );
          const none = await cli([]);
          assert.equal(none.code, 2);
          assert.match(
            none.err,
            /^thunderdb: Name a command: cluster, load, .* or fault\ntry: thunderdb --help\n$/,
          );
          const plan = await cli(['node', 'plan', ...url]);
          assert.deepEqual([plan.code, plan.err], [2, 'thunderdb: give --add or --remove ID, one of them\n']);
        },
      );

      test(
        'nodes prints a table of id, state, keys, bytes, hints, ops; --json gives GET /cluster',
        TIMEOUT,
        async () => {
          const table = await cli(['nodes', ...url]);
          assert.equal(table.code, 0, table.err);
          const [header, ...rows] = table.out.split('\n');
          assert.match(header!, /^ID\s+STATE\s+KEYS\s+BYTES\s+HINTS\s+OPS\s+PARTITIONS$/);
          const status = await db.cluster();
          for (const node of status.nodes) {
            const row = rows.find((r) => r.startsWith(`${node.id} `));
            assert.ok(row, `a row for node ${node.id}`);
            assert.match(row, /^\d+\s+up\s+[\d,]+\s+[\d.]+ [KMG]?B\s+0\s+[\d,]+\s+34[12]$/);
          }
          assert.match(table.out, /\n3 nodes, 1024 partitions, replicas 3, r 2, w 2\n$/);
          const json = jsonOf(await cli(['nodes', '--json', ...url]));
          assert.deepEqual(
            (json.nodes as { id: number }[]).map((n) => n.id),
            [0, 1, 2],
          );
          assert.deepEqual(json.ring, status.ring);
        },
      );

      test('a server error exits 3: a write needing three replicas while one is down', TIMEOUT, async () => {
        const crash = await cli(['node', 'crash', '2', ...url]);
        assert.deepEqual([crash.code, crash.out], [0, 'node 2 crashed (was up, now down)\n']);
        const put = await cli(['put', 'k', 'v', '-w', '3', ...url]);
        assert.equal(put.code, 3);
        assert.match(put.err, /^thunderdb: QUORUM_NOT_MET: /);
        const nodes = await cli(['nodes', ...url]);
        assert.match(nodes.out, /\n2\s+down\s+-\s+-\s+0\s+-\s+34[12]\n/);
        const restart = jsonOf(await cli(['node', 'restart', '2', '--json', ...url]));
        assert.equal(restart.id, 2);
        assert.equal(restart.state, 'up');
        assert.equal(typeof (restart.refilled as { keys: number }).keys, 'number');
        assert.ok(Number.isInteger((restart.refilled as { ms: number }).ms), 'whole milliseconds');
        const again = await cli(['node', 'restart', '2', ...url]);
        assert.equal(again.code, 2);
        assert.match(again.err, /^thunderdb: CONFLICT: node 2 is up/);
      });

      test(
        'node plan, node add and node remove print what moved; --json gives the answers',
        TIMEOUT,
        async () => {
          const plan = await cli(['node', 'plan', '--add', ...url]);
          assert.match(plan.out, /^adding a node would move 768 partitions, [\d,]+ keys, [\d.]+ [KMG]?B\n$/);
          const planJson = jsonOf(await cli(['node', 'plan', '--add', '--json', ...url]));
          assert.deepEqual(Object.keys(planJson), ['add', 'moved']);
          const added = jsonOf(await cli(['node', 'add', '--json', ...url]));
          assert.equal(added.id, 3);
          assert.deepEqual(Object.keys(added), ['id', 'moved', 'ms']);
          assert.ok(Number.isInteger(added.ms), `whole milliseconds, not ${String(added.ms)}`);
          const leave = await cli(['node', 'plan', '--remove', '3', ...url]);
          assert.match(leave.out, /^removing node 3 would move /);
          const removed = await cli(['node', 'remove', '3', ...url]);
          assert.match(removed.out, /^node 3 removed: moved [\d,]+ partitions, [\d,]+ keys, .* in \d+ ms\n$/);
          assert.equal((await cli(['node', 'remove', '3', ...url])).code, 2);
        },
      );

      test(
        'export writes NDJSON lines, to stdout or --out; import loads them back with their expiry',
        TIMEOUT,
        async (t) => {
          const dir = await mkdtemp(join(tmpdir(), 'thunderdb-export-'));
          t.after(() => rm(dir, { recursive: true, force: true }));
          await db.put('exp/bytes', new Uint8Array([0, 255, 10]));
          await db.put('exp/ttl', 'soon', { ttl: 60 });
          const stdout = await cli(['export', 'exp/', ...url]);
          assert.equal(stdout.code, 0, stdout.err);
          const lines = stdout.out.trim().split('\n').sort();
          assert.equal(lines[0], JSON.stringify(['exp/bytes', Buffer.from([0, 255, 10]).toString('base64')]));
          assert.match(lines[1]!, /^\["exp\/ttl","c29vbg==",\d{13}\]$/);
          const file = join(dir, 'dump.ndjson');
          const toFile = await cli(['export', 'exp/', '--out', file, '--json', '--progress', ...url]);
          assert.equal(toFile.code, 0, toFile.err);
          assert.deepEqual(jsonOf(toFile), { exported: 2, bytes: (await readFile(file)).length, out: file });
          // Not a terminal: plain lines, at most one a second, so the first record's line at least.
          assert.match(toFile.err, /^[\d.]+ MB, [12] lines/m, 'progress on stderr');
          await db.delete('exp/bytes');
          await db.delete('exp/ttl');
          const imported = await cli(['import', file, ...url]);
          assert.equal(imported.code, 0, imported.err);
          // As load ends: the pairs, the seconds, the rate.
          const start = `imported 2 pairs from ${file} in `;
          assert.ok(imported.out.startsWith(start), imported.out);
          assert.match(imported.out.slice(start.length), /^\d+\.\d\d s \([\d,]+ pairs\/s\)\n$/);
          assert.deepEqual(Buffer.from((await db.get('exp/bytes'))!.value), Buffer.from([0, 255, 10]));
          assert.equal((await db.get('exp/ttl'))?.ttl, 60, 'the expiry came back with the key');
          const fromStdin = await cli(['import', '-', '--json', ...url], await readFile(file));
          assert.deepEqual(jsonOf(fromStdin), { written: 2, expired: 0 });
        },
      );

      test('import of a line that is not an export line exits 2 naming the line', TIMEOUT, async (t) => {
        const dir = await mkdtemp(join(tmpdir(), 'thunderdb-import-'));
        t.after(() => rm(dir, { recursive: true, force: true }));
        const file = join(dir, 'bad.ndjson');
        await writeFile(file, '["ok","dg=="]\n["bad","not base64!"]\n');
        const ran = await cli(['import', file, ...url]);
        assert.equal(ran.code, 2);
        assert.equal(
          ran.err,
          `thunderdb: ${file} line 2: expected ["key","<base64 value>"] or ["key","<base64 value>",EXPIRES_AT_MS]` +
            '; lines before it may already be stored (importing again after the fix is safe: it writes the same values)\n',
        );
      });
    });

    describe('node restart against a cluster of its own', () => {
      test(
        'shows the refill on stderr while it runs, and reports the keys the node gained, each once',
        { timeout: 60_000 },
        async (t) => {
          const own = await startRunning({ http: frontEnd, nodes: 3, timeoutMs: 200 });
          t.after(() => own.stop());
          const owned = new ThunderClient(own.url);
          await owned.putMany(Array.from({ length: 500 }, (_, i) => [`r/${i}`, 'v'.repeat(10)] as const));
          await own.cluster.crash(2);
          // Node 0 cut off: the refill waits for it (a write W acknowledged may be only there),
          // so the restart stays in flight until the test heals it.
          own.cluster.addFault({ type: 'partition', nodes: [0] });
          const child = spawn(process.execPath, [CLI, 'node', 'restart', '2', '--json', '--url', own.url], {
            timeout: 50_000,
          });
          let out = '';
          let err = '';
          child.stdout.on('data', (d: Buffer) => (out += d));
          child.stderr.on('data', (d: Buffer) => (err += d));
          // Not a terminal: a plain line a second. The first one is all the test waits for.
          await once(child.stderr, 'data');
          own.cluster.healAll();
          const [code] = (await once(child, 'exit')) as [number | null];
          assert.equal(code, 0, err);
          const lines = err.trimEnd().split('\n');
          for (const line of lines) {
            assert.match(
              line,
              /^(restarting node 2: starting its thread, replaying hints|refilling node 2: [0-2] of 2 sources done, [\d,]+ records \([\d.]+ [KM]?B\) sent), \d+ s$/,
            );
          }
          const { refilled } = JSON.parse(out) as { refilled: { keys: number; bytes: number; ms: number } };
          // Two replicas sent every key; the node gained each once (the copies from the second
          // were no newer than what it held).
          assert.equal(refilled.keys, 500);
          assert.equal(
            refilled.bytes,
            [...Array(500).keys()].reduce((sum, i) => sum + `r/${i}`.length + 10, 0),
          );
          assert.ok(Number.isInteger(refilled.ms));
        },
      );
    });

    describe('node restart on a terminal', () => {
      test(
        'redraws the refill in place, within the width, and clears it before the answer',
        { timeout: 60_000 },
        async (t) => {
          if (spawnSync('script', ['--version']).status !== 0)
            return t.skip('no script(1) to make a terminal');
          const own = await startRunning({ http: frontEnd, nodes: 3, timeoutMs: 200 });
          t.after(() => own.stop());
          await new ThunderClient(own.url).putMany([['t', 'v']]);
          await own.cluster.crash(2);
          own.cluster.addFault({ type: 'partition', nodes: [0] });
          const command = `stty cols 60 rows 24; exec '${process.execPath}' '${CLI}' node restart 2 --url ${own.url}`;
          // script(1) runs it on a pseudo-terminal: stderr is a TTY 60 columns wide.
          const child = spawn('script', ['-qec', command, '/dev/null'], { timeout: 50_000 });
          child.stdin.end();
          let out = '';
          child.stdout.on('data', (d: Buffer) => (out += d));
          // Two draws in place, then the refill may end.
          while ((out.match(/\r(restarting|refilling) node 2/g) ?? []).length < 2)
            await once(child.stdout, 'data');
          own.cluster.healAll();
          const [code] = (await once(child, 'exit')) as [number | null];
          assert.equal(code, 0, out);
          // Each draw: a carriage return, the text, then clear to the end of the row.
          const CLEAR = '\x1b[K';
          const draws = out
            .split('\r')
            .filter((piece) => piece.includes(CLEAR))
            .map((piece) => piece.slice(0, piece.indexOf(CLEAR)));
          assert.ok(draws.length >= 3, JSON.stringify(out));
          for (const draw of draws.slice(0, -1)) {
            assert.match(draw, /^(restarting|refilling) node 2/);
            assert.ok(draw.length <= 59, `${draw.length} columns: ${draw}`);
          }
          assert.equal(draws.at(-1), '', 'cleared before the answer');
          assert.ok(out.includes(`${CLEAR}node 2 restarted (up): `), JSON.stringify(out));
        },
      );
    });

    describe('thunderdb client verbs without a cluster', () => {
      test(
        'a bad number for any numeric option or argument is one line naming it as typed, exit 2',
        { timeout: 180_000 },
        async () => {
          const numeric: [string[], string][] = [
            ...[
              'nodes',
              'port',
              'partitions',
              'replicas',
              'r',
              'w',
              'tombstone-grace-ms',
              'seed',
              'anti-entropy-ms',
              'max-key-bytes',
              'max-value-bytes',
              'max-body-bytes',
              'max-keys-per-request',
              'max-heavy-requests',
              'timeout-ms',
              'grace-ms',
              'max-connections',
              'max-buffered-body-bytes',
            ].map((name): [string[], string] => [['cluster', `--${name}`, 'abc'], `--${name}`]),
            ...[
              'seed',
              'nodes',
              'replicas',
              'r',
              'w',
              'clients',
              'keys',
              'ops',
              'time-limit',
              'think-ms',
              'timeout-ms',
              'converge-ms',
            ].map((name): [string[], string] => [['check', `--${name}`, 'abc'], `--${name}`]),
            [['get', 'k', '-r', 'abc'], '-r'],
            [['put', 'k', 'v', '--ttl', 'abc'], '--ttl'],
            [['put', 'k', 'v', '-w', 'abc'], '-w'],
            [['del', 'k', '-w', 'abc'], '-w'],
            [['node', 'crash', 'abc'], 'the node id'],
            [['node', 'remove', 'abc'], 'the node id'],
            [['node', 'restart', 'abc'], 'the node id'],
            [['node', 'plan', '--remove', 'abc'], '--remove'],
            [['fault', 'add', 'latency', '--ms', 'abc'], '--ms'],
            [['fault', 'add', 'latency', '--ms', '5', '--jitter-ms', 'abc'], '--jitter-ms'],
            [['fault', 'add', 'loss', '--probability', 'abc'], '--probability'],
          ];
          const url = ['--url', `http://127.0.0.1:${await closedPort()}`];
          for (const [args, flag] of numeric) {
            const ran = await cli(args[0] === 'cluster' || args[0] === 'check' ? args : [...args, ...url]);
            const what = args.join(' ');
            assert.equal(ran.code, 2, what);
            assert.equal(ran.err.split('\n')[0], `thunderdb: ${flag} takes a number, got "abc"`, what);
            assert.doesNotMatch(ran.err, /NaN|undefined/, what);
          }
          // Texts the verbs read themselves.
          const read: [string[], string][] = [
            [
              ['fault', 'add', 'partition', '--nodes', '1,x'],
              '--nodes takes node ids, comma-separated, got "1,x"',
            ],
            [['fault', 'heal', 'abc'], 'fault ids are integers, got "abc"'],
            [['get', 'k', '-r', ''], '-r needs a number'],
          ];
          for (const [args, message] of read) {
            const ran = await cli([...args, ...url]);
            assert.deepEqual(
              [ran.code, ran.err.split('\n')[0]],
              [2, `thunderdb: ${message}`],
              args.join(' '),
            );
          }
        },
      );

      test('--help lists each verb and the exit codes, and the README shows each verb', TIMEOUT, async () => {
        const help = await cli(['--help']);
        const commands = help.out.slice(help.out.indexOf('Commands:'), help.out.indexOf('Options:'));
        const verbs = [...commands.matchAll(/^ {2}thunderdb (\w+)/gm)].map((m) => m[1]!);
        assert.deepEqual(verbs, [
          'cluster',
          'load',
          'check',
          'get',
          'put',
          'del',
          'ls',
          'mget',
          'watch',
          'nodes',
          'node',
          'export',
          'import',
          'fault',
        ]);
        assert.match(
          help.out.replace(/\s+/g, ' '),
          /Exit codes of the verbs that talk to a cluster: 0 ok; 1 key absent/,
        );
        const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
        const section = readme.slice(
          readme.indexOf('### Talking to a running cluster'),
          readme.indexOf('## TypeScript client'),
        );
        for (const verb of verbs.slice(3)) assert.match(section, new RegExp(`thunderdb ${verb} `), verb);
        for (const code of ['0', '1', '2', '3']) assert.match(section, new RegExp(`^\\| ${code} +\\|`, 'm'));
      });

      test(
        'every verb exits 3 with one line naming the URL and how to start a cluster',
        TIMEOUT,
        async () => {
          const url = `http://127.0.0.1:${await closedPort()}`;
          for (const args of [
            ['get', 'k'],
            ['put', 'k', 'v'],
            ['ls'],
            ['nodes'],
            ['node', 'add'],
            ['fault', 'list'],
          ]) {
            const ran = await cli([...args, '--url', url]);
            assert.equal(ran.code, 3, args.join(' '));
            assert.equal(
              ran.err,
              `thunderdb: cannot reach ${url} (connection refused); is the cluster running? start one with: npm run cluster\n`,
            );
          }
          const json = await cli(['get', 'k', '--json', '--url', url]);
          assert.deepEqual(jsonOf(json), {
            error: {
              code: 'CLUSTER_UNREACHABLE',
              message: `cannot reach ${url} (connection refused)`,
              url,
              reason: 'connection refused',
            },
          });
        },
      );
    });
  });
