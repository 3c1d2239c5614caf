import murmur from 'murmurhash3js-revisited';

// The library re-checks every byte of its input unless told not to; our input is always a
// Uint8Array of UTF-8 we encoded ourselves, so the check is pure overhead on the hot path.
(murmur as unknown as { inputValidation: boolean }).inputValidation = false;

const encoder = new TextEncoder();

/**
 * A key's UTF-8 bytes in one reused scratch buffer, and murmur3 (x86, 32-bit) of them.
 * Encoding into the same buffer and hashing a cached view of it per length keeps the hot
 * path free of allocation. Holds one key at a time: `encode()` replaces the last.
 */
export class KeyBytes {
  #scratch = new Uint8Array(1024);
  #views: Uint8Array[] = [];
  #length = 0;

  /** Encodes `key` as UTF-8; returns its length in bytes. */
  encode(key: string): number {
    let { read, written } = encoder.encodeInto(key, this.#scratch);
    while (read < key.length) {
      // Longer than any key seen so far: grow the scratch buffer once and start again.
      this.#scratch = new Uint8Array(Buffer.byteLength(key) * 2);
      this.#views = [];
      ({ read, written } = encoder.encodeInto(key, this.#scratch));
    }
    this.#length = written;
    return written;
  }

  /** The encoded bytes: a view valid until the next `encode()`. */
  get bytes(): Uint8Array {
    const n = this.#length;
    return (this.#views[n] ??= this.#scratch.subarray(0, n));
  }

  /** murmur3 x86 32-bit of the encoded bytes. */
  hash(seed: number): number {
    return murmur.x86.hash32(this.bytes, seed);
  }
}

/** murmur3 x86 32-bit of raw bytes. */
export function hashBytes(bytes: Uint8Array, seed: number): number {
  return murmur.x86.hash32(bytes, seed);
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
