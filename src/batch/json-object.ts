import { isUtf8 } from 'node:buffer';
import { textToBytes } from '../bytes.js';
import {
  BadRequestError,
  InvalidJsonError,
  KeyTooLargeError,
  ValueTooLargeError,
  type ThunderError,
} from '../errors.js';
import { keyError, valueError, type Limits } from '../limits.js';
import type { PairParser, PairSink } from './pairs.js';

const enum State {
  Start,
  FirstKey,
  NextKey,
  Colon,
  Value,
  AfterValue,
  Done,
  InString,
  /** Inside a value that is not a string, being skipped (see #scanOther). */
  InOther,
}

const QUOTE = 34;
const BACKSLASH = 92;

/** Longest a JSON-escaped byte can be (`\u00XX`). */
const MAX_ESCAPE = 6;

function isSpace(byte: number): boolean {
  return byte === 32 || byte === 10 || byte === 13 || byte === 9;
}

/** A byte that can start a JSON value other than a string: `{ [ - 0-9 t f n`. */
function startsOther(byte: number): boolean {
  return (
    byte === 123 ||
    byte === 91 ||
    byte === 45 ||
    (byte >= 48 && byte <= 57) ||
    byte === 116 ||
    byte === 102 ||
    byte === 110
  );
}

/**
 * A streaming parser for one flat JSON object of string values, `{"k": "v", …}`: pairs are
 * handed on as soon as each value's closing quote arrives, and at most one string is held
 * at a time. A string longer than its limit could be is skipped rather than buffered, and
 * its pair rejected. A pair whose framing is intact but whose content is wrong (a string
 * that is not UTF-8 or has a bad escape, a value that is a number, object or array) is
 * rejected as one bad pair, so `?invalid=skip` can go on past it; a body whose structure
 * breaks is a fatal INVALID_JSON naming the byte offset.
 */
export class JsonObjectPairParser implements PairParser {
  readonly #sink: PairSink;
  readonly #limits: Limits;
  #state = State.Start;
  #offset = 0; // bytes of the body before the current chunk
  #pairNo = 0;
  #key: string | null = null;
  #keyError: ThunderError | null = null;
  // The string being read: its bytes so far, and what was seen in them.
  #parts: Buffer[] = [];
  #length = 0;
  #isKey = true;
  #escaped = false;
  #special = false; // an escape or control byte: needs JSON.parse to decode
  #highBytes = false; // a byte ≥ 0x80: needs a UTF-8 check
  #tooLong = false;
  // The non-string value being skipped: its depth of brackets and where it is in a string.
  #depth = 0;
  #otherInString = false;

  constructor(sink: PairSink, limits: Limits) {
    this.#sink = sink;
    this.#limits = limits;
  }

  push(chunk: Buffer): void {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.#state === State.InString) {
        i = this.#scanString(chunk, i);
        continue;
      }
      if (this.#state === State.InOther) {
        i = this.#scanOther(chunk, i);
        continue;
      }
      const byte = chunk[i]!;
      if (isSpace(byte)) {
        i++;
        continue;
      }
      switch (this.#state) {
        case State.Start:
          if (byte !== 123) this.#fail(chunk, i, 'expected "{"');
          this.#state = State.FirstKey;
          break;
        case State.FirstKey:
        case State.NextKey:
          if (byte === QUOTE) {
            this.#pairNo++;
            this.#beginString(true);
          } else if (byte === 125 && this.#state === State.FirstKey) {
            this.#state = State.Done;
          } else {
            this.#fail(chunk, i, 'expected a key string');
          }
          break;
        case State.Colon:
          if (byte !== 58) this.#fail(chunk, i, 'expected ":"');
          this.#state = State.Value;
          break;
        case State.Value:
          if (byte === QUOTE) {
            this.#beginString(false);
            break;
          }
          if (!startsOther(byte)) this.#fail(chunk, i, 'expected a value');
          this.#beginOther();
          continue; // #scanOther reads this byte too
        case State.AfterValue:
          if (byte === 44) this.#state = State.NextKey;
          else if (byte === 125) this.#state = State.Done;
          else this.#fail(chunk, i, 'expected "," or "}"');
          break;
        case State.Done:
          this.#fail(chunk, i, 'unexpected data after the object');
      }
      i++;
    }
    this.#offset += n;
  }

  end(): void {
    if (this.#state !== State.Done) {
      throw new InvalidJsonError(
        `the body ended inside the JSON object (after ${this.#offset} bytes, pair ${this.#pairNo})`,
      );
    }
  }

  #fail(chunk: Buffer, i: number, expected: string): never {
    const found = JSON.stringify(String.fromCharCode(chunk[i]!));
    throw new InvalidJsonError(`${expected} at byte ${this.#offset + i}, found ${found}`);
  }

  #beginOther(): void {
    this.#state = State.InOther;
    this.#parts = [];
    this.#length = 0;
    this.#depth = 0;
    this.#otherInString = false;
    this.#escaped = false;
  }

  /**
   * Reads a value that is not a string from `start`; returns where it stopped. A number or
   * literal ends before the space, `,` or `}` after it; an object or array after its closing
   * bracket. Its bytes are kept (up to the value limit, past which the batch ends) so that
   * JSON.parse can tell a well-formed value, rejected as one bad pair, from broken JSON,
   * which ends the batch.
   */
  #scanOther(chunk: Buffer, start: number): number {
    const n = chunk.length;
    let i = start;
    let end = -1; // where the value ends in this chunk, exclusive
    for (; i < n; i++) {
      const byte = chunk[i]!;
      if (this.#otherInString) {
        if (this.#escaped) this.#escaped = false;
        else if (byte === BACKSLASH) this.#escaped = true;
        else if (byte === QUOTE) this.#otherInString = false;
      } else if (byte === QUOTE) {
        // A quote can only be inside an object or array: `tru"e` is broken, not skippable.
        if (this.#depth === 0) this.#fail(chunk, i, 'expected a value');
        this.#otherInString = true;
      } else if (byte === 123 || byte === 91) {
        this.#depth++;
      } else if (this.#depth > 0 && (byte === 125 || byte === 93)) {
        if (--this.#depth === 0) {
          end = i + 1;
          break;
        }
      } else if (this.#depth === 0 && (isSpace(byte) || byte === 44 || byte === 125 || byte === 93)) {
        end = i;
        break;
      }
    }
    const stop = end < 0 ? n : end;
    this.#length += stop - start;
    if (this.#length > this.#limits.maxValueBytes * MAX_ESCAPE) {
      throw new BadRequestError(
        `pair ${this.#pairNo} (key ${JSON.stringify(this.#key)}): values must be strings, and this one is too long to skip`,
      );
    }
    // A copy: the chunk's memory is reused after the call.
    this.#parts.push(Buffer.from(chunk.subarray(start, stop)));
    if (end < 0) return n;
    this.#endOther();
    return end;
  }

  #endOther(): void {
    const pair = `pair ${this.#pairNo} (key ${JSON.stringify(this.#key)})`;
    const raw = Buffer.concat(this.#parts);
    this.#parts = [];
    let value: unknown;
    try {
      if (!isUtf8(raw)) throw new Error('not valid UTF-8');
      value = JSON.parse(raw.toString('utf8'));
    } catch (err) {
      throw new InvalidJsonError(`${pair}: the value is not JSON: ${(err as Error).message}`);
    }
    this.#state = State.AfterValue;
    const kind = value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
    const error = this.#keyError ?? new BadRequestError(`${pair}: values must be strings, got ${kind}`);
    this.#sink.reject(this.#pairNo, error);
  }

  #beginString(isKey: boolean): void {
    this.#state = State.InString;
    this.#isKey = isKey;
    this.#parts = [];
    this.#length = 0;
    this.#escaped = false;
    this.#special = false;
    this.#highBytes = false;
    this.#tooLong = false;
  }

  /** Reads string bytes from `start`; returns where it stopped. */
  #scanString(chunk: Buffer, start: number): number {
    const n = chunk.length;
    let i = start;
    let escaped = this.#escaped;
    for (; i < n; i++) {
      const byte = chunk[i]!;
      if (escaped) {
        escaped = false;
      } else if (byte === BACKSLASH) {
        escaped = true;
        this.#special = true;
      } else if (byte === QUOTE) {
        break;
      } else if (byte < 32) {
        this.#special = true;
      } else if (byte >= 128) {
        this.#highBytes = true;
      }
    }
    this.#escaped = escaped;
    const limit = (this.#isKey ? this.#limits.maxKeyBytes : this.#limits.maxValueBytes) * MAX_ESCAPE;
    if (!this.#tooLong) {
      this.#length += i - start;
      if (this.#length > limit) {
        this.#tooLong = true;
        this.#parts = [];
      } else {
        // A copy unless the string ends here: the chunk's memory is reused after the call.
        const piece = chunk.subarray(start, i);
        this.#parts.push(i < n ? piece : Buffer.from(piece));
      }
    }
    if (i === n) return n;
    this.#endString();
    return i + 1;
  }

  #endString(): void {
    const isKey = this.#isKey;
    const what = isKey ? 'key' : 'value';
    let text: string | null = null;
    let error: ThunderError | null = null;
    if (this.#tooLong) {
      error = isKey
        ? new KeyTooLargeError(`pair ${this.#pairNo}: key is over ${this.#limits.maxKeyBytes} bytes`)
        : new ValueTooLargeError(`pair ${this.#pairNo}: value is over ${this.#limits.maxValueBytes} bytes`);
    } else {
      const raw = this.#parts.length === 1 ? this.#parts[0]! : Buffer.concat(this.#parts);
      // The string's framing is intact whatever is wrong inside it: one bad pair, not a broken body.
      if (this.#highBytes && !isUtf8(raw)) {
        error = new InvalidJsonError(
          `pair ${this.#pairNo}: the ${what} is not valid UTF-8, as JSON text must be (send raw bytes as text/plain or with PUT /kv/{key})`,
        );
      } else if (this.#special) {
        try {
          text = JSON.parse('"' + raw.toString('utf8') + '"') as string;
        } catch (err) {
          error = new InvalidJsonError(`pair ${this.#pairNo}: ${(err as Error).message}`);
        }
        // An escaped lone surrogate ("\ud800") has no UTF-8 form: storing it would store U+FFFD.
        if (text !== null && !isKey && !text.isWellFormed()) {
          error = new InvalidJsonError(
            `pair ${this.#pairNo}: the value has a lone surrogate escape, which is not text`,
          );
        }
      } else {
        // No escapes: the raw bytes are the UTF-8 text itself.
        text = isKey ? raw.toString('utf8') : raw.toString('latin1');
      }
    }
    this.#parts = [];
    if (isKey) {
      this.#key = text;
      this.#keyError = error ?? keyError(text!, this.#limits);
      this.#state = State.Colon;
      return;
    }
    this.#state = State.AfterValue;
    const value = error || text === null ? null : this.#special ? textToBytes(text) : text;
    error = this.#keyError ?? error ?? valueError(value!.length, this.#limits);
    if (error) {
      if (!error.message.startsWith('pair ')) error.message = `pair ${this.#pairNo}: ${error.message}`;
      this.#sink.reject(this.#pairNo, error);
    } else {
      this.#sink.pair(this.#key!, value!, this.#pairNo);
    }
  }
}
