/**
 * A node thread's entry, run by piscina. Its one task hands the node its MessagePort; from
 * then on every batch arrives on that port, is applied to the thread's Shard and answered
 * with one reply message (or, if applying it threw, a failure naming the batch). The task
 * returns at once: the port keeps the thread's event loop listening, and the pool (one
 * thread, never idle-reaped) keeps the thread alive.
 */
import { scrambleFor } from '../src/byte-map.js';
import { answer, Shard } from '../src/shard.js';
import type { AttachTask } from '../src/protocol.js';
import { transferListFor } from '../src/wire.js';

export default function attach({ port, node, partitions }: AttachTask): 'attached' {
  const shard = new Shard({ partitions, scramble: scrambleFor(node) });
  port.on('message', (batch: ArrayBuffer) => {
    const reply = answer(shard, batch);
    port.postMessage(reply, reply instanceof ArrayBuffer ? transferListFor(reply) : []);
  });
  return 'attached';
}
