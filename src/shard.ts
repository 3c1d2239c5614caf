import { getHeapStatistics } from 'node:v8';
import { ByteMap } from './byte-map.js';
import { bytesToText } from './bytes.js';
import { Op, type Batch, type NodeStats, type Reply, type ReplyBatch } from './protocol.js';

/**
 * One node's data: a {@link ByteMap} of key → value byte string, and the step that applies
 * a batch to it. Input was validated at the front end, so nothing here re-checks sizes or
 * types. Lives in `src/` rather than the worker so it runs and is tested in a single thread.
 */
export class Shard {
  readonly #map = new ByteMap();
  #ops = 0;

  get(key: string): string | undefined {
    return this.#map.get(key);
  }

  put(key: string, value: string): void {
    this.#map.set(key, value);
  }

  delete(key: string): boolean {
    return this.#map.delete(key);
  }

  /** The first `limit` keys starting with `prefix` and greater than `after`, sorted. */
  scan(prefix: string, after: string, limit: number): string[] {
    // The map has no order, so a page costs one pass over the shard; fine for a simulator,
    // and the README says so.
    const found: string[] = [];
    for (const key of this.#map.keys()) {
      if (key > after && key.startsWith(prefix)) found.push(key);
    }
    found.sort();
    if (found.length > limit) found.length = limit;
    return found;
  }

  /** The shard as the inside of a JSON object, values decoded as UTF-8 text. */
  snapshot(): string {
    const parts: string[] = [];
    for (const [key, value] of this.#map.entries()) {
      parts.push(JSON.stringify(key) + ':' + JSON.stringify(bytesToText(value)));
    }
    return parts.join(',');
  }

  stats(): NodeStats {
    return {
      keys: this.#map.size,
      bytes: this.#map.bytes,
      storeBytes: this.#map.allocatedBytes,
      ops: this.#ops,
      heapUsed: getHeapStatistics().used_heap_size,
    };
  }

  /** Applies every operation of a batch in order and returns their results. */
  apply(batch: Batch): ReplyBatch {
    const replies: Reply[] = [];
    let i = 0;
    while (i < batch.length) {
      const op = batch[i++];
      this.#ops++;
      switch (op) {
        case Op.Get:
          replies.push(this.#map.get(batch[i++] as string) ?? null);
          break;
        case Op.Put:
          this.put(batch[i] as string, batch[i + 1] as string);
          i += 2;
          replies.push(1);
          break;
        case Op.Delete:
          replies.push(this.delete(batch[i++] as string) ? 1 : 0);
          break;
        case Op.Size:
          replies.push(this.#map.sizeOf(batch[i++] as string));
          break;
        case Op.Scan:
          replies.push(this.scan(batch[i] as string, batch[i + 1] as string, batch[i + 2] as number));
          i += 3;
          break;
        case Op.Snapshot:
          replies.push(this.snapshot());
          break;
        case Op.Stats:
          replies.push(this.stats());
          break;
        default:
          // A malformed batch is a bug in the front end; failing loudly beats misaligning
          // every reply after it.
          throw new TypeError(`unknown opcode ${String(op)} at index ${i - 1}`);
      }
    }
    return replies;
  }
}
