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
}

const QUOTE = 34;
const BACKSLASH = 92;

/** Longest a JSON-escaped byte can be (`\u00XX`). */
const MAX_ESCAPE = 6;

function isSpace(byte: number): boolean {
  return byte === 32 || byte === 10 || byte === 13 || byte === 9;
}

/**
 * A streaming parser for one flat JSON object of string values, `{"k": "v", …}`: pairs are
 * handed on as soon as each value's closing quote arrives, and at most one string is held
 * at a time. A string longer than its limit could be is skipped rather than buffered, and
 * its pair rejected. Anything but a flat object of strings is a fatal INVALID_JSON or
 * BAD_REQUEST naming the pair and byte offset.
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
          if (byte !== QUOTE) {
            throw new BadRequestError(
              `pair ${this.#pairNo} (key ${JSON.stringify(this.#key)}): values must be strings`,
            );
          }
          this.#beginString(false);
          break;
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
    this.#endString(chunk, i);
    return i + 1;
  }

  #endString(chunk: Buffer, at: number): void {
    const isKey = this.#isKey;
    let text: string | null = null;
    let error: ThunderError | null = null;
    if (this.#tooLong) {
      error = isKey
        ? new KeyTooLargeError(`pair ${this.#pairNo}: key is over ${this.#limits.maxKeyBytes} bytes`)
        : new ValueTooLargeError(`pair ${this.#pairNo}: value is over ${this.#limits.maxValueBytes} bytes`);
    } else {
      const raw = this.#parts.length === 1 ? this.#parts[0]! : Buffer.concat(this.#parts);
      if (this.#highBytes && !isUtf8(raw)) this.#fail(chunk, at, 'valid UTF-8 in the string ending');
      if (this.#special) {
        try {
          text = JSON.parse('"' + raw.toString('utf8') + '"') as string;
        } catch (err) {
          throw new InvalidJsonError(`pair ${this.#pairNo}: ${(err as Error).message}`);
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
    const value = text === null ? null : this.#special ? textToBytes(text) : text;
    error = this.#keyError ?? error ?? valueError(value!.length, this.#limits);
    if (error) {
      if (!error.message.startsWith('pair ')) error.message = `pair ${this.#pairNo}: ${error.message}`;
      this.#sink.reject(this.#pairNo, error);
    } else {
      this.#sink.pair(this.#key!, value!, this.#pairNo);
    }
  }
}
