/**
 * A node thread's entry, run by piscina. Its one task hands the node its MessagePort; from
 * then on every batch arrives on that port, is applied to the thread's Shard and answered
 * with one reply message. The task returns at once: the port keeps the thread's event loop
 * listening, and the pool (one thread, never idle-reaped) keeps the thread alive.
 */
import { Shard } from '../src/shard.js';
import type { AttachTask, Batch } from '../src/protocol.js';

export default function attach({ port }: AttachTask): 'attached' {
  const shard = new Shard();
  port.on('message', (batch: Batch) => {
    port.postMessage(shard.apply(batch));
  });
  return 'attached';
}
