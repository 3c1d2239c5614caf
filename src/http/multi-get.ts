import type { Cluster } from '../cluster/cluster.js';
import { toThunderError } from '../errors.js';
import type { StreamedAnswer } from './stream.js';

/**
 * Value bytes one `_mget` fetches at a time. With the JSON text made from them and the
 * piece waiting in the socket, a request holds a small multiple of this, whatever it asks.
 */
export const MGET_WINDOW_BYTES = 1 << 20;
/**
 * The least a key counts for in a window, absent or empty: so a window holds at most 1,024
 * keys, and a value written between asking its size and fetching it can overshoot a window
 * by at most that many values.
 */
const MIN_KEY_BYTES = MGET_WINDOW_BYTES / 1024;
/** Text gathered before it is handed to the socket as one piece. */
const PIECE_CHARS = 64 * 1024;

/**
 * Answers `_mget` as `{"values": {"k": "v" or null, …}}`, streamed. Keys are taken once each,
 * in the order first named, a window at a time. When a window's keys could hold more than
 * {@link MGET_WINDOW_BYTES} at the largest value size, their sizes are asked just before it
 * is fetched and the window packed by real size. Each window's text is written with
 * backpressure before the next window is looked at.
 */
export async function answerMultiGet(
  answer: StreamedAnswer,
  cluster: Cluster,
  keys: readonly string[],
  maxValueBytes: number,
): Promise<void> {
  try {
    let piece = '{"values":{';
    const most = MGET_WINDOW_BYTES / MIN_KEY_BYTES;
    for (let start = 0; start < keys.length && !answer.over;) {
      let candidates = keys.slice(start, start + most);
      if (candidates.length > 1 && candidates.length * maxValueBytes > MGET_WINDOW_BYTES) {
        const sizes = await Promise.all(candidates.map((key) => cluster.sizeOf(key)));
        let bytes = 0;
        let end = 0;
        do bytes += Math.max(MIN_KEY_BYTES, sizes[end]!);
        while (++end < sizes.length && bytes + Math.max(MIN_KEY_BYTES, sizes[end]!) <= MGET_WINDOW_BYTES);
        candidates = candidates.slice(0, end);
      }
      const values = await Promise.all(candidates.map((key) => cluster.get(key)));
      for (let i = 0; i < values.length; i++) {
        const value = values[i];
        piece +=
          (start + i > 0 ? ',' : '') +
          JSON.stringify(candidates[i]) +
          ':' +
          (value === undefined ? 'null' : JSON.stringify(value.toString('utf8')));
        if (piece.length >= PIECE_CHARS) {
          await answer.write(piece);
          piece = '';
        }
      }
      start += candidates.length;
    }
    await answer.end(piece + '}}');
  } catch (err) {
    answer.error(toThunderError(err));
  }
}
