import { isUtf8 } from 'node:buffer';
import { BadRequestError, InvalidJsonError, ValueTooLargeError } from '../errors.js';
import { textToBytes } from '../bytes.js';
import { keyError, valueError, type Limits } from '../limits.js';
import { LineSplitter } from './lines.js';
import type { PairParser, PairSink } from './pairs.js';

/** Longest a JSON-escaped byte can be (`\u00XX`), for bounding a line before parsing it. */
const MAX_ESCAPE = 6;

/**
 * Newline-delimited JSON: one `["key", "value"]` array per line, or `["key", "value",
 * EXPIRES_AT]` for a value that expires at EXPIRES_AT (Unix ms, a positive integer: what
 * `GET /export` writes). Blank lines are skipped.
 * A line that is not such an array is one bad pair (the next line starts afresh), so
 * `?invalid=skip` skips it. JSON text must be UTF-8 (RFC 8259 §8.1): a line that is not is
 * refused, never decoded with U+FFFD in place of its bad bytes, which would make different
 * keys or values the same.
 */
export class NdjsonPairParser implements PairParser {
  readonly #lines: LineSplitter;

  constructor(sink: PairSink, limits: Limits) {
    this.#lines = new LineSplitter(
      (limits.maxKeyBytes + limits.maxValueBytes) * MAX_ESCAPE + 16,
      (buf, start, end, lineNo) => {
        if (end === start) return;
        const line = buf.subarray(start, end);
        if (!isUtf8(line)) {
          sink.reject(
            lineNo,
            new InvalidJsonError(
              `line ${lineNo} is not valid UTF-8, as JSON text must be (send raw bytes as text/plain or with PUT /kv/{key})`,
            ),
          );
          return;
        }
        let pair: unknown;
        try {
          pair = JSON.parse(line.toString('utf8'));
        } catch (err) {
          sink.reject(lineNo, new InvalidJsonError(`line ${lineNo}: ${(err as Error).message}`));
          return;
        }
        if (
          !Array.isArray(pair) ||
          (pair.length !== 2 && pair.length !== 3) ||
          typeof pair[0] !== 'string' ||
          typeof pair[1] !== 'string' ||
          (pair.length === 3 && !(Number.isSafeInteger(pair[2]) && (pair[2] as number) > 0))
        ) {
          sink.reject(
            lineNo,
            new BadRequestError(
              `line ${lineNo}: expected ["key", "value"], two strings, or ["key", "value", EXPIRES_AT] with a positive integer of Unix ms`,
            ),
          );
          return;
        }
        const [key, text, expiresAt] = pair as [string, string, number | undefined];
        let error = keyError(key, limits);
        // An escaped lone surrogate ("\ud800") has no UTF-8 form: storing it would store U+FFFD.
        if (!error && !text.isWellFormed()) {
          error = new InvalidJsonError('the value has a lone surrogate escape, which is not text');
        }
        const value = error ? '' : textToBytes(text);
        error ??= valueError(value.length, limits);
        if (error) {
          error.message = `line ${lineNo}: ${error.message}`;
          sink.reject(lineNo, error);
          return;
        }
        sink.pair(key, value, lineNo, expiresAt);
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
