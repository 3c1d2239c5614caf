import { isUtf8 } from 'node:buffer';
import { BadRequestError, InvalidJsonError, KeyTooLargeError, TooManyKeysError } from '../errors.js';
import { keyError, type Limits } from '../limits.js';

const QUOTE = 34;
const BACKSLASH = 92;
/** Longest a JSON-escaped byte can be (`\u00XX`). */
const MAX_ESCAPE = 6;
const SHAPE = 'expected {"keys": ["key", …]}, an array of strings';

const enum State {
  Start,
  Member,
  Colon,
  ArrayStart,
  FirstElement,
  Element,
  AfterElement,
  AfterArray,
  Done,
}

function isSpace(byte: number): boolean {
  return byte === 32 || byte === 10 || byte === 13 || byte === 9;
}

/**
 * A streaming parser for an `_mget` body, `{"keys": ["k", …]}`: chunks are read as they
 * arrive, each key checked as its closing quote does, and the body refused as soon as it
 * names more distinct keys than the limit: a 16 MB body of 1.5 M keys is refused after its
 * first 10,001 keys, never parsed whole, so no request keeps the front end's one thread
 * busy for long (issue 17). It holds one key's bytes and the distinct keys so far.
 *
 * The body must be exactly that object: another member, or an element that is not a string,
 * is BAD_REQUEST; broken JSON is INVALID_JSON; a key that is not UTF-8 is INVALID_JSON too
 * (never decoded with U+FFFD, which would make it another key).
 */
export class MgetKeysParser {
  readonly #limits: Limits;
  readonly #keys = new Set<string>();
  #state = State.Start;
  #offset = 0;
  /** The string being read, and whether it is the member name or a key. */
  #inString = false;
  #isMember = false;
  #parts: Buffer[] = [];
  #length = 0;
  #escaped = false;
  #special = false;
  #highBytes = false;
  #sawKeys = false;

  constructor(limits: Limits) {
    this.#limits = limits;
  }

  /** Reads one chunk of the body (a view, used during the call only). */
  push(chunk: Buffer): void {
    for (let i = 0; i < chunk.length;) {
      if (this.#inString) {
        i = this.#scanString(chunk, i);
        continue;
      }
      const byte = chunk[i]!;
      if (!isSpace(byte)) this.#structural(chunk, i, byte);
      i++;
    }
    this.#offset += chunk.length;
  }

  /** The body is over: the distinct keys, in the order first named. */
  end(): string[] {
    if (this.#state !== State.Done) {
      throw new InvalidJsonError(`the body ended inside the JSON object (after ${this.#offset} bytes)`);
    }
    return [...this.#keys];
  }

  #structural(chunk: Buffer, i: number, byte: number): void {
    switch (this.#state) {
      case State.Start:
        return byte === 123 ? void (this.#state = State.Member) : this.#fail(chunk, i, 'expected "{"');
      case State.Member:
        if (byte === QUOTE) return this.#beginString(true);
        if (byte === 125) throw new BadRequestError(SHAPE);
        return this.#fail(chunk, i, 'expected a member name');
      case State.Colon:
        return byte === 58 ? void (this.#state = State.ArrayStart) : this.#fail(chunk, i, 'expected ":"');
      case State.ArrayStart:
        if (byte === 91) return void (this.#state = State.FirstElement);
        throw new BadRequestError(SHAPE);
      case State.FirstElement:
      case State.Element:
        if (byte === QUOTE) return this.#beginString(false);
        if (byte === 93 && this.#state === State.FirstElement) return void (this.#state = State.AfterArray);
        throw new BadRequestError(SHAPE);
      case State.AfterElement:
        if (byte === 44) return void (this.#state = State.Element);
        if (byte === 93) return void (this.#state = State.AfterArray);
        return this.#fail(chunk, i, 'expected "," or "]"');
      case State.AfterArray:
        if (byte === 125) return void (this.#state = State.Done);
        // A second member: named when its name is read, and refused.
        if (byte === 44) return void (this.#state = State.Member);
        return this.#fail(chunk, i, 'expected "}"');
      case State.Done:
        return this.#fail(chunk, i, 'unexpected data after the object');
    }
  }

  #fail(chunk: Buffer, i: number, expected: string): never {
    const found = JSON.stringify(String.fromCharCode(chunk[i]!));
    throw new InvalidJsonError(`${expected} at byte ${this.#offset + i}, found ${found}`);
  }

  #beginString(isMember: boolean): void {
    this.#inString = true;
    this.#isMember = isMember;
    this.#parts = [];
    this.#length = 0;
    this.#escaped = false;
    this.#special = false;
    this.#highBytes = false;
  }

  /** Reads string bytes from `start`; returns where it stopped. */
  #scanString(chunk: Buffer, start: number): number {
    let i = start;
    let escaped = this.#escaped;
    for (; i < chunk.length; i++) {
      const byte = chunk[i]!;
      if (escaped) escaped = false;
      else if (byte === BACKSLASH) escaped = this.#special = true;
      else if (byte === QUOTE) break;
      else if (byte < 32) this.#special = true;
      else if (byte >= 128) this.#highBytes = true;
    }
    this.#escaped = escaped;
    this.#length += i - start;
    if (this.#length > this.#limits.maxKeyBytes * MAX_ESCAPE) {
      throw this.#isMember
        ? new BadRequestError(SHAPE)
        : new KeyTooLargeError(`a key is over ${this.#limits.maxKeyBytes} bytes`);
    }
    // A copy: the chunk's memory is reused after the call.
    this.#parts.push(Buffer.from(chunk.subarray(start, i)));
    if (i === chunk.length) return i;
    this.#endString();
    return i + 1;
  }

  #endString(): void {
    this.#inString = false;
    const raw = this.#parts.length === 1 ? this.#parts[0]! : Buffer.concat(this.#parts);
    this.#parts = [];
    if (this.#highBytes && !isUtf8(raw)) {
      throw new InvalidJsonError('a key is not valid UTF-8, as JSON text must be');
    }
    let text: string;
    try {
      text = this.#special ? (JSON.parse(`"${raw.toString('utf8')}"`) as string) : raw.toString('utf8');
    } catch (err) {
      throw new InvalidJsonError((err as Error).message);
    }
    if (this.#isMember) {
      if (text !== 'keys') throw new BadRequestError(`unknown member ${JSON.stringify(text)}: ${SHAPE}`);
      if (this.#sawKeys) throw new BadRequestError(`"keys" given twice: ${SHAPE}`);
      this.#sawKeys = true;
      this.#state = State.Colon;
      return;
    }
    const error = keyError(text, this.#limits);
    if (error) throw error;
    this.#keys.add(text);
    if (this.#keys.size > this.#limits.maxKeysPerRequest) {
      throw new TooManyKeysError(
        `more than ${this.#limits.maxKeysPerRequest} distinct keys; the limit is ${this.#limits.maxKeysPerRequest}`,
      );
    }
    this.#state = State.AfterElement;
  }
}
