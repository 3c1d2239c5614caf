import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, skipWithout } from './local-servers.js';

/**
 * A real memcached, started by the tests and the storage benchmark on a free loopback port:
 * `flush` empties it (flush_all), `kill` ends it (kill -9), `restart` starts it again on the
 * same port (empty: memcached keeps nothing), `stop` ends it.
 */
export interface MemcachedServer {
  port: number;
  /** `host:port`, as `--memcached` takes it. */
  address: string;
  flush(): Promise<void>;
  kill(): Promise<void>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Whether tests needing a real memcached are skipped: only when `memcached` is not on the
 * PATH, and never when THUNDERDB_REQUIRE_MEMCACHED is set (.ci/run sets it, having installed it).
 */
export function memcachedSkip(): string | false {
  return skipWithout('memcached', 'THUNDERDB_REQUIRE_MEMCACHED', 'apt-get install memcached');
}

/**
 * Sends one text-protocol command (its bytes as a byte string: one char per byte) to the
 * memcached on `port`; resolves with its answer up to
 * the line `end` ends with (e.g. `END`, `OK`), or rejects when the server cannot be reached.
 */
export function memcachedCommand(port: number, command: string, end: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.setEncoding('latin1');
    socket.on('error', reject);
    socket.on('connect', () => socket.write(`${command}\r\n`, 'latin1'));
    socket.on('data', (chunk: string) => {
      answer += chunk;
      if (end.test(answer)) {
        socket.end();
        resolve(answer);
      }
    });
  });
}

/**
 * Starts a memcached of `megabytes` of memory (`-m`) storing items of up to `itemMegabytes`
 * (`-I`), and waits until it answers. As root (as CI runs) memcached must be told which user to
 * run as.
 */
export async function startMemcached(
  options: { megabytes?: number; itemMegabytes?: number } = {},
): Promise<MemcachedServer> {
  const { megabytes = 256, itemMegabytes = 2 } = options;
  const port = await freePort();
  let child: ChildProcess | null = null;
  const start = async () => {
    const args = ['-p', String(port), '-U', '0', '-l', '127.0.0.1', '-m', String(megabytes)];
    args.push('-I', `${itemMegabytes}m`);
    if (process.getuid?.() === 0) args.push('-u', 'root');
    child = spawn('memcached', args, { stdio: 'ignore' });
    for (let tries = 0; ; tries++) {
      try {
        await memcachedCommand(port, 'version', /\r\n$/);
        return;
      } catch (err) {
        if (tries > 250)
          throw new Error(`memcached on port ${port} did not start: ${(err as Error).message}`, {
            cause: err,
          });
        await sleep(20);
      }
    }
  };
  const kill = async () => {
    const running = child;
    child = null;
    if (running === null) return;
    running.kill('SIGKILL');
    if (running.exitCode === null && running.signalCode === null) await once(running, 'exit');
  };
  try {
    await start();
  } catch (err) {
    await kill();
    throw err;
  }
  return {
    port,
    address: `127.0.0.1:${port}`,
    flush: async () => void (await memcachedCommand(port, 'flush_all', /OK\r\n$/)),
    kill,
    restart: start,
    stop: kill,
  };
}
