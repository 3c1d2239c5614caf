import { BodyBudgetExceededError, toThunderError, type ThunderError } from '../errors.js';
import type { Deferred } from './deferred.js';

/**
 * Reads a whole body of at most `limit` bytes for a request that answers later, failing with
 * `tooLarge(bytesSoFar)` as soon as the count passes the limit, before buffering the rest.
 * Bytes kept between callbacks are taken from the server's body budget and given back when
 * the body is used, refused, or abandoned; past the budget the request answers 503
 * BODY_BUDGET_EXCEEDED. `use` gets a Buffer valid only during the call (a single-chunk body
 * is not copied); whatever it throws is answered as an error on the request.
 */
export function readBody(
  request: Pick<Deferred, 'res' | 'error' | 'inFlight' | 'whenOver' | 'over'>,
  limit: number,
  tooLarge: (bytes: number) => ThunderError,
  use: (body: Buffer) => void,
): void {
  const budget = request.inFlight.bodies;
  let parts: Buffer[] | null = null;
  let length = 0;
  let held = 0;
  let over = false;
  const release = () => {
    parts = null;
    budget.give(held);
    held = 0;
  };
  request.whenOver(release);
  // The rest of the body is unread: close so it is never parsed as a request.
  const refuse = (error: ThunderError) => {
    over = true;
    release();
    request.error(error, true);
  };
  request.res.onData((chunk, isLast) => {
    if (over || request.over) return;
    length += chunk.byteLength;
    if (length > limit) return refuse(tooLarge(length));
    if (isLast) {
      over = true;
      const view = Buffer.from(chunk);
      let body = view;
      if (parts !== null) {
        parts.push(view);
        body = Buffer.concat(parts, length);
      }
      release();
      try {
        use(body);
      } catch (err) {
        request.error(toThunderError(err));
      }
      return;
    }
    if (!budget.take(chunk.byteLength)) {
      return refuse(
        new BodyBudgetExceededError(
          `the server already holds ${budget.held} bytes of request bodies (the limit is ${budget.limit}); retry later`,
        ),
      );
    }
    held += chunk.byteLength;
    // A copy: uWS reuses the chunk's memory once this callback returns.
    (parts ??= []).push(Buffer.from(new Uint8Array(chunk)));
  });
}

/** The declared Content-Length, or -1 when there is none (chunked) or it is malformed. */
export function contentLength(header: string): number {
  if (header === '') return -1;
  const n = Number(header);
  return Number.isSafeInteger(n) && n >= 0 ? n : -1;
}
