import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';

/**
 * Whether tests needing the real server `command` are skipped: only when it is not on the
 * PATH (the reason names `install`), and never when the environment variable `required` is
 * set (.ci/run sets it, having installed the server).
 */
export function skipWithout(command: string, required: string, install: string): string | false {
  if (spawnSync(command, ['--version']).status === 0) return false;
  if (process.env[required]) throw new Error(`${required} is set, but ${command} is not on the PATH`);
  return `${command} is not installed (${install})`;
}

/** A loopback port free a moment ago, for a server the tests start. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}
