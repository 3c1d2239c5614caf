/**
 * The node:http ceiling: a `node:http` server that does no work beyond HTTP itself, the
 * counterpart of bench/bare-uws.ts for the node:http front end. It answers as ThunderDB's
 * `/kv/{key}` does, byte for byte in size and headers:
 * - PUT and POST: the body is read to its end and dropped, then `204 No Content`.
 * - Anything else: `200` with `Content-Type: application/octet-stream` and a body of
 *   `BARE_VALUE_BYTES` bytes (environment; default 36, a uuid), the same bytes every time.
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

const UUID = 'e8c12114-674b-4f75-a753-c2e1c33ad4bd';
const size = Number(process.env.BARE_VALUE_BYTES ?? UUID.length);
if (!Number.isInteger(size) || size < 0) throw new RangeError(`BARE_VALUE_BYTES: not a size: ${size}`);
// Made once: the answer costs node its write, never a build.
const body = Buffer.alloc(size, UUID);
const GET_HEAD = ['Content-Type', 'application/octet-stream', 'Content-Length', String(size)];

const noContent = (res: ServerResponse) => res.writeHead(204).end();
const server = createServer((req, res) => {
  if (req.method === 'PUT' || req.method === 'POST') {
    // The chunks are dropped unread.
    req.on('data', () => {});
    req.on('end', () => noContent(res));
  } else res.writeHead(200, GET_HEAD).end(body);
});
server.keepAliveTimeout = 10_000;
server.listen(0, '127.0.0.1', () => {
  console.log(
    `bare node:http on http://127.0.0.1:${(server.address() as AddressInfo).port} answering ${size} B`,
  );
});
process.on('SIGTERM', () => process.exit(0));
