import type { Cluster } from '../cluster.js';
import { toThunderError } from '../errors.js';
import type { StreamedAnswer } from './stream.js';

/**
 * Value bytes one `_mget` fetches at a time. With the JSON text made from them and the
 * piece waiting in the socket, a request holds a small multiple of this, whatever it asks.
 */
export const MGET_WINDOW_BYTES = 1 << 20;
/** Text gathered before it is handed to the socket as one piece. */
const PIECE_CHARS = 64 * 1024;

/**
 * Answers `_mget` as `{"values": {"k": "v" or null, …}}`, streamed. Keys are taken once each,
 * in the order first named. Values are fetched a window at a time: when the keys could hold
 * more than {@link MGET_WINDOW_BYTES} at the largest value size, their sizes are asked first
 * and windows are packed by real size. Each window's text is written with backpressure
 * before the next is fetched.
 */
export async function answerMultiGet(
  answer: StreamedAnswer,
  cluster: Cluster,
  keys: readonly string[],
  maxValueBytes: number,
): Promise<void> {
  try {
    const sizes =
      keys.length > 1 && keys.length * maxValueBytes > MGET_WINDOW_BYTES
        ? await Promise.all(keys.map((key) => cluster.sizeOf(key)))
        : null;
    let piece = '{"values":{';
    for (let start = 0; start < keys.length && !answer.over;) {
      let end = start;
      let bytes = 0;
      do bytes += sizes ? Math.max(0, sizes[end]!) : maxValueBytes;
      while (
        ++end < keys.length &&
        bytes + (sizes ? Math.max(0, sizes[end]!) : maxValueBytes) <= MGET_WINDOW_BYTES
      );
      const values = await Promise.all(keys.slice(start, end).map((key) => cluster.get(key)));
      for (let i = 0; i < values.length; i++) {
        const value = values[i];
        piece +=
          (start + i > 0 ? ',' : '') +
          JSON.stringify(keys[start + i]) +
          ':' +
          (value === undefined ? 'null' : JSON.stringify(value.toString('utf8')));
        if (piece.length >= PIECE_CHARS) {
          await answer.write(piece);
          piece = '';
        }
      }
      start = end;
    }
    await answer.end(piece + '}}');
  } catch (err) {
    answer.error(toThunderError(err));
  }
}
