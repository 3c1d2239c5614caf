import { UnsupportedMediaTypeError } from '../errors.js';
import type { Limits } from '../limits.js';
import { JsonObjectPairParser } from './json-object.js';
import { NdjsonPairParser } from './ndjson.js';
import type { PairParser, PairSink } from './pairs.js';
import { TextPairParser } from './text.js';

const PARSERS = {
  'application/json': JsonObjectPairParser,
  'application/x-ndjson': NdjsonPairParser,
  'text/plain': TextPairParser,
} as const;

/** The Content-Types a batch body may have. */
export const BATCH_TYPES = Object.keys(PARSERS);

/** Charsets a batch body may declare: UTF-8, or its subset ASCII. */
const UTF8_CHARSETS = new Set(['utf-8', 'utf8', 'us-ascii']);

/** The `charset` parameter of a Content-Type, lower-cased and unquoted; null when there is none. */
function charsetOf(contentType: string): string | null {
  for (const param of contentType.split(';').slice(1)) {
    const eq = param.indexOf('=');
    if (eq >= 0 && param.slice(0, eq).trim().toLowerCase() === 'charset') {
      return param
        .slice(eq + 1)
        .trim()
        .replace(/^"(.*)"$/, '$1')
        .toLowerCase();
    }
  }
  return null;
}

/**
 * A parser for a batch body of the given Content-Type. Keys are always read as UTF-8, so a
 * `charset` naming anything else is refused rather than ignored.
 */
export function pairParserFor(contentType: string, sink: PairSink, limits: Limits): PairParser {
  const type = contentType.split(';', 1)[0]!.trim().toLowerCase();
  const Parser = Object.hasOwn(PARSERS, type)
    ? (PARSERS as Record<string, new (sink: PairSink, limits: Limits) => PairParser>)[type]
    : undefined;
  if (!Parser) {
    throw new UnsupportedMediaTypeError(
      `a batch body must be one of ${BATCH_TYPES.join(', ')}; got ${JSON.stringify(contentType || '(none)')}`,
    );
  }
  const charset = charsetOf(contentType);
  if (charset !== null && !UTF8_CHARSETS.has(charset)) {
    throw new UnsupportedMediaTypeError(
      `a batch body is UTF-8 (text/plain values are raw bytes); got ${JSON.stringify(contentType)}`,
    );
  }
  return new Parser(sink, limits);
}
