import type { Cluster } from '../src/cluster/cluster.js';
import { KeyBytes } from '../src/ring/key-bytes.js';
import { Op } from '../src/wire/protocol.js';
import { recordValue, recordVersion } from '../src/wire/reply.js';

/** What one node holds for a key: its version (negative for a tombstone) and value, or null. */
export function readReplica(
  cluster: Cluster,
  node: number,
  key: string,
): Promise<{ version: number; value: string } | null> {
  const bytes = new KeyBytes();
  const length = bytes.encode(key);
  return new Promise((resolve, reject) =>
    cluster.submitTo(
      node,
      {
        settle: (_tag, reply) =>
          resolve(
            reply === null
              ? null
              : { version: recordVersion(reply as Buffer), value: recordValue(reply as Buffer).toString() },
          ),
        fail: (_tag, error) => reject(error),
      },
      0,
      (writer) => writer.key(Op.Get, bytes.buffer, length, bytes.hash(), 0),
    ),
  );
}

/** Writes straight to one node, bypassing the coordinator, as a write that reached only some replicas. */
export function writeReplica(
  cluster: Cluster,
  node: number,
  key: string,
  value: string | null,
  version: number,
): Promise<void> {
  const bytes = new KeyBytes();
  const length = bytes.encode(key);
  return new Promise((resolve, reject) =>
    cluster.submitTo(node, { settle: () => resolve(), fail: (_tag, error) => reject(error) }, 0, (writer) =>
      value === null
        ? writer.key(Op.Delete, bytes.buffer, length, bytes.hash(), version)
        : writer.key(Op.Put, bytes.buffer, length, bytes.hash(), version, Buffer.from(value)),
    ),
  );
}
