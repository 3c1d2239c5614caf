/**
 * A node thread's entry, run by piscina. Its one task hands the node its MessagePort (and,
 * with `--storage log` or `redis`, its journal, replayed here before the task returns);
 * from then on every batch arrives on that port, is applied to the thread's store by its runtime and
 * answered with one reply message (or, if applying it threw, a failure naming the batch),
 * once the storage counts it durable. The task then returns: the port keeps the thread's
 * event loop listening, and the pool (one thread, never idle-reaped) keeps the thread alive.
 *
 * With values in the backend (`--storage redis`), a batch that reads values the node does not
 * hold waits while they are read (one round trip for every batch then waiting), and batches
 * behind it wait their turn: batches still apply one at a time, in the order they came.
 */
import { errorToWire, NodeUnavailableError } from '../src/errors.js';
import { answer, NodeRuntime } from '../src/node/runtime.js';
import { NodeStore } from '../src/node/store.js';
import { valuesToRead } from '../src/node/value-reads.js';
import type { AttachTask, BatchFailure } from '../src/wire/protocol.js';
import { openJournal } from '../src/storage/open-journal.js';
import { transferListFor } from '../src/wire/frame.js';

type Batch = ArrayBuffer | SharedArrayBuffer;

export default async function attach({
  port,
  node,
  partitions,
  scramble,
  storage,
  maxStoreBytes,
}: AttachTask): Promise<'attached'> {
  const store = new NodeStore({
    partitions,
    scramble,
    externalValues: storage?.kind === 'redis' || storage?.kind === 'memcached',
    ...(maxStoreBytes === undefined ? {} : { maxStoreBytes }),
  });
  if (storage !== undefined) {
    const { journal, recovered } = await openJournal(storage, partitions, (record) => store.replay(record));
    store.useLog(journal, recovered, storage.kind === 'log' ? storage.mergeSlackBytes : undefined);
  }
  // Replies in shared memory: the front end's V8 counts a received ArrayBuffer as external
  // memory and collects as it grows, and under 64 KiB GETs it ran a mark-compact every
  // 30 ms; with shared replies, none (bench/RESULTS.md). A reply is never written again.
  const runtime = new NodeRuntime(store, { sharedReplies: true });
  const failure = (id: number, error: Error): BatchFailure => ({
    id,
    error: errorToWire(new NodeUnavailableError(`node ${node}'s storage failed: ${error.message}`)),
  });

  // A SharedArrayBuffer batch is the front end's to reuse once answered: read while
  // applying it, nothing of it kept past that (its id is read now, for a failure).
  const apply = (batch: Batch): void => {
    const id = new DataView(batch).getUint32(0, true);
    const reply = answer(runtime, batch);
    store.commit((error) => {
      if (error === undefined) {
        port.postMessage(reply, reply instanceof ArrayBuffer ? transferListFor(reply) : []);
        return;
      }
      // Applied in memory, not stored: its callers hear so (a write may still have landed).
      port.postMessage(failure(id, error));
    });
  };

  const values = store.values;
  /** Batches waiting for values to be read, in the order they came; and how many the last read served. */
  const waiting: Batch[] = [];
  let reading = false;
  let served = 0;
  let closing = false;
  const close = (): void => {
    // A clean stop: answer what waits, make what is pending durable, then say so.
    if (reading || waiting.length > 0) return;
    void store.close().finally(() => port.postMessage('closed'));
  };
  // The values read for the batches that waited are let go once those have been answered
  // (and, with no read under way, those taken in for the one batch just answered).
  const release = (): void => {
    if (served > 0) served--;
    if (served === 0) runtime.fills.clear();
  };
  const pump = (): void => {
    while (!reading && waiting.length > 0) {
      let needs;
      try {
        needs = valuesToRead(waiting[0]!, store, values!, runtime.fills);
      } catch {
        // A malformed batch: applying it fails it, naming what is wrong, as in memory.
        apply(waiting.shift()!);
        release();
        continue;
      }
      if (needs.length > 0) {
        // One read for every batch waiting: each later one asks only what is still missing
        // (a malformed one asks nothing now, and fails at its turn).
        for (let i = 1; i < waiting.length; i++) {
          try {
            for (const need of valuesToRead(waiting[i]!, store, values!, runtime.fills)) needs.push(need);
          } catch {
            continue;
          }
        }
        reading = true;
        served = waiting.length;
        values!.read(needs, (error, found) => {
          reading = false;
          if (error === null) runtime.fills.fill(needs, found);
          else {
            runtime.fills.forget(needs);
            const batch = waiting.shift()!;
            port.postMessage(failure(new DataView(batch).getUint32(0, true), error));
            release();
          }
          pump();
        });
        return;
      }
      apply(waiting.shift()!);
      release();
    }
    if (closing) close();
  };

  port.on('message', (batch: Batch | 'close') => {
    if (batch === 'close') {
      closing = true;
      return close();
    }
    if (values === null) return apply(batch);
    waiting.push(batch);
    pump();
  });
  return 'attached';
}
