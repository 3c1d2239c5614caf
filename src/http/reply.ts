import type { ThunderError } from '../errors.js';
import type { HttpResponse } from './uws.js';

const STATUS_LINES: Record<number, string> = {
  200: '200 OK',
  204: '204 No Content',
  400: '400 Bad Request',
  403: '403 Forbidden',
  404: '404 Not Found',
  405: '405 Method Not Allowed',
  413: '413 Payload Too Large',
  415: '415 Unsupported Media Type',
  500: '500 Internal Server Error',
  501: '501 Not Implemented',
  503: '503 Service Unavailable',
};

/** The status line for a code. */
export function statusLine(status: number): string {
  return STATUS_LINES[status] ?? `${status} Unknown`;
}

/**
 * Writes a whole JSON response. Call it inside the handler or inside `res.cork()`.
 * `close` ends the connection too: used when the request body was not read, so its
 * remaining bytes are never parsed as a next request.
 */
export function sendJson(res: HttpResponse, status: number, json: string, close = false): void {
  res.writeStatus(statusLine(status)).writeHeader('Content-Type', 'application/json').end(json, close);
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
  if (error.status === 405)
    res.writeStatus(statusLine(405)).writeHeader('Allow', String(error.details.allow));
  else res.writeStatus(statusLine(error.status));
  if (error.retryAfterSeconds !== undefined) res.writeHeader('Retry-After', String(error.retryAfterSeconds));
  const body = extra ? { error: { ...error.toJSON().error, ...extra } } : error.toJSON();
  res.writeHeader('Content-Type', 'application/json').end(JSON.stringify(body), close);
}
