import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { pairParserFor } from '../src/batch/formats.js';

import type { PairSink } from '../src/batch/pairs.js';
import type { ThunderError } from '../src/errors.js';
import { type Limits } from '../src/limits.js';
import { DEFAULT_LIMITS } from '../src/config.js';

const SMALL: Limits = { ...DEFAULT_LIMITS, maxKeyBytes: 8, maxValueBytes: 16, maxBodyBytes: 1024 };

interface Parsed {
  pairs: [string, string, number][];
  rejects: [number, string][];
  error?: string;
}

/** Parses `body` fed as the given pieces. */
function parse(type: string, pieces: Buffer[], limits: Limits = DEFAULT_LIMITS): Parsed {
  const out: Parsed = { pairs: [], rejects: [] };
  const sink: PairSink = {
    // A view is valid only during the call: keep its bytes, as a byte string.
    pair: (key, value, index) =>
      out.pairs.push([key, typeof value === 'string' ? value : Buffer.from(value).toString('latin1'), index]),
    reject: (index, error) => out.rejects.push([index, error.code]),
  };
  const parser = pairParserFor(type, sink, limits);
  try {
    // Each piece is copied and the copy zeroed after the call: a parser that keeps a
    // reference to a chunk instead of copying it shows up as corrupted pairs.
    for (const piece of pieces) {
      const chunk = Buffer.from(piece);
      parser.push(chunk);
      chunk.fill(0);
    }
    parser.end();
  } catch (err) {
    out.error = (err as ThunderError).code;
  }
  return out;
}

/** Parses `body` whole, then split in two at every byte, and checks all agree. */
function parseEverySplit(type: string, body: string | Buffer, limits?: Limits): Parsed {
  const buf = Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  const whole = parse(type, [buf], limits);
  for (let at = 0; at <= buf.length; at++) {
    const split = parse(type, [buf.subarray(0, at), buf.subarray(at)], limits);
    assert.deepEqual(split, whole, `split at byte ${at}`);
  }
  const bytewise = parse(
    type,
    [...buf].map((b) => Buffer.from([b])),
    limits,
  );
  assert.deepEqual(bytewise, whole, 'one byte at a time');
  return whole;
}

describe('text/plain batches ("key value" lines)', () => {
  test('split at the first space; the rest of the line is the value, kept as bytes', () => {
    const out = parseEverySplit('text/plain', 'foo bar\r\nk2 two words\n\nkey3 caf\u00e9\nlast x');
    assert.deepEqual(out.pairs, [
      ['foo', 'bar', 1],
      ['k2', 'two words', 2],
      ['key3', 'caf\u00c3\u00a9', 4],
      ['last', 'x', 5],
    ]);
    assert.deepEqual(out.rejects, []);
  });

  test('lines without a space, empty keys, oversized keys and values are rejected by line number', () => {
    const out = parseEverySplit(
      'text/plain; charset=utf-8',
      'nospace\n v\nkkkkkkkkk v\nk vvvvvvvvvvvvvvvvv\nok fine\n',
      SMALL,
    );
    assert.deepEqual(out.rejects, [
      [1, 'BAD_REQUEST'],
      [2, 'INVALID_KEY'],
      [3, 'KEY_TOO_LARGE'],
      [4, 'VALUE_TOO_LARGE'],
    ]);
    assert.deepEqual(out.pairs, [['ok', 'fine', 5]]);
  });

  test('a line far over the limit is skipped without being held, and counting goes on', () => {
    const out = parseEverySplit('text/plain', 'a 1\n' + 'x'.repeat(100) + '\nb 2\n', SMALL);
    assert.deepEqual(out.rejects, [[2, 'VALUE_TOO_LARGE']]);
    assert.deepEqual(out.pairs, [
      ['a', '1', 1],
      ['b', '2', 3],
    ]);
  });

  test('a CRLF line exactly at the key and value limits is a pair, wherever the body is split', () => {
    const line = `${'k'.repeat(8)} ${'v'.repeat(16)}`;
    const out = parseEverySplit('text/plain', `${line}\r\n${line}\r\n${line}x\r\n${line}\r`, SMALL);
    assert.deepEqual(out.pairs, [
      ['k'.repeat(8), 'v'.repeat(16), 1],
      ['k'.repeat(8), 'v'.repeat(16), 2],
      ['k'.repeat(8), 'v'.repeat(16), 4],
    ]);
    assert.deepEqual(out.rejects, [[3, 'VALUE_TOO_LARGE']]);
  });

  test('a key that is not valid UTF-8 is rejected, not silently changed', () => {
    const out = parseEverySplit('text/plain', Buffer.from([0x66, 0xff, 0x20, 0x76, 0x0a]));
    assert.deepEqual(out.rejects, [[1, 'INVALID_KEY']]);
  });

  test('binary values survive byte for byte', () => {
    const value = Buffer.from([0, 1, 127, 128, 200, 255, 13, 32]);
    const body = Buffer.concat([Buffer.from('bin '), value, Buffer.from('\n')]);
    const out = parse('text/plain', [body]);
    assert.deepEqual(Buffer.from(out.pairs[0]![1], 'latin1'), value);
  });
});

describe('application/x-ndjson batches', () => {
  test('one ["key", "value"] per line; values become UTF-8 bytes', () => {
    const out = parseEverySplit(
      'application/x-ndjson',
      '["a","1"]\n\n["k\\n2","caf\u00e9"]\r\n["z","\\u0000"]',
    );
    assert.deepEqual(out.pairs, [
      ['a', '1', 1],
      ['k\n2', 'caf\u00c3\u00a9', 3],
      ['z', '\0', 4],
    ]);
  });

  test('a line of the wrong shape, or that is not JSON, is one rejected line: the next starts afresh', () => {
    assert.deepEqual(
      parseEverySplit('application/x-ndjson', '["a"]\n{"a":"b"}\n["a",1]\n["ok","v"]\n').rejects,
      [
        [1, 'BAD_REQUEST'],
        [2, 'BAD_REQUEST'],
        [3, 'BAD_REQUEST'],
      ],
    );
    const broken = parseEverySplit('application/x-ndjson', '["a","1"]\n["b",\n["c","3"]\n');
    assert.equal(broken.error, undefined);
    assert.deepEqual(broken.rejects, [[2, 'INVALID_JSON']]);
    assert.deepEqual(broken.pairs, [
      ['a', '1', 1],
      ['c', '3', 3],
    ]);
  });
});

describe('application/json batches (one flat object)', () => {
  test('pairs come out in order, escapes decoded, values as UTF-8 bytes', () => {
    const out = parseEverySplit(
      'application/json',
      ' {"a":"1", "b\\"q" : "x\\ty", "caf\u00e9":"\u65e5\u672c", "u":"\\u00e9\\ud83d\\ude00", "e":""} ',
    );
    assert.deepEqual(out.pairs, [
      ['a', '1', 1],
      ['b"q', 'x\ty', 2],
      ['café', Buffer.from('日本').toString('latin1'), 3],
      ['u', Buffer.from('é😀').toString('latin1'), 4],
      ['e', '', 5],
    ]);
    assert.equal(out.error, undefined);
  });

  test('an empty object is a batch of nothing', () => {
    assert.deepEqual(parseEverySplit('application/json', '{}'), { pairs: [], rejects: [] });
  });

  const broken: [string, string, string][] = [
    ['not an object', '["a","b"]', 'INVALID_JSON'],
    ['a missing colon', '{"a" "b"}', 'INVALID_JSON'],
    ['a trailing comma', '{"a":"b",}', 'INVALID_JSON'],
    ['a truncated body', '{"a":"b"', 'INVALID_JSON'],
    ['data after the object', '{"a":"b"} x', 'INVALID_JSON'],
    ['a missing value', '{"a":,"b":"c"}', 'INVALID_JSON'],
    ['a broken number value', '{"a":1.,"b":"c"}', 'INVALID_JSON'],
    ['a misspelt literal', '{"a":tru,"b":"c"}', 'INVALID_JSON'],
    ['a mismatched bracket', '{"a":[1},"b":"c"}', 'INVALID_JSON'],
    ['an empty body', '', 'INVALID_JSON'],
  ];
  for (const [what, body, code] of broken) {
    test(`${what} ends the batch with ${code}`, () => {
      assert.equal(parseEverySplit('application/json', body).error, code);
    });
  }

  // The framing of these pairs is intact, so only the pair is bad: ?invalid=skip goes on past it.
  const badPairs: [string, string, string][] = [
    ['a bad escape', '"\\q"', 'INVALID_JSON'],
    ['a raw control character', '"x\ty"', 'INVALID_JSON'],
    ['a lone surrogate escape', '"\\ud800"', 'INVALID_JSON'],
    ['a number value', '-1.5e3', 'BAD_REQUEST'],
    ['a literal value', 'true', 'BAD_REQUEST'],
    ['a null value', 'null', 'BAD_REQUEST'],
    ['a nested object', '{"b":"c}","d":[1,{"e":"\\"]"}]}', 'BAD_REQUEST'],
    ['an array', '[ "x" , [] ]', 'BAD_REQUEST'],
  ];
  for (const [what, value, code] of badPairs) {
    test(`${what} is a rejected pair (${code}); the pairs around it go through`, () => {
      const out = parseEverySplit('application/json', `{"a":"1","bad":${value} ,"z":"2"}`);
      assert.equal(out.error, undefined);
      assert.deepEqual(out.rejects, [[2, code]]);
      assert.deepEqual(out.pairs, [
        ['a', '1', 1],
        ['z', '2', 3],
      ]);
    });
  }

  test('oversized keys and values are rejected by pair number, skipped without being held', () => {
    const out = parseEverySplit(
      'application/json',
      `{"ok":"1","${'k'.repeat(100)}":"v","k":"${'v'.repeat(200)}","":"e","last":"2"}`,
      SMALL,
    );
    assert.deepEqual(out.rejects, [
      [2, 'KEY_TOO_LARGE'],
      [3, 'VALUE_TOO_LARGE'],
      [4, 'INVALID_KEY'],
    ]);
    assert.deepEqual(out.pairs, [
      ['ok', '1', 1],
      ['last', '2', 5],
    ]);
  });

  test('a key with a lone surrogate is rejected, since it has no UTF-8 form', () => {
    assert.deepEqual(parseEverySplit('application/json', '{"\\ud800":"v","ok":"1"}').rejects, [
      [1, 'INVALID_KEY'],
    ]);
    assert.deepEqual(parseEverySplit('application/x-ndjson', '["\\udfff","v"]').rejects, [
      [1, 'INVALID_KEY'],
    ]);
  });

  test('invalid UTF-8 inside a string is a rejected pair, INVALID_JSON', () => {
    const body = Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]);
    assert.deepEqual(parseEverySplit('application/json', body).rejects, [[1, 'INVALID_JSON']]);
  });
});

test('pairParserFor() refuses other Content-Types with UNSUPPORTED_MEDIA_TYPE', () => {
  const sink: PairSink = { pair() {}, reject() {} };
  for (const type of ['', 'application/x-www-form-urlencoded', 'text/csv']) {
    assert.throws(() => pairParserFor(type, sink, DEFAULT_LIMITS), { code: 'UNSUPPORTED_MEDIA_TYPE' });
  }
});
