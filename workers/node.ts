/**
 * A node thread's entry, run by piscina. Its one task hands the node its MessagePort (and,
 * with `--storage log` or `redis`, its journal, replayed here before the task returns);
 * from then on every batch arrives on that port, is applied to the thread's store by its runtime and
 * answered with one reply message (or, if applying it threw, a failure naming the batch),
 * once the storage counts it durable. The task then returns: the port keeps the thread's
 * event loop listening, and the pool (one thread, never idle-reaped) keeps the thread alive.
 */
import { errorToWire, NodeUnavailableError } from '../src/errors.js';
import { answer, NodeRuntime } from '../src/node/runtime.js';
import { NodeStore } from '../src/node/store.js';
import type { AttachTask, BatchFailure } from '../src/wire/protocol.js';
import { openJournal } from '../src/storage/open-journal.js';
import { transferListFor } from '../src/wire/frame.js';

export default async function attach({
  port,
  node,
  partitions,
  scramble,
  storage,
}: AttachTask): Promise<'attached'> {
  const store = new NodeStore({ partitions, scramble });
  if (storage !== undefined) {
    const { journal, recovered } = await openJournal(storage, partitions, (record) => store.replay(record));
    store.useLog(journal, recovered, storage.kind === 'log' ? storage.mergeSlackBytes : undefined);
  }
  // Replies in shared memory: the front end's V8 counts a received ArrayBuffer as external
  // memory and collects as it grows, and under 64 KiB GETs it ran a mark-compact every
  // 30 ms; with shared replies, none (bench/RESULTS.md). A reply is never written again.
  const runtime = new NodeRuntime(store, { sharedReplies: true });
  // A SharedArrayBuffer batch is the front end's to reuse once answered: read while
  // applying it, nothing of it kept past that (its id is read now, for a failure).
  port.on('message', (batch: ArrayBuffer | SharedArrayBuffer | 'close') => {
    if (batch === 'close') {
      // A clean stop: make what is pending durable, then say so.
      void store.close().finally(() => port.postMessage('closed'));
      return;
    }
    const id = new DataView(batch).getUint32(0, true);
    const reply = answer(runtime, batch);
    store.commit((error) => {
      if (error === undefined) {
        port.postMessage(reply, reply instanceof ArrayBuffer ? transferListFor(reply) : []);
        return;
      }
      // Applied in memory, not stored: its callers hear so (a write may still have landed).
      const failure: BatchFailure = {
        id,
        error: errorToWire(new NodeUnavailableError(`node ${node}'s storage failed: ${error.message}`)),
      };
      port.postMessage(failure);
    });
  });
  return 'attached';
}
