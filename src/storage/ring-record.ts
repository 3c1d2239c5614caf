import { Ring } from '../ring/ring.js';
import type { RingSettings } from './claim.js';

/**
 * The ring as it is stored beside the data (`ring.json` in a data directory, `<prefix>ring`
 * in Redis) once a node has joined or left: after a change the ring is no longer the one
 * `--nodes` deals, so the next start must take it from here. Its `nodes`, `partitions` and
 * `replicas` are checked against the start's options as before (claim.ts); `nextId` is the
 * id the next joining node takes (ids are never reused: a node's storage is named by it).
 */
export interface RingRecord extends RingSettings {
  members: number[];
  nextId: number;
  /** Ring.table(), base64 of its little-endian u16s. */
  table: string;
}

/** What a store holds about its ring: the settings only, or (after a change) the whole ring. */
export type StoredRing = RingSettings | RingRecord;

/** The record of `ring`, whose next joining node takes `nextId`. */
export function ringRecord(ring: Ring, nextId: number): RingRecord {
  const table = ring.table();
  return {
    nodes: ring.nodes,
    partitions: ring.partitions,
    replicas: ring.replicas,
    members: [...ring.members],
    nextId,
    table: Buffer.from(table.buffer, table.byteOffset, table.byteLength).toString('base64'),
  };
}

/** The ring a record describes, and the id its next node takes; null for settings alone. */
export function ringOf(stored: StoredRing): { ring: Ring; nextId: number } | null {
  if (!('table' in stored)) return null;
  const bytes = Buffer.from(stored.table, 'base64');
  if (bytes.length !== stored.partitions * stored.replicas * 2) {
    throw new RangeError(
      `the stored ring's table has ${bytes.length} bytes, not ${stored.partitions * stored.replicas * 2}`,
    );
  }
  const table = new Uint16Array(bytes.length / 2);
  for (let i = 0; i < table.length; i++) table[i] = bytes.readUInt16LE(i * 2);
  const ring = new Ring(
    { nodes: stored.nodes, partitions: stored.partitions, replicas: stored.replicas },
    table,
  );
  if (ring.members.join() !== stored.members.join()) {
    throw new RangeError(
      `the stored ring names members ${stored.members.join(',')} but its table holds ${ring.members.join(',')}`,
    );
  }
  return { ring, nextId: stored.nextId };
}
