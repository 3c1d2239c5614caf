/**
 * The ceiling: a uWebSockets.js app that does no work beyond HTTP itself. Whatever ThunderDB
 * reaches is quoted as a share of what this reaches in the same run.
 *
 * It answers the way ThunderDB's `/kv/{key}` does, byte for byte in size and headers, so the
 * two differ only in the work between request and answer:
 * - PUT and POST: the body is read to its end and dropped, then `204 No Content` (no body,
 *   no Content-Length), as a stored PUT is answered.
 * - Anything else: `200` with `Content-Type: application/octet-stream` and a body of
 *   `BARE_VALUE_BYTES` bytes (environment; default 36, a uuid, the value the original's
 *   tables use), the same bytes every time, as a GET of a value that size is answered.
 */
import type { HttpResponse } from 'uWebSockets.js';
import { loadUws } from '../src/http/uws/native.js';

const UUID = 'e8c12114-674b-4f75-a753-c2e1c33ad4bd';
const size = Number(process.env.BARE_VALUE_BYTES ?? UUID.length);
if (!Number.isInteger(size) || size < 0) throw new RangeError(`BARE_VALUE_BYTES: not a size: ${size}`);
// Made once: the answer costs uWS its write, never a build.
const body = Buffer.alloc(size, UUID);

const uws = loadUws();
if (typeof uws === 'string') throw new Error(uws);
const app = uws.App();
const discard = (res: HttpResponse) => {
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
  });
  res.onData((_chunk, isLast) => {
    // The chunk is dropped unread: nothing is kept past the callback.
    if (isLast && !aborted) res.cork(() => res.writeStatus('204 No Content').endWithoutBody());
  });
};
app.put('/*', discard);
app.post('/*', discard);
app.any('/*', (res) => {
  res.writeHeader('Content-Type', 'application/octet-stream').end(body);
});
app.listen('127.0.0.1', 0, (socket) => {
  if (!socket) throw new Error('bare uWS could not listen');
  console.log(`bare uWS on http://127.0.0.1:${uws.us_socket_local_port(socket)} answering ${size} B`);
});
process.on('SIGTERM', () => process.exit(0));
