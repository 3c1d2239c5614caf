import { BadRequestError, InvalidJsonError, ValueTooLargeError } from '../errors.js';
import { textToBytes } from '../bytes.js';
import { keyError, valueError, type Limits } from '../limits.js';
import { LineSplitter } from './lines.js';
import type { PairParser, PairSink } from './pairs.js';

/** Longest a JSON-escaped byte can be (`\u00XX`), for bounding a line before parsing it. */
const MAX_ESCAPE = 6;

/** Newline-delimited JSON: one `["key", "value"]` array per line. Blank lines are skipped. */
export class NdjsonPairParser implements PairParser {
  readonly #lines: LineSplitter;

  constructor(sink: PairSink, limits: Limits) {
    this.#lines = new LineSplitter(
      (limits.maxKeyBytes + limits.maxValueBytes) * MAX_ESCAPE + 16,
      (buf, start, end, lineNo) => {
        if (end === start) return;
        let pair: unknown;
        try {
          pair = JSON.parse(buf.toString('utf8', start, end));
        } catch (err) {
          throw new InvalidJsonError(`line ${lineNo}: ${(err as Error).message}`);
        }
        if (
          !Array.isArray(pair) ||
          pair.length !== 2 ||
          typeof pair[0] !== 'string' ||
          typeof pair[1] !== 'string'
        ) {
          sink.reject(lineNo, new BadRequestError(`line ${lineNo}: expected ["key", "value"], two strings`));
          return;
        }
        const value = textToBytes(pair[1]);
        const error = keyError(pair[0], limits) ?? valueError(value.length, limits);
        if (error) {
          error.message = `line ${lineNo}: ${error.message}`;
          sink.reject(lineNo, error);
          return;
        }
        sink.pair(pair[0], value, lineNo);
      },
      (lineNo) =>
        sink.reject(lineNo, new ValueTooLargeError(`line ${lineNo} is too long for a key and value`)),
    );
  }

  push(chunk: Buffer): void {
    this.#lines.push(chunk);
  }

  end(): void {
    this.#lines.end();
  }
}
