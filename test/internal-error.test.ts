import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { http } from './helpers.js';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));

/** A bug stood in for by a preload: on SIGUSR2, a promise rejected with nobody listening. */
const BUG = `data:text/javascript,${encodeURIComponent(
  `process.on('SIGUSR2', () => void Promise.reject(new Error('a stand-in bug')))`,
)}`;

test(
  'a promise rejected with nobody listening is reported, and the server goes on serving its keys',
  { timeout: 60_000 },
  async (t) => {
    const child = spawn(process.execPath, ['--import', BUG, CLI, 'cluster', '--port', '0', '--nodes', '1'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    t.after(() => void child.kill());
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d));
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d;
        const match = /listening on (http:\/\/\S+)/.exec(out);
        if (match) resolve(match[1]!);
      });
      child.on('exit', (code) => reject(new Error(`exited with ${code}: ${out}${err}`)));
    });
    assert.equal((await http(url, 'PUT', '/kv/kept', 'v')).status, 204);
    child.kill('SIGUSR2');
    await new Promise<void>((resolve) => {
      const check = () => err.includes('a stand-in bug') && resolve();
      child.stderr.on('data', check);
      check();
    });
    assert.match(
      err,
      /ThunderDB internal error \(the server goes on; please report it\): Error: a stand-in bug/,
    );
    assert.equal(child.exitCode, null);
    assert.equal((await http(url, 'GET', '/kv/kept')).text, 'v');
  },
);
