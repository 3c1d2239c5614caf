import { murmur3 } from './murmur3.js';

const encoder = new TextEncoder();

/**
 * A key's UTF-8 bytes in one reused scratch buffer, and its ring hash: murmur3 (x86, 32-bit,
 * seed 0) of those bytes. Encoding into the same buffer keeps the hot path free of
 * allocation. Holds one key at a time: `encode()` replaces the last.
 */
export class KeyBytes {
  #scratch = Buffer.allocUnsafeSlow(1024);
  #length = 0;

  /** Encodes `key` as UTF-8; returns its length in bytes. */
  encode(key: string): number {
    let { read, written } = encoder.encodeInto(key, this.#scratch);
    while (read < key.length) {
      // Longer than any key seen so far: grow the scratch buffer once and start again.
      this.#scratch = Buffer.allocUnsafeSlow(Buffer.byteLength(key) * 2);
      ({ read, written } = encoder.encodeInto(key, this.#scratch));
    }
    this.#length = written;
    return written;
  }

  /** The scratch buffer: the encoded key is its first {@link length} bytes, until the next `encode()`. */
  get buffer(): Buffer {
    return this.#scratch;
  }

  get length(): number {
    return this.#length;
  }

  /** The ring hash of the encoded key. */
  hash(): number {
    return murmur3(this.#scratch, 0, this.#length, 0);
  }
}

/**
 * Orders keys as their UTF-8 bytes sort (code point order), the order listings promise and
 * the one a node can test on stored bytes without decoding them. JS's `<` compares UTF-16
 * units, which differs only where a surrogate pair meets U+E000–U+FFFF; this maps the
 * units so surrogates sort above that range.
 */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

function codePointRank(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit < 0xe000 ? unit + 0x2000 : unit - 0x800;
}
