import assert from 'node:assert/strict';
import { test } from 'node:test';
import { etagBytes, etagOf, parseEtags } from '../src/http/etag.js';

const HLC_TODAY = (1_765_000_000_000 - 1_577_836_800_000) * 256 * 16 + 3 * 16 + 2;

/** What an answer's ETag header says, whichever form etagBytes gave. */
const text = (tag: Uint8Array | string) =>
  typeof tag === 'string' ? tag : Buffer.from(tag).toString('latin1');

test('etagBytes spells the same tag as etagOf, at every digit count and across the halves it splits at', () => {
  const versions = [1, 9, 10, 99, 100, 12_345_678, 99_999_999, 100_000_000, 100_000_001, 100_000_010];
  for (let digits = 1; digits <= 16; digits++)
    versions.push(10 ** (digits - 1), Math.min(10 ** digits - 1, 2 ** 53 - 1));
  // An HLC version of today (src/time/hlc.ts): ms since 2020 × 256 × 16, counter and origin.
  versions.push(HLC_TODAY, Number.MAX_SAFE_INTEGER, 2 ** 52 + 100_000_000);
  for (const version of versions) {
    const tag = etagBytes(version);
    // The bytes, not etagOf's string: the fast path is the one measured.
    assert.ok(tag instanceof Uint8Array, String(version));
    assert.equal(text(tag), etagOf(version), String(version));
  }
});

test('etagBytes falls back to the string for what is not a safe whole number, and parses back', () => {
  for (const version of [2 ** 53, -1, 1.5]) assert.equal(etagBytes(version), etagOf(version));
  const version = HLC_TODAY;
  assert.deepEqual(parseEtags(text(etagBytes(version)), 'If-None-Match'), [version]);
});
