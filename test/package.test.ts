/**
 * What `npm pack` would publish: the bin, the client (code and declarations), every module
 * they load, the node thread's entry and the dashboard; `import('thunderdb')` resolving to
 * the client through package.json's `exports`; `npm link` giving a working command; and a
 * new project that installs ThunderDB from a path, as the README says, running the README's
 * client example as an ES module and the `thunderdb` bin.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { test } from 'node:test';
import { CHILD_TIMEOUT_MS, LONG_TIMEOUT, startRunning } from './helpers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

/** The files `npm pack` would put in the tarball (scripts off: `prepare` would rebuild dist). */
async function packed(): Promise<Map<string, number>> {
  const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: ROOT,
    timeout: CHILD_TIMEOUT_MS,
  });
  const [pack] = JSON.parse(stdout) as [{ files: { path: string; mode: number }[] }];
  return new Map(pack.files.map((file) => [file.path, file.mode]));
}

/** Relative specifiers a built module loads: static, dynamic and type-only imports and re-exports. */
function relativeImports(source: string): string[] {
  const found = source.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)['"](\.{1,2}\/[^'"]+)['"]/g);
  return [...found].map((match) => match[1]!);
}

/** Every file reachable from `entries` by relative imports, as paths from the root. */
async function closure(entries: string[]): Promise<Set<string>> {
  const seen = new Set<string>();
  const queue = [...entries];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const source = await readFile(join(ROOT, file), 'utf8');
    for (const specifier of relativeImports(source)) {
      const target = normalize(join(dirname(file), specifier));
      queue.push(target);
      // A declaration file's `./x.js` is typed by `./x.d.ts`.
      if (file.endsWith('.d.ts')) queue.push(target.replace(/\.js$/, '.d.ts'));
    }
  }
  return seen;
}

test(
  'the tarball holds the bin, the client and its declarations, all they import, and the dashboard',
  LONG_TIMEOUT,
  async () => {
    const files = await packed();
    const entries = [
      'dist/src/cli.js',
      'dist/src/client/index.js',
      'dist/src/client/index.d.ts',
      'dist/workers/node.js',
    ];
    const needed = await closure(entries);
    // The walk must have found the modules behind the entries, not stopped at them.
    assert.ok(needed.has('dist/src/client/client.js'));
    assert.ok(needed.has('dist/src/client/types.d.ts'));
    assert.ok(needed.has('dist/src/http/server.js'), 'the dynamic import of the server');
    assert.ok(needed.size > 50, `${needed.size} files`);
    const missing = [...needed].filter((file) => !files.has(file));
    assert.deepEqual(missing, []);
    for (const file of ['dashboard/index.html', 'package.json', 'README.md'])
      assert.ok(files.has(file), file);
    assert.ok(
      ![...files.keys()].some((file) => file.startsWith('dist/test/') || file.startsWith('node_modules/')),
    );
  },
);

test('the bin starts with a node shebang and is packed executable', LONG_TIMEOUT, async () => {
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
    bin: Record<string, string>;
  };
  assert.equal(pkg.bin.thunderdb, 'dist/src/cli.js');
  const source = await readFile(join(ROOT, pkg.bin.thunderdb), 'utf8');
  assert.match(source, /^#!\/usr\/bin\/env -S node /);
  // tsc writes it 0644 and npm packs it as it finds it: the build script marks it executable.
  const mode = (await packed()).get(pkg.bin.thunderdb);
  assert.equal(mode! & 0o111, 0o111, `mode ${mode?.toString(8)}`);
});

test("import('thunderdb') resolves, from inside the package, to the client", LONG_TIMEOUT, async () => {
  // A variable, so that tsc does not resolve the package while it is building it.
  const name = 'thunderdb';
  const external = (await import(name)) as Record<string, unknown>;
  const internal = (await import('../src/client/index.js')) as Record<string, unknown>;
  assert.equal(external.ThunderClient, internal.ThunderClient);
  assert.deepEqual(Object.keys(external).sort(), [
    'ClusterUnreachableError',
    'DEFAULT_URL',
    'MAX_PAGE',
    'ThunderClient',
    'ThunderHttpError',
  ]);
  assert.equal(import.meta.resolve(name), new URL('../src/client/index.js', import.meta.url).href);
});

test('npm link gives a working thunderdb command', LONG_TIMEOUT, async (t) => {
  const prefix = await mkdtemp(join(tmpdir(), 'thunderdb-link-'));
  t.after(() => rm(prefix, { recursive: true, force: true }));
  // Into a prefix of its own, not the machine's; scripts off: `prepare` would rebuild the
  // dist/ the other tests are running from.
  await run('npm', ['link', '--ignore-scripts', '--no-audit', '--no-fund'], {
    cwd: ROOT,
    env: { ...process.env, NPM_CONFIG_PREFIX: prefix },
    timeout: CHILD_TIMEOUT_MS,
  });
  const bin = join(prefix, 'bin', 'thunderdb');
  const help = await run(bin, ['--help']);
  assert.match(help.stdout, /thunderdb get <key>/);
  // The client loads through the link: a verb against nothing says so, with exit code 3.
  const unreachable = await run(bin, ['get', 'k', '--url', 'http://127.0.0.1:1']).catch(
    (err: { code: number; stderr: string }) => err,
  );
  assert.equal((unreachable as { code: number }).code, 3);
  assert.match((unreachable as { stderr: string }).stderr, /cannot reach http:\/\/127\.0\.0\.1:1/);
});

test(
  'a new project that runs npm install <path> runs the README client example as example.mjs, and the bin',
  LONG_TIMEOUT,
  async (t) => {
    const project = await mkdtemp(join(tmpdir(), 'thunderdb-user-'));
    t.after(() => rm(project, { recursive: true, force: true }));
    await writeFile(join(project, 'package.json'), '{ "name": "my-project", "private": true }\n');
    // Scripts off: `prepare` would rebuild the dist/ the other tests are running from.
    await run('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', ROOT], {
      cwd: project,
      timeout: CHILD_TIMEOUT_MS,
    });
    const cluster = await startRunning({ nodes: 3 });
    t.after(() => cluster.stop());

    // The example as written, saved as an ES module: no TypeScript, no @types/node.
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## TypeScript client'));
    const source = /```ts\n([\s\S]*?)```/.exec(section)![1]!;
    const expected = [...source.matchAll(/^\s*console\.log\(.*\); \/\/ (.*)$/gm)].map((m) => m[1]!);
    await writeFile(join(project, 'example.mjs'), source.replaceAll('http://127.0.0.1:8080', cluster.url));
    const example = await run(process.execPath, ['example.mjs'], { cwd: project, timeout: CHILD_TIMEOUT_MS });
    assert.deepEqual(example.stdout.trimEnd().split('\n'), expected);

    const bin = join(project, 'node_modules', '.bin', 'thunderdb');
    assert.match((await run(bin, ['--help'], { timeout: CHILD_TIMEOUT_MS })).stdout, /thunderdb get <key>/);
    const got = await run(bin, ['get', 'user/1', '--url', cluster.url], { timeout: CHILD_TIMEOUT_MS });
    assert.equal(got.stdout, 'Ada Lovelace');
  },
);

test(
  'a new project that runs npm install git+file://…#commit gets a built package: the client as an ES module, and the bin',
  LONG_TIMEOUT,
  async (t) => {
    const project = await mkdtemp(join(tmpdir(), 'thunderdb-git-user-'));
    t.after(() => rm(project, { recursive: true, force: true }));
    await writeFile(join(project, 'package.json'), '{ "name": "my-project", "private": true }\n');
    // npm clones the commit, installs its dependencies and runs `prepare` (the build) in the
    // clone, then installs what `npm pack` would publish: dist/ is built there, not copied.
    const { stdout: commit } = await run('git', ['rev-parse', 'HEAD'], { cwd: ROOT });
    await run(
      'npm',
      ['install', '--prefer-offline', '--no-audit', '--no-fund', `git+file://${ROOT}#${commit.trim()}`],
      { cwd: project, timeout: CHILD_TIMEOUT_MS },
    );
    await writeFile(
      join(project, 'client.mjs'),
      "import { ThunderClient, DEFAULT_URL } from 'thunderdb';\nconsole.log(typeof ThunderClient, DEFAULT_URL);\n",
    );
    const client = await run(process.execPath, ['client.mjs'], { cwd: project, timeout: CHILD_TIMEOUT_MS });
    assert.equal(client.stdout, 'function http://127.0.0.1:8080\n');
    const bin = join(project, 'node_modules', '.bin', 'thunderdb');
    assert.match((await run(bin, ['--help'], { timeout: CHILD_TIMEOUT_MS })).stdout, /thunderdb get <key>/);
  },
);
