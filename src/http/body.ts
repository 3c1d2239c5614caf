import type { ThunderError } from '../errors.js';
import type { HttpResponse } from './uws.js';

/**
 * Reads a whole body of at most `limit` bytes, failing with `tooLarge(bytesSoFar)` as soon
 * as the count passes it, before buffering the rest. `done` gets a Buffer that is valid
 * only during the call (a single-chunk body is not copied). Both callbacks run inside a
 * uWS data callback, where the socket is corked already.
 */
export function readBody(
  res: HttpResponse,
  limit: number,
  tooLarge: (bytes: number) => ThunderError,
  done: (body: Buffer) => void,
  fail: (error: ThunderError) => void,
): void {
  let parts: Buffer[] | null = null;
  let length = 0;
  let over = false;
  res.onData((chunk, isLast) => {
    if (over) return;
    length += chunk.byteLength;
    if (length > limit) {
      over = true;
      parts = null;
      fail(tooLarge(length));
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
