/**
 * A node thread's entry, run by piscina. Its one task hands the node its MessagePort (and,
 * with `--storage log`, its log, replayed here before the task returns); from then on every
 * batch arrives on that port, is applied to the thread's Shard and answered with one reply
 * message (or, if applying it threw, a failure naming the batch), once the storage counts it
 * durable. The task returns at once: the port keeps the thread's event loop listening, and
 * the pool (one thread, never idle-reaped) keeps the thread alive.
 */
import { scrambleFor } from '../src/byte-map.js';
import { answer, Shard } from '../src/shard.js';
import type { AttachTask } from '../src/protocol.js';
import { Log } from '../src/storage/log.js';
import { transferListFor } from '../src/wire.js';

export default function attach({ port, node, partitions, storage }: AttachTask): 'attached' {
  const shard = new Shard({ partitions, scramble: scrambleFor(node) });
  if (storage !== undefined) {
    const { log, recovered } = Log.open(storage.dir, storage.fsync, (record) => shard.replay(record));
    shard.useLog(log, recovered, storage.mergeSlackBytes);
  }
  port.on('message', (batch: ArrayBuffer | 'close') => {
    if (batch === 'close') {
      // A clean stop: write and fsync what is pending, then say so.
      shard.close();
      port.postMessage('closed');
      return;
    }
    const reply = answer(shard, batch);
    shard.commit(() => port.postMessage(reply, reply instanceof ArrayBuffer ? transferListFor(reply) : []));
  });
  return 'attached';
}
