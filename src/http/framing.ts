import { BadRequestError, UnsupportedTransferEncodingError, type ThunderError } from '../errors.js';
import type { HttpRequest } from './seam.js';

const DIGITS = /^\d+$/;

/**
 * Whether a request's body framing needs {@link framingError}'s look, from what one pass over
 * its headers counted: it carries a framing header, and not just one `Content-Length` of
 * plain digits (nothing to refuse there), so a PUT skips a second walk over its headers.
 */
export function framingToCheck(head: { lengths: number; codings: number; contentLength: string }): boolean {
  if (head.lengths === 0 && head.codings === 0) return false;
  return !(head.codings === 0 && head.lengths === 1 && DIGITS.test(head.contentLength));
}

/**
 * The error for a request whose body framing RFC 9112 §6 says to refuse, or null. uWS reads
 * only the first `Content-Length` and decodes any `Transfer-Encoding` as chunked, so a
 * request that frames its body two ways could be read differently here and by a proxy in
 * front (request smuggling). Refused: both headers at once (§6.1), a coding other than
 * exactly `chunked` (501, §6.1), and a Content-Length that is not one decimal number,
 * repeated or listed with differing values (§6.3).
 *
 * Only requests that carry either header pay for the header walk.
 */
export function framingError(req: Pick<HttpRequest, 'getHeader' | 'forEach'>): ThunderError | null {
  if (req.getHeader('transfer-encoding') === '' && req.getHeader('content-length') === '') return null;
  const codings: string[] = [];
  const lengths: string[] = [];
  req.forEach((name, value) => {
    if (name === 'transfer-encoding') for (const c of value.split(',')) codings.push(c.trim().toLowerCase());
    else if (name === 'content-length') for (const l of value.split(',')) lengths.push(l.trim());
  });
  // uWS 20.30 closes such a connection before any handler runs, and node:http's parser
  // refuses it (both tested); kept so the rule holds on a parser that lets it through.
  if (codings.length > 0 && lengths.length > 0) {
    return new BadRequestError('a request may not carry both Transfer-Encoding and Content-Length');
  }
  if (codings.length > 0) {
    const unknown = codings.find((c) => c !== 'chunked');
    if (unknown !== undefined && unknown !== '') {
      return new UnsupportedTransferEncodingError(
        `Transfer-Encoding ${JSON.stringify(unknown)} is not supported; only "chunked" is`,
      );
    }
    if (codings.length !== 1 || codings[0] !== 'chunked') {
      return new BadRequestError('Transfer-Encoding must be exactly "chunked"');
    }
    return null;
  }
  if (!lengths.every((l) => DIGITS.test(l)) || lengths.some((l) => l !== lengths[0])) {
    return new BadRequestError(
      `Content-Length must be one decimal number, got ${JSON.stringify(lengths.join(', '))}`,
    );
  }
  return null;
}
