/**
 * A node thread's entry, run by piscina. Its one task hands the node its MessagePort; from
 * then on every batch arrives on that port, is applied to the thread's Shard and answered
 * with one reply message (or, if applying it threw, a failure naming the batch). The task
 * returns at once: the port keeps the thread's event loop listening, and the pool (one
 * thread, never idle-reaped) keeps the thread alive.
 */
import { errorToWire } from '../src/errors.js';
import { scrambleFor } from '../src/byte-map.js';
import { Shard } from '../src/shard.js';
import type { AttachTask, BatchFailure } from '../src/protocol.js';
import { transferListFor } from '../src/wire.js';

export default function attach({ port, node, partitions }: AttachTask): 'attached' {
  const shard = new Shard({ partitions, scramble: scrambleFor(node) });
  port.on('message', (batch: ArrayBuffer) => {
    try {
      const reply = shard.apply(batch);
      port.postMessage(reply, transferListFor(reply));
    } catch (err) {
      // Answer the batch's callers with the error instead of letting it kill the thread.
      const failure: BatchFailure = { id: new DataView(batch).getUint32(0, true), error: errorToWire(err) };
      port.postMessage(failure);
    }
  });
  return 'attached';
}
