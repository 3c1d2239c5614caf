import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import type { ThunderError } from '../src/errors.js';
import { MgetKeysParser } from '../src/http/mget-keys.js';

import { type Limits } from '../src/limits.js';
import { DEFAULT_LIMITS } from '../src/config.js';

const SMALL: Limits = { ...DEFAULT_LIMITS, maxKeyBytes: 8, maxKeysPerRequest: 3 };

/** The keys, or the error code, of `body` fed as the given pieces (each zeroed after its call). */
function parse(pieces: Buffer[], limits: Limits): string[] | string {
  const parser = new MgetKeysParser(limits);
  try {
    for (const piece of pieces) {
      const chunk = Buffer.from(piece);
      parser.push(chunk);
      chunk.fill(0);
    }
    return parser.end();
  } catch (err) {
    return (err as ThunderError).code;
  }
}

/** Parses `body` whole, split in two at every byte and a byte at a time: all must agree. */
function parseEverySplit(body: string | Buffer, limits: Limits = SMALL): string[] | string {
  const buf = Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  const whole = parse([buf], limits);
  for (let at = 0; at <= buf.length; at++) {
    assert.deepEqual(parse([buf.subarray(0, at), buf.subarray(at)], limits), whole, `split at byte ${at}`);
  }
  assert.deepEqual(
    parse(
      [...buf].map((b) => Buffer.from([b])),
      limits,
    ),
    whole,
    'a byte at a time',
  );
  return whole;
}

describe('MgetKeysParser: an _mget body read as it arrives', () => {
  test('the distinct keys in the order first named, escapes and non-ASCII decoded', () => {
    const roomy = { ...SMALL, maxKeysPerRequest: 4 };
    assert.deepEqual(
      parseEverySplit(' { "keys" : [ "a", "b\\u00e9", "caf\u00e9", "a", "q\\"x" ] } ', roomy),
      ['a', 'bé', 'café', 'q"x'],
    );
    assert.deepEqual(parseEverySplit('{"keys":[]}'), []);
  });

  const refused: [string, string | Buffer, string][] = [
    ['broken JSON', '{"keys": [', 'INVALID_JSON'],
    ['a key that is not a string', '{"keys": [1]}', 'BAD_REQUEST'],
    ['keys that are not an array', '{"keys": "a"}', 'BAD_REQUEST'],
    ['no keys member', '{}', 'BAD_REQUEST'],
    ['another member', '{"keys": ["a"], "more": 1}', 'BAD_REQUEST'],
    ['keys twice', '{"keys": ["a"], "keys": ["b"]}', 'BAD_REQUEST'],
    ['an empty key', '{"keys": [""]}', 'INVALID_KEY'],
    ['a key over the limit', '{"keys": ["123456789"]}', 'KEY_TOO_LARGE'],
    [
      'a key that is not UTF-8',
      Buffer.concat([Buffer.from('{"keys": ["a'), Buffer.from([0xff]), Buffer.from('"]}')]),
      'INVALID_JSON',
    ],
    ['a lone surrogate', '{"keys": ["\\ud800"]}', 'INVALID_KEY'],
    ['more distinct keys than the limit', '{"keys": ["a","b","c","d"]}', 'TOO_MANY_KEYS'],
    ['data after the object', '{"keys": []} x', 'INVALID_JSON'],
  ];
  for (const [what, body, code] of refused) {
    test(`refuses ${what} with ${code}`, () => assert.equal(parseEverySplit(body), code));
  }

  test('a key named many times counts once against the limit', () => {
    assert.deepEqual(parseEverySplit('{"keys": ["a","b","a","c","b","a"]}'), ['a', 'b', 'c']);
  });

  test('too many keys is refused at the first key past the limit, before the rest of the body is read', () => {
    const parser = new MgetKeysParser(SMALL);
    parser.push(Buffer.from('{"keys": ["a","b","c",'));
    assert.throws(() => parser.push(Buffer.from('"d",')), { code: 'TOO_MANY_KEYS' });
  });
});
