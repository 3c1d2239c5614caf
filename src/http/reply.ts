// From the module, not the global: `performance` on globalThis is a getter, run on every
// use, and these run on every request.
import { performance } from 'node:perf_hooks';
import { STATUS_CODES } from 'node:http';
import type { ThunderError } from '../errors.js';
import { answering } from '../metrics/http-metrics.js';
import type { HttpResponse } from './seam.js';

const STATUS_LINES: Record<number, string> = {
  200: '200 OK',
  204: '204 No Content',
  304: '304 Not Modified',
  400: '400 Bad Request',
  403: '403 Forbidden',
  404: '404 Not Found',
  405: '405 Method Not Allowed',
  409: '409 Conflict',
  410: '410 Gone',
  412: '412 Precondition Failed',
  413: '413 Payload Too Large',
  415: '415 Unsupported Media Type',
  500: '500 Internal Server Error',
  501: '501 Not Implemented',
  503: '503 Service Unavailable',
  504: '504 Gateway Timeout',
  507: '507 Insufficient Storage',
};

/** The status line for a code (`'404 Not Found'`). */
export function statusLine(status: number): string {
  return STATUS_LINES[status] ?? `${status} ${STATUS_CODES[status] ?? 'Unknown'}`;
}

/** The status lines as bytes, which uWS copies as they are (see HeaderText): a 204 answers every PUT. */
const STATUS_LINE_BYTES = new Map(
  Object.entries(STATUS_LINES).map(([code, line]) => [Number(code), Buffer.from(line)]),
);

/** Writes the status line, and counts the answer against the request being answered. */
export function writeStatus(res: HttpResponse, status: number): HttpResponse {
  countAnswer(status);
  return res.writeStatus(STATUS_LINE_BYTES.get(status) ?? statusLine(status));
}

/** Counts an answer whose status line uWS writes itself (200). */
export function countAnswer(status: number): void {
  answering.route?.answered(status, performance.now() - answering.started);
}

// uWS does not know a HEAD request from a GET when writing: a body given to `end()` is sent,
// and a kept-alive client then reads it as the start of the next answer. The router marks
// every HEAD request's response, and every writer here asks.
const HEAD = 'thunderHead';

/** Marks a response as answering HEAD: its headers are sent, never its body. */
export function markHead(res: HttpResponse): void {
  res[HEAD] = true;
}

/** True when the response answers a HEAD request (see {@link markHead}). */
export function isHead(res: HttpResponse): boolean {
  return res[HEAD] === true;
}

/**
 * Ends a response with no body, reporting `length` bytes in Content-Length (for HEAD).
 * uWS 20.30's `endWithoutBody(length)` writes the header but then waits for `length` body
 * bytes that never come: the response stays pending, and the next request on the
 * connection closes it. So the header is written here and the response ended as empty,
 * which in this build cannot also close the connection (any second argument makes it wait
 * again); a HEAD request has no body to skip, so it needs no close.
 */
export function endWithLength(res: HttpResponse, length: number): void {
  res.writeHeader('Content-Length', String(length)).endWithoutBody();
}

/**
 * Ends a response with `body`, or, for HEAD, with its length and no body. Call it inside
 * the handler or inside `res.cork()`.
 */
export function endWith(res: HttpResponse, body: string | Buffer, close = false): void {
  if (isHead(res)) endWithLength(res, Buffer.byteLength(body));
  else res.end(body, close);
}

/**
 * Writes a whole JSON response. Call it inside the handler or inside `res.cork()`.
 * `close` ends the connection too: used when the request body was not read, so its
 * remaining bytes are never parsed as a next request.
 */
export function sendJson(res: HttpResponse, status: number, json: string, close = false): void {
  endWith(writeStatus(res, status).writeHeader('Content-Type', 'application/json'), json, close);
}

/** Writes an error's status line and headers, without ending the response. */
export function writeErrorHead(res: HttpResponse, error: ThunderError): void {
  answering.route?.failed(error.code);
  writeStatus(res, error.status);
  if (error.status === 405) res.writeHeader('Allow', String(error.details.allow));
  if (error.retryAfterSeconds !== undefined) res.writeHeader('Retry-After', String(error.retryAfterSeconds));
  res.writeHeader('Content-Type', 'application/json');
}

/** An error's JSON body; `extra` fields belong to this answer only. */
export function errorBody(error: ThunderError, extra?: Record<string, unknown>): string {
  return JSON.stringify(extra ? { error: { ...error.toJSON().error, ...extra } } : error.toJSON());
}

/**
 * Writes an error as `{"error": {"code", "message", …}}` with its status. `extra` fields
 * belong to this answer only (e.g. a batch's `written`): errors can be shared between
 * requests, so per-request facts never go into the error object itself.
 */
export function sendError(
  res: HttpResponse,
  error: ThunderError,
  close = false,
  extra?: Record<string, unknown>,
): void {
  writeErrorHead(res, error);
  endWith(res, errorBody(error, extra), close);
}
