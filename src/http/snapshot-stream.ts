import type { Cluster } from '../cluster/cluster.js';
import { toThunderError } from '../errors.js';
import { HASH_SPACE } from '../ring/murmur3.js';
import type { StreamedAnswer } from './stream.js';

/** Text one snapshot slice carries: the node builds at most this plus one pair per message. */
export const SNAPSHOT_SLICE_BYTES = 256 * 1024;

/**
 * Answers `/snapshot` as one JSON object of every pair on `nodes`, streamed: with
 * `primaryOnly`, each key once (from the first replica of its partition that is up), else
 * every copy each node holds. Each node is
 * walked slice by slice, and the next slice is asked for only once the client has taken the
 * last. Memory is one slice whatever the store holds; key operations interleave with the
 * slices. Not a point-in-time view: a key written during the walk may or may not appear,
 * with its old or new value; a key untouched throughout appears exactly once.
 */
export async function streamSnapshot(
  answer: StreamedAnswer,
  cluster: Cluster,
  nodes: readonly number[],
  primaryOnly: boolean,
): Promise<void> {
  try {
    let opened = false;
    for (const node of nodes) {
      for (let from = 0; from < HASH_SPACE && !answer.over;) {
        const slice = await cluster.snapshotSlice(node, from, SNAPSHOT_SLICE_BYTES, primaryOnly);
        from = slice.next;
        if (slice.json.length === 0) continue;
        await answer.write((opened ? ',' : '{') + slice.json);
        opened = true;
      }
    }
    await answer.end(opened ? '}' : '{}');
  } catch (err) {
    answer.error(toThunderError(err));
  }
}
