import type { Duplex } from 'node:stream';
import { BadRequestError, NotImplementedError, type ThunderError } from '../../errors.js';
import { framingError } from '../framing.js';
import { errorBody, statusLine } from '../reply.js';
import type { Connection } from './connection.js';

/** What node:http's parser says when it refuses bytes (`clientError`). */
export interface ParseError extends Error {
  code?: string;
  reason?: string;
  /** The bytes being parsed when it failed (may start with earlier requests). */
  rawPacket?: Buffer;
  /** Where in them it failed. */
  bytesParsed?: number;
}

/** The refused request's head: from the start of its line to its blank line (or what arrived of it). */
function headOf(error: ParseError): string {
  const packet = error.rawPacket?.toString('latin1') ?? '';
  const failedAt = Math.min(error.bytesParsed ?? packet.length, packet.length);
  const start = packet.lastIndexOf('\r\n\r\n', Math.max(0, failedAt - 1));
  const from = start < 0 || start + 4 > failedAt ? 0 : start + 4;
  const end = packet.indexOf('\r\n\r\n', from);
  return packet.slice(from, end < 0 ? packet.length : end);
}

/** The headers of a head, as framingError reads them. */
function headersOf(head: string): {
  getHeader(name: string): string;
  forEach(visit: (n: string, v: string) => void): void;
} {
  const pairs = head
    .split('\r\n')
    .slice(1)
    .map((line) => {
      const colon = line.indexOf(':');
      return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()] as const;
    })
    .filter(([name]) => name !== '');
  return {
    getHeader: (name) => pairs.find(([n]) => n === name)?.[1] ?? '',
    forEach: (visit) => pairs.forEach(([n, v]) => visit(n, v)),
  };
}

/**
 * The catalogue error for bytes node:http's parser refused, with the message ThunderDB gives
 * for the same request when its parser lets it through: body framing that could smuggle a
 * request (RFC 9112 §6) gets the framing rule's own answer.
 */
export function refusalOf(error: ParseError): ThunderError {
  const head = headOf(error);
  switch (error.code) {
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
    case 'HPE_INVALID_CONTENT_LENGTH':
    case 'HPE_INVALID_TRANSFER_ENCODING':
      return (
        framingError(headersOf(head)) ??
        new BadRequestError(`the request's body framing is not valid (${error.reason ?? error.code})`)
      );
    case 'HPE_INVALID_METHOD': {
      const method = /^[!-~]{1,20}/.exec(head)?.[0] ?? '';
      return new NotImplementedError(`the method ${JSON.stringify(method)} is not supported`);
    }
    case 'HPE_INVALID_URL':
      return new BadRequestError(
        'the request target has a character a URL may not carry raw (a byte that is not ASCII, a space, a control character): percent-encode it',
      );
    case 'HPE_HEADER_OVERFLOW':
      return new BadRequestError('the request line and headers are larger than 16 KiB');
    default:
      return new BadRequestError(
        `the request could not be parsed (${error.reason ?? error.code ?? error.message})`,
      );
  }
}

/**
 * Errors that say the client is gone or timed out, not that it sent bad bytes: nobody would
 * read an answer. HPE_INVALID_EOF_STATE is a client that closed its end mid-request (a body
 * cut short): its connection is closed at once, and the request's onAborted runs, instead of
 * waiting for an answer to the request it cut short that will never come.
 */
const GONE = new Set(['ECONNRESET', 'ERR_HTTP_REQUEST_TIMEOUT', 'HPE_INVALID_EOF_STATE']);

/**
 * node:http's `clientError`: bytes its parser refused. Answers with ThunderDB's JSON error
 * and closes the connection (nothing after the bad bytes is read), once the answers to the
 * requests before them on the connection have gone out, so they are not cut off. A
 * connection already gone or timed out is just closed.
 */
export function refuseUnparsed(error: ParseError, socket: Duplex, connection: Connection | undefined): void {
  if (!socket.writable || GONE.has(error.code ?? '')) {
    socket.destroy();
    return;
  }
  const refusal = refusalOf(error);
  const body = errorBody(refusal);
  const answer =
    `HTTP/1.1 ${statusLine(refusal.status)}\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
  const last = connection?.last;
  if (last && !last.writableFinished && !last.destroyed)
    last.once('close', () => (last.writableFinished ? socket.end(answer) : socket.destroy()));
  else socket.end(answer);
}
