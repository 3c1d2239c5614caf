import { isUtf8 } from 'node:buffer';
import { JsonObjectPairParser } from '../batch/json-object.js';
import { BadRequestError, InvalidJsonError, ThunderError } from '../errors.js';
import { bodyError, type Limits } from '../limits.js';
import { contentLength, readBody } from './body.js';
import type { RouteContext } from './context.js';
import { Deferred } from './deferred.js';
import { sendError } from './reply.js';
import type { HttpRequest, HttpResponse } from './seam.js';

/**
 * A strict parser for the small JSON body read whole: `POST /put` (`_mget`'s is streamed,
 * src/http/mget-keys.ts).
 * JSON text must be UTF-8 (RFC 8259 §8.1): a body that is not is refused, never decoded with
 * U+FFFD in place of its bad bytes, which would make two different keys the same key.
 */

/** The body as JSON, or INVALID_JSON. */
function parseJson(body: Buffer): unknown {
  if (!isUtf8(body)) {
    throw new InvalidJsonError('the body is not valid UTF-8, as JSON text must be');
  }
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new InvalidJsonError((err as Error).message);
  }
}

const ONE_PAIR = 'The request data is not valid. Please provide exactly one key-value pair, {"key": "value"}';

/**
 * The one pair of a `/put` body, `{"key": "value"}`: key as text, value as a byte string.
 * Read by the same streaming parser as a JSON batch, so a key or value is checked the same
 * way on both paths, and a repeated key (`{"a":"1","a":"2"}`) counts as two pairs instead of
 * silently keeping the last. Anything but exactly one pair with a string value is the
 * original's 400 BAD_REQUEST; a bad key or value is its own code.
 */
export function parseOnePair(body: Buffer, limits: Limits): [string, Uint8Array | string] {
  const pairs: [string, Uint8Array | string][] = [];
  const rejected: ThunderError[] = [];
  const parser = new JsonObjectPairParser(
    {
      // A value given as a view is only valid during the call: keep a copy.
      pair: (key, value) => pairs.push([key, typeof value === 'string' ? value : Buffer.from(value)]),
      reject: (_index, error) => rejected.push(error),
    },
    limits,
  );
  try {
    parser.push(body);
    parser.end();
  } catch (err) {
    if (err instanceof InvalidJsonError) {
      // Valid JSON of another shape (an array, say) is the original's 400 BAD_REQUEST.
      parseJson(body);
      throw new BadRequestError(ONE_PAIR);
    }
    throw err instanceof BadRequestError ? new BadRequestError(ONE_PAIR) : err;
  }
  if (pairs.length + rejected.length !== 1) throw new BadRequestError(ONE_PAIR);
  const [error] = rejected;
  // A value that is not a string is the original's 400; a bad key or value has its own code.
  if (error) throw error.code === 'BAD_REQUEST' ? new BadRequestError(ONE_PAIR) : error;
  return pairs[0]!;
}

/**
 * Reads a small JSON body whole, as the routes that take a JSON object do (`POST
 * /cluster/faults`, `/check`): refused early by its Content-Length past `--max-body-bytes`,
 * then handed to `then` with the request's Deferred, which may answer now or later, or
 * throw a client error. A body that is not JSON is INVALID_JSON saying `hint`; `empty`, if
 * given, is what an empty body stands for.
 */
export function readJsonBody(
  res: HttpResponse,
  req: HttpRequest,
  { limits, inFlight }: Pick<RouteContext, 'limits' | 'inFlight'>,
  { hint, empty }: { hint: string; empty?: () => unknown },
  then: (body: unknown, deferred: Deferred) => void,
): void {
  const tooLarge = bodyError(contentLength(req.getHeader('content-length')), limits);
  if (tooLarge) return sendError(res, tooLarge, true);
  const deferred = new Deferred(res, inFlight);
  readBody(
    deferred,
    limits.maxBodyBytes,
    (bytes) => bodyError(bytes, limits)!,
    (raw) => {
      let body: unknown;
      try {
        body = raw.length === 0 && empty !== undefined ? empty() : JSON.parse(raw.toString('utf8'));
      } catch {
        throw new InvalidJsonError(hint);
      }
      then(body, deferred);
    },
  );
}
