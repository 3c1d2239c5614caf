import { toThunderError, type ThunderError } from '../errors.js';
import type { Deferred } from './deferred.js';

/**
 * Reads a whole body of at most `limit` bytes for a request that answers later, failing with
 * `tooLarge(bytesSoFar)` as soon as the count passes the limit, before buffering the rest.
 * `use` gets a Buffer valid only during the call (a single-chunk body is not copied);
 * whatever it throws is answered as an error on the request.
 */
export function readBody(
  request: Pick<Deferred, 'res' | 'error'>,
  limit: number,
  tooLarge: (bytes: number) => ThunderError,
  use: (body: Buffer) => void,
): void {
  let parts: Buffer[] | null = null;
  let length = 0;
  let over = false;
  const done = (body: Buffer) => {
    try {
      use(body);
    } catch (err) {
      request.error(toThunderError(err));
    }
  };
  request.res.onData((chunk, isLast) => {
    if (over) return;
    length += chunk.byteLength;
    if (length > limit) {
      over = true;
      parts = null;
      // The rest of the body is unread: close so it is never parsed as a request.
      request.error(tooLarge(length), true);
      return;
    }
    if (isLast) {
      const view = Buffer.from(chunk);
      if (parts === null) done(view);
      else {
        parts.push(view);
        done(Buffer.concat(parts, length));
      }
      parts = null;
    } else {
      // A copy: uWS reuses the chunk's memory once this callback returns.
      (parts ??= []).push(Buffer.from(new Uint8Array(chunk)));
    }
  });
}

/** The declared Content-Length, or -1 when there is none (chunked) or it is malformed. */
export function contentLength(header: string): number {
  if (header === '') return -1;
  const n = Number(header);
  return Number.isSafeInteger(n) && n >= 0 ? n : -1;
}
