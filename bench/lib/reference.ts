import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const REFERENCE = join(ROOT, 'bench', 'reference.json');

/** The pinned reference build that bench:ci measures this one against, in the same run. */
export interface Reference {
  commit: string;
  why: string;
}

export async function readReference(): Promise<Reference> {
  return JSON.parse(await readFile(REFERENCE, 'utf8')) as Reference;
}

/**
 * A commit built outside the clone (a detached git worktree in the temp folder, installed
 * with `npm ci`, which builds it), reused when already there: the reference, or any commit
 * `npm run bench:ab` is asked about. Returns its `dist/src/cli.js`, or why it could not be
 * built (a clone without that commit, say).
 */
export function buildCommit(commit: string, log: (line: string) => void): string | Error {
  let full: string;
  try {
    full = execFileSync('git', ['rev-parse', '--verify', `${commit}^{commit}`], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return new Error(`no commit ${commit} in this clone`);
  }
  const dir = join(tmpdir(), `thunderdb-reference-${full.slice(0, 12)}`);
  const cli = join(dir, 'dist', 'src', 'cli.js');
  if (existsSync(cli)) return cli;
  try {
    log(`building ${full.slice(0, 12)} in ${dir}`);
    execFileSync('git', ['worktree', 'add', '--force', '--detach', dir, full], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim().split('\n').at(-1);
    return new Error(stderr || (err as Error).message);
  }
  return existsSync(cli) ? cli : new Error(`no ${cli} after npm ci`);
}
