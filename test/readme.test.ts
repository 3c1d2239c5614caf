/**
 * Runs every `curl` example of README.md, in order, with the real curl against a real
 * three-node cluster on an ephemeral port (`127.0.0.1:8080` is rewritten), so the examples
 * cannot drift from the server. A result comment, on the command's line or alone on the
 * next, is checked when it starts with one of:
 *
 *   # 204                         the status
 *   # 200, Content-Length: 11     the status and a header
 *   # {"written":2}               the body, exactly (JSON as the server writes it)
 *   # "hello world"               the body, exactly (a JSON string: the text it holds)
 *
 * Anything after `;` is explanation (`# 204; 404 when absent`), and so is a comment that
 * starts otherwise (`# any bytes`). Every example must at least answer 2xx.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, test } from 'node:test';
import { CHILD_TIMEOUT_MS, FRONT_ENDS, LONG_TIMEOUT, startRunning } from './helpers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

/** What a result comment says the answer is. */
interface Expected {
  status?: number;
  headers: [string, string][];
  body?: string;
}

/** One example: the command as written and what its comment promises (null: nothing). */
interface Example {
  line: number;
  command: string;
  expected: Expected | null;
}

/** Where the JSON value at the start of `text` ends. */
function endOfJson(text: string): number {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') {
        inString = false;
        if (depth === 0) return i + 1;
      }
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      if (--depth === 0) return i + 1;
    }
  }
  throw new Error(`unterminated JSON in result comment: ${text}`);
}

/** Reads a result comment; null when it is only explanation. Throws when it is unreadable. */
function parseExpected(comment: string): Expected | null {
  const expected: Expected = { headers: [] };
  let rest = comment.trim();
  const status = /^(\d{3})(?=$|[\s,;])/.exec(rest);
  if (status) {
    expected.status = Number(status[1]);
    rest = rest.slice(3);
  }
  for (;;) {
    rest = rest.replace(/^[\s,]+/, '');
    if (rest === '' || rest.startsWith(';')) break;
    if (/^["{[]/.test(rest)) {
      const end = endOfJson(rest);
      const json = rest.slice(0, end);
      const value: unknown = JSON.parse(json);
      expected.body = typeof value === 'string' ? value : json;
      rest = rest.slice(end);
      continue;
    }
    const header = expected.status !== undefined ? /^([A-Za-z][\w-]*): ([^,;]*)/.exec(rest) : null;
    if (header) {
      expected.headers.push([header[1]!.toLowerCase(), header[2]!.trim()]);
      rest = rest.slice(header[0].length);
      continue;
    }
    if (expected.status === undefined && expected.body === undefined) return null;
    throw new Error(`unreadable result comment: # ${comment}`);
  }
  return expected;
}

/** Splits a shell line at its comment: a `#` after a space, outside quotes. */
function splitComment(line: string): [string, string | null] {
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === '\\' && quote === "$'") i++;
      else if ((quote === '"' && c === '"') || (quote !== '"' && c === "'")) quote = null;
    } else if (c === "'") quote = line[i - 1] === '$' ? "$'" : "'";
    else if (c === '"') quote = '"';
    else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]!))) {
      return [line.slice(0, i).trim(), line.slice(i + 1).trim()];
    }
  }
  return [line.trim(), null];
}

/** Every curl line of the README's shell code blocks, with its result comment. */
function examples(readme: string): Example[] {
  const found: Example[] = [];
  const lines = readme.split('\n');
  let inShell = false;
  for (let i = 0; i < lines.length; i++) {
    const fence = /^```(\w*)/.exec(lines[i]!);
    if (fence) {
      inShell = !inShell && (fence[1] === 'sh' || fence[1] === 'bash');
      continue;
    }
    if (!inShell) continue;
    const [command, comment] = splitComment(lines[i]!);
    if (!/(^|\|\s*)curl\s/.test(command)) continue;
    let result = comment;
    // A comment alone on the next line belongs to a command without one of its own.
    const next = lines[i + 1]?.trim() ?? '';
    if (result === null && next.startsWith('#')) result = next.slice(1).trim();
    found.push({ line: i + 1, command, expected: result === null ? null : parseExpected(result) });
  }
  return found;
}

for (const frontEnd of FRONT_ENDS)
  describe(`on ${frontEnd}`, () => {
    test('every curl example in the README gives the result its comment shows', LONG_TIMEOUT, async (t) => {
      const all = examples(await readFile(join(ROOT, 'README.md'), 'utf8'));
      // The extractor must not quietly find nothing.
      assert.ok(all.length >= 15, `only ${all.length} curl examples found`);
      assert.ok(all.filter((e) => e.expected).length >= 10, 'too few checked results');

      const cluster = await startRunning({ http: frontEnd, nodes: 3 });
      t.after(() => cluster.stop());
      const dir = await mkdtemp(join(tmpdir(), 'thunderdb-readme-'));
      t.after(() => rm(dir, { recursive: true, force: true }));
      const body = join(dir, 'body');
      const headers = join(dir, 'headers');
      const port = cluster.server.port;
      // curl, wherever it sits in a pipeline, writes the body and headers to files and prints
      // only the status.
      const wrapper =
        'curl() { command curl --silent --show-error --output "$BODY" --dump-header "$HEADERS" ' +
        `--write-out '%{http_code}' "$@"; }\n`;

      for (const example of all) {
        await t.test(`README.md:${example.line}: ${example.command}`, async () => {
          await rm(body, { force: true });
          const command = example.command.replace(/(127\.0\.0\.1|localhost):8080/g, `127.0.0.1:${port}`);
          const { stdout } = await run('bash', ['-c', wrapper + command], {
            cwd: ROOT,
            env: { ...process.env, BODY: body, HEADERS: headers },
            timeout: CHILD_TIMEOUT_MS,
          }).catch((err: { code?: number; stdout?: string }) => {
            // A stream (`curl -N --max-time S`) ends when curl stops it: exit 28, not a failure.
            if (err.code === 28 && command.includes('--max-time')) return { stdout: err.stdout ?? '' };
            throw err;
          });
          const status = Number(stdout.trim());
          const text = await readFile(body, 'utf8').catch(() => '');
          const expected = example.expected;
          if (expected?.status !== undefined) assert.equal(status, expected.status, text);
          else assert.ok(status >= 200 && status < 300, `status ${status}: ${text}`);
          if (expected?.body !== undefined) assert.equal(text, expected.body);
          for (const [name, value] of expected?.headers ?? []) {
            const head = (await readFile(headers, 'utf8')).split('\r\n');
            const line = head.find((h) => h.toLowerCase().startsWith(`${name}:`));
            assert.equal(line?.slice(name.length + 1).trim(), value, `header ${name}`);
          }
        });
      }
    });

    /**
     * The README's TypeScript client example, run as a user would: transpiled as it stands,
     * importing `thunderdb` (resolved through package.json's `exports`, so the file is written
     * inside the package), against a real cluster. Each `console.log(…); // result` must print
     * exactly its result, in order.
     */
    test(
      'the TypeScript client example in the README prints what its comments say',
      LONG_TIMEOUT,
      async (t) => {
        const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
        const section = readme.slice(readme.indexOf('## TypeScript client'));
        const match = /```ts\n([\s\S]*?)```/.exec(section);
        assert.ok(match, 'a ```ts block under "TypeScript client"');
        const source = match[1]!;
        const expected = [...source.matchAll(/^\s*console\.log\(.*\); \/\/ (.*)$/gm)].map((m) => m[1]!);
        assert.ok(expected.length >= 8, `${expected.length} checked results`);

        const cluster = await startRunning({ http: frontEnd, nodes: 3 });
        t.after(() => cluster.stop());
        const { default: ts } = await import('typescript');
        const js = ts.transpileModule(
          source.replaceAll('127.0.0.1:8080', `127.0.0.1:${cluster.server.port}`),
          {
            compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
          },
        ).outputText;
        const file = join(ROOT, 'dist', `readme-example-${process.pid}.mjs`);
        await writeFile(file, js);
        t.after(() => rm(file, { force: true }));
        const { stdout } = await run(process.execPath, [file], { timeout: CHILD_TIMEOUT_MS });
        assert.deepEqual(stdout.trimEnd().split('\n'), expected);
      },
    );
  });
