import { isUtf8 } from 'node:buffer';
import { BadRequestError, InvalidKeyError, ValueTooLargeError } from '../errors.js';
import { keyError, valueError, type Limits } from '../limits.js';
import { LineSplitter } from './lines.js';
import type { PairParser, PairSink } from './pairs.js';

/**
 * The original ThunderDB's file format: one `key value` pair per line, split at the first
 * space; the value is the rest of the line, kept as raw bytes. Blank lines are skipped.
 */
export class TextPairParser implements PairParser {
  readonly #lines: LineSplitter;

  constructor(sink: PairSink, limits: Limits) {
    this.#lines = new LineSplitter(
      limits.maxKeyBytes + 1 + limits.maxValueBytes,
      (buf, start, end, lineNo) => {
        if (end === start) return;
        const space = buf.indexOf(32, start);
        if (space < 0 || space >= end) {
          sink.reject(lineNo, new BadRequestError(`line ${lineNo}: expected "key value"`));
          return;
        }
        const key = buf.toString('utf8', start, space);
        // toString() turns broken UTF-8 into U+FFFD; a key must not change on the way in.
        if (key.includes('\uFFFD') && !isUtf8(buf.subarray(start, space))) {
          sink.reject(lineNo, new InvalidKeyError(`line ${lineNo}: the key is not valid UTF-8`));
          return;
        }
        const error = keyError(key, limits) ?? valueError(end - space - 1, limits);
        if (error) {
          error.message = `line ${lineNo}: ${error.message}`;
          sink.reject(lineNo, error);
          return;
        }
        // The value's bytes as they came: the sink copies them into a batch at once.
        sink.pair(key, buf.subarray(space + 1, end), lineNo);
      },
      (lineNo) =>
        sink.reject(
          lineNo,
          new ValueTooLargeError(
            `line ${lineNo} is longer than a key and value may be (${limits.maxKeyBytes} + ${limits.maxValueBytes} bytes)`,
          ),
        ),
    );
  }

  push(chunk: Buffer): void {
    this.#lines.push(chunk);
  }

  end(): void {
    this.#lines.end();
  }
}
