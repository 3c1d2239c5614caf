import type { ThunderError } from '../errors.js';

/**
 * Where a batch parser sends what it finds. `index` is the 1-based line number in the
 * line formats and the 1-based pair number in a JSON object.
 */
export interface PairSink {
  /**
   * A pair that passed every check: key as text; value as bytes (a view valid only during
   * the call: copy it to keep it) or a byte string of one char per byte; and, when the pair
   * says when it expires (an NDJSON line's third element), that time in Unix ms.
   */
  pair(key: string, value: Uint8Array | string, index: number, expiresAt?: number): void;
  /** A pair that broke a rule the batch can go on past (an oversized value, an empty key…). */
  reject(index: number, error: ThunderError): void;
}

/**
 * Turns a streamed body into pairs. `push` may be called with any split of the body; a
 * chunk is only valid during the call, so a parser copies whatever it keeps. A broken body
 * that cannot be parsed further (malformed JSON, say) throws a ThunderError.
 */
export interface PairParser {
  push(chunk: Buffer): void;
  /** The body is complete. */
  end(): void;
}

/** A pair a batch or load left out, and why. */
export interface Rejection {
  /** 1-based line number (pair number in a JSON batch). */
  line: number;
  code: string;
  message: string;
}

/** Counts rejected pairs and keeps the first few, for the answer or report. */
export class RejectionLog {
  count = 0;
  readonly first: Rejection[] = [];
  readonly #keep: number;

  /** @param keep how many rejections to list; default 10. */
  constructor(keep = 10) {
    this.#keep = keep;
  }

  add(line: number, error: ThunderError): void {
    this.count++;
    if (this.first.length < this.#keep) this.first.push({ line, code: error.code, message: error.message });
  }
}
