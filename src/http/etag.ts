import { BadRequestError } from '../errors.js';

/**
 * Entity tags: a value's version (src/time/hlc.ts) in quotes, a strong validator (RFC 9110 §8.8.3),
 * since two different writes of a key never share a version.
 */
export function etagOf(version: number): string {
  return `"${version}"`;
}

/** Room for the quotes around the longest safe integer's 16 digits. */
const ETAG_BYTES = 18;
const scratch = new Uint8Array(ETAG_BYTES);
/** `views[n]`: the last n bytes of the scratch, made once, so no answer allocates one. */
const views = Array.from({ length: ETAG_BYTES + 1 }, (_, n) => scratch.subarray(ETAG_BYTES - n));
const QUOTE = 0x22;
const ZERO = 0x30;

/**
 * {@link etagOf} as ASCII bytes in a scratch buffer, valid until the next call: what every
 * answer to a key writes. A version is a double of up to 16 digits, and turning one into
 * a string (and that string into bytes for the socket) cost more than the rest of a GET's
 * answer (bench/RESULTS.md, round two).
 */
export function etagBytes(version: number): Uint8Array | string {
  if (!Number.isSafeInteger(version) || version < 0) return etagOf(version);
  // Two halves below 10^8, so the digits come from small-integer arithmetic, not a double's
  // remainder (a C call each).
  const high = Math.floor(version / 1e8);
  const low = version - high * 1e8;
  let at = ETAG_BYTES - 1;
  scratch[at] = QUOTE;
  if (high === 0) at = writeDigits(low, at);
  else {
    const end = at;
    at = writeDigits(low, at);
    while (at > end - 8) scratch[--at] = ZERO;
    at = writeDigits(high, at);
  }
  scratch[--at] = QUOTE;
  return views[ETAG_BYTES - at]!;
}

/** Writes `n`'s decimal digits (an integer below 10^8) to the scratch, ending before `at`; returns where they start. */
function writeDigits(n: number, at: number): number {
  let rest = n | 0;
  do {
    const next = (rest / 10) | 0;
    scratch[--at] = ZERO + rest - next * 10;
    rest = next;
  } while (rest > 0);
  return at;
}

/** A strong entity tag: a version, quoted. */
const ETAG = /^"([1-9][0-9]{0,15})"$/;

/**
 * The versions an `If-Match` or `If-None-Match` header names: `*`, or a comma-separated list
 * of entity tags. Weak tags (`W/"…"`) are refused: the conditions here compare strongly.
 * A tag that is not one of ours is kept as a version that matches nothing (-1), as a
 * foreign ETag would.
 */
export function parseEtags(header: string, name: string): number[] | '*' {
  const text = header.trim();
  if (text === '*') return '*';
  const versions: number[] = [];
  for (const piece of text.split(',')) {
    const tag = piece.trim();
    if (tag.startsWith('W/')) {
      throw new BadRequestError(`${name} takes strong entity tags or *; ${tag} is weak`);
    }
    if (!/^"[^"]*"$/.test(tag)) {
      throw new BadRequestError(
        `${name} must be * or a list of quoted entity tags, got ${JSON.stringify(header)}`,
      );
    }
    const match = ETAG.exec(tag);
    versions.push(match ? Number(match[1]) : -1);
  }
  return versions;
}
