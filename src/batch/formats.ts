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

/** A parser for a batch body of the given Content-Type (parameters such as charset ignored). */
export function pairParserFor(contentType: string, sink: PairSink, limits: Limits): PairParser {
  const type = contentType.split(';', 1)[0]!.trim().toLowerCase();
  const Parser = (PARSERS as Record<string, new (sink: PairSink, limits: Limits) => PairParser>)[type];
  if (!Parser) {
    throw new UnsupportedMediaTypeError(
      `a batch body must be one of ${BATCH_TYPES.join(', ')}; got ${JSON.stringify(contentType || '(none)')}`,
    );
  }
  return new Parser(sink, limits);
}
