/**
 * `npm run bench:handoff`: what one round trip between the main thread and a worker thread
 * costs on this machine, one message at a time, three ways: a MessagePort (what the nodes
 * use), a SharedArrayBuffer with `Atomics.notify` and `Atomics.waitAsync` on the main
 * thread, and a SharedArrayBuffer with both sides blocked in `Atomics.wait` (the floor: two
 * futex wake-ups, and a main thread that can do nothing else meanwhile). It bounds what any
 * design with one thread hop per request can reach at one connection. Prints JSON.
 */
import { Worker } from 'node:worker_threads';
import { spread } from './lib/stats.js';

const TRIPS = 20_000;
const RUNS = 5;

const ECHO_PORT = `
  const { parentPort } = require('node:worker_threads');
  parentPort.on('message', (m) => parentPort.postMessage(m));
`;
// Waits for slot 0 to change, copies it to slot 1 and wakes whoever waits there.
const ECHO_ATOMICS = `
  const { workerData } = require('node:worker_threads');
  const a = new Int32Array(workerData);
  for (let seen = 0; ; ) {
    Atomics.wait(a, 0, seen);
    seen = Atomics.load(a, 0);
    if (seen < 0) break;
    Atomics.store(a, 1, seen);
    Atomics.notify(a, 1);
  }
`;

async function viaPort(): Promise<number> {
  const worker = new Worker(ECHO_PORT, { eval: true });
  const message = new ArrayBuffer(64);
  await new Promise((r) => setTimeout(r, 100));
  const start = performance.now();
  await new Promise<void>((done) => {
    let trips = 0;
    worker.on('message', () => (++trips === TRIPS ? done() : worker.postMessage(message)));
    worker.postMessage(message);
  });
  const micros = ((performance.now() - start) * 1000) / TRIPS;
  await worker.terminate();
  return micros;
}

async function viaAtomics(mainBlocks: boolean): Promise<number> {
  const shared = new Int32Array(new SharedArrayBuffer(8));
  const worker = new Worker(ECHO_ATOMICS, { eval: true, workerData: shared.buffer });
  await new Promise((r) => setTimeout(r, 100));
  const start = performance.now();
  for (let i = 1; i <= TRIPS; i++) {
    Atomics.store(shared, 0, i);
    Atomics.notify(shared, 0);
    if (mainBlocks) Atomics.wait(shared, 1, i - 1);
    else {
      const wait = Atomics.waitAsync(shared, 1, i - 1);
      if (wait.async) await wait.value;
    }
  }
  const micros = ((performance.now() - start) * 1000) / TRIPS;
  Atomics.store(shared, 0, -1);
  Atomics.notify(shared, 0);
  await worker.terminate();
  return micros;
}

async function main(): Promise<void> {
  const runs = { port: [] as number[], atomicsAsync: [] as number[], atomicsBlocking: [] as number[] };
  for (let i = 0; i < RUNS; i++) {
    runs.port.push(await viaPort());
    runs.atomicsAsync.push(await viaAtomics(false));
    runs.atomicsBlocking.push(await viaAtomics(true));
  }
  console.log(
    JSON.stringify(
      {
        what: `one round trip main thread -> worker -> main thread, µs, ${TRIPS} trips a run, median of ${RUNS} runs (min-max)`,
        messagePort: spread(runs.port),
        sharedMemoryWaitAsync: spread(runs.atomicsAsync),
        sharedMemoryBothBlocking: spread(runs.atomicsBlocking),
      },
      null,
      2,
    ),
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
