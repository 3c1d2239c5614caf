import assert from 'node:assert/strict';
import { request, type IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Clock } from '../src/time/clock.js';
import { codeOf, FRONT_ENDS, http, startRunning, type Running } from './helpers.js';

const MiB = 1 << 20;
const STALL_MS = 10_000;
/** Every place taken by a stalled reader in the first test. */
const HEAVY = 3;

/**
 * The server's clock: its time moves only when told, and it counts the timers pending and
 * fired, which only stalled answers set on it, so a test can wait until every one is
 * waiting on its client.
 */
class StallClock implements Clock {
  #time = 0;
  /** Timers fired so far: with the fix, each one an answer cut off. */
  fired = 0;
  readonly #timers = new Set<{ at: number; fire: () => void }>();
  #changed: (() => void) | null = null;
  now(): number {
    return this.#time;
  }
  wall(): number {
    return Date.now();
  }
  setTimer(ms: number, fire: () => void): () => void {
    const timer = { at: this.#time + ms, fire };
    this.#timers.add(timer);
    this.#changed?.();
    return () => void this.#timers.delete(timer);
  }
  defer(fire: () => void): void {
    setImmediate(fire);
  }
  get pending(): number {
    return this.#timers.size;
  }
  /** Resolves once `n` timers are pending at the same time. */
  async pendingReach(n: number): Promise<void> {
    while (this.#timers.size < n) await new Promise<void>((resolve) => (this.#changed = resolve));
    this.#changed = null;
  }
  advance(ms: number): void {
    this.#time += ms;
    for (const timer of [...this.#timers].sort((a, b) => a.at - b.at)) {
      if (timer.at > this.#time) break;
      this.#timers.delete(timer);
      this.fired++;
      timer.fire();
    }
  }
}

/**
 * A client that sends `head` (and `body`) and never reads a byte: once the socket buffers
 * between it and the server are full, the server's writes wait on it for good.
 */
function stalledReader(url: string, head: string, body = ''): Socket {
  const { hostname, port } = new URL(url);
  const socket = connect({ host: hostname, port: Number(port) });
  socket.pause();
  socket.write(`${head}\r\nHost: ${hostname}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  return socket;
}

/** The end of a chunked body: a connection closed before it cut its answer short. */
const LAST_CHUNK = '\r\n0\r\n\r\n';

/**
 * Reads what a stalled socket was sent until the server closes it, or until the answer's
 * last chunk (a complete answer, on a connection the server keeps open); the last bytes seen.
 */
function readToEnd(socket: Socket): Promise<string> {
  return new Promise((resolve) => {
    let tail = '';
    socket.on('data', (chunk: Buffer) => {
      tail = (tail + chunk.toString('latin1')).slice(-16);
      if (tail.endsWith(LAST_CHUNK)) resolve(tail);
    });
    socket.on('close', () => resolve(tail));
    socket.on('error', () => {});
    socket.resume();
  });
}

for (const frontEnd of FRONT_ENDS)
  describe(`on ${frontEnd}`, () => {
    describe('a client that stops reading a streamed answer', () => {
      // 16 MiB of values: each answer is far more than the socket buffers between server and
      // client hold (a few MiB), so a client that never reads leaves its answer waiting.
      const keys = Array.from({ length: 16 }, (_, i) => `big${i}`);
      const clock = new StallClock();
      let run: Running;
      before(async () => {
        run = await startRunning({
          http: frontEnd,
          nodes: 1,
          limits: { maxHeavyRequests: HEAVY, stallTimeoutMs: STALL_MS },
          serverClock: clock,
        });
        await Promise.all(keys.map((key, i) => run.cluster.put(key, Buffer.alloc(MiB, 97 + i))));
      });
      after(() => run.stop());

      test(
        'stalled readers of /export, /snapshot and _mget are cut after --stall-timeout-ms on the clock, and their places freed',
        { timeout: 60_000 },
        async (t) => {
          const sockets = [
            stalledReader(run.url, 'GET /export HTTP/1.1'),
            stalledReader(run.url, 'GET /snapshot HTTP/1.1'),
            stalledReader(run.url, 'POST /kv/_mget HTTP/1.1', JSON.stringify({ keys })),
          ];
          t.after(() => sockets.forEach((socket) => socket.destroy()));
          await clock.pendingReach(HEAVY); // each answer waits on its client
          const listing = () => http(run.url, 'GET', '/kv?prefix=big&limit=2');
          const busy = await listing();
          assert.equal(busy.status, 503);
          assert.equal(codeOf(busy), 'SERVER_BUSY');

          clock.advance(STALL_MS - 1);
          assert.equal(clock.fired, 0);
          assert.equal((await listing()).status, 503, 'not cut before the timeout');
          clock.advance(1);
          // An answer whose socket buffers were still filling when the others had stalled set
          // its timer later: move the clock on until each has fired.
          while (clock.fired < HEAVY) {
            await clock.pendingReach(1);
            clock.advance(STALL_MS);
          }
          const free = await listing();
          assert.equal(free.status, 200, free.text.slice(0, 200));
          assert.deepEqual(free.json, { keys: ['big0', 'big1'], next: 'big1' });
          for (const tail of await Promise.all(sockets.map(readToEnd))) {
            assert.ok(!tail.endsWith(LAST_CHUNK), 'the connection is closed before the last chunk');
          }
        },
      );

      test(
        'a reader that takes the bytes, however late, gets the whole answer',
        { timeout: 60_000 },
        async () => {
          const res = await new Promise<IncomingMessage>((resolve, reject) => {
            const { hostname, port } = new URL(run.url);
            const req = request({ host: hostname, port, path: '/export', agent: false }, (answer) => {
              answer.pause();
              resolve(answer);
            });
            req.on('error', reject);
            req.end();
          });
          await clock.pendingReach(1);
          clock.advance(STALL_MS - 1);
          const lines = await new Promise<number>((resolve, reject) => {
            let count = 0;
            res.on('data', (chunk: Buffer) => {
              for (const byte of chunk) if (byte === 10) count++;
            });
            res.on('end', () => (res.complete ? resolve(count) : reject(new Error('the answer was cut'))));
            res.on('error', reject);
            res.resume();
          });
          assert.equal(lines, keys.length);
          assert.equal(clock.pending, 0, 'no stall timer outlives the answer');
        },
      );
    });
  });
