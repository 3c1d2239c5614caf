import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Body, HeaderText, HttpResponse, UpgradeContext } from '../seam.js';
import type { Abortable, Connection } from './connection.js';

const EMPTY = new ArrayBuffer(0);

/** A body chunk as an ArrayBuffer of its own bytes: the chunk's memory when it is all of it, else a copy. */
function arrayBufferOf(chunk: Buffer): ArrayBuffer {
  const { buffer, byteOffset, byteLength } = chunk;
  return byteOffset === 0 && byteLength === buffer.byteLength
    ? (buffer as ArrayBuffer)
    : (buffer.slice(byteOffset, byteOffset + byteLength) as ArrayBuffer);
}

/** A header's text for node:http, which takes strings: bytes are read as Latin-1, as sent. */
function headerString(text: HeaderText): string {
  return typeof text === 'string'
    ? text
    : Buffer.from(text.buffer, text.byteOffset, text.byteLength).toString('latin1');
}

function lengthOf(body: Body): number {
  return typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
}

/** What accepts a WebSocket upgrade on node:http (the `context` a WebSocket route's `upgrade` gets). */
export interface Upgrading {
  accept(userData: unknown): void;
}

/**
 * A node:http response as the seam's HttpResponse. The status line and headers are
 * collected and written with the body (`writeHead` with a flat list, node's fastest path),
 * or before the first piece of a streamed answer.
 *
 * node:http takes a whole body at once and sends it as the connection allows, so `tryEnd`
 * always takes everything; it reports the answer done only once its last byte has left
 * (node's `finish`), through `onWritable`, so a shutdown still waits for a slow reader. An
 * answer ready before an earlier one on the same connection waits in node's own queue.
 */
export class NodeResponse implements HttpResponse, Abortable {
  thunderHead = false;
  readonly #res: ServerResponse;
  readonly #req: IncomingMessage;
  readonly #conn: Connection;
  /** This request's place among the connection's requests. */
  readonly #seq: number;
  #status = 200;
  #reason = 'OK';
  readonly #headers: string[] = [];
  #streaming = false;
  /** Answered (or its connection gone): `onAborted` no longer runs. */
  #done = false;
  #written = 0;
  #onAborted: (() => void) | null = null;
  #onWritable: ((offset: number) => boolean) | null = null;

  constructor(res: ServerResponse, req: IncomingMessage, conn: Connection) {
    this.#res = res;
    this.#req = req;
    this.#conn = conn;
    this.#seq = conn.dispatched++;
    conn.opened(this);
  }

  writeStatus(status: HeaderText): this {
    const line = headerString(status);
    this.#status = Number(line.slice(0, 3));
    this.#reason = line.slice(4);
    return this;
  }

  writeHeader(name: HeaderText, value: HeaderText): this {
    // Converted now: bytes may be a scratch buffer that the next answer writes again.
    this.#headers.push(headerString(name), headerString(value));
    return this;
  }

  end(body?: Body, closeConnection = false): this {
    if (this.#streaming) this.#res.end(body);
    else {
      if (closeConnection) this.#closeAfter();
      this.#headers.push('Content-Length', body === undefined ? '0' : String(lengthOf(body)));
      this.#res.writeHead(this.#status, this.#reason, this.#headers).end(body);
    }
    this.#answered();
    return this;
  }

  endWithoutBody(): this {
    this.#res.writeHead(this.#status, this.#reason, this.#headers).end();
    this.#answered();
    return this;
  }

  /** Takes all of `body` (which must be the whole body) and answers `[true, false]`: done once it has left. */
  tryEnd(body: Body, totalSize: number): [boolean, boolean] {
    if (this.#done) return [true, true];
    if (this.#res.writableEnded) return [true, false];
    this.#headers.push('Content-Length', String(totalSize));
    this.#written = totalSize;
    // node keeps what it cannot send yet: a value viewed in a node's whole reply would keep
    // the reply alive as long as a slow client takes (uWS copies what it keeps).
    const kept =
      typeof body !== 'string' && body.buffer.byteLength > 2 * body.byteLength ? Buffer.from(body) : body;
    this.#res.writeHead(this.#status, this.#reason, this.#headers).end(kept, this.#left);
    return [true, false];
  }

  write(chunk: Body): boolean {
    if (!this.#streaming) {
      this.#streaming = true;
      this.#res.writeHead(this.#status, this.#reason, this.#headers);
    }
    this.#written += lengthOf(chunk);
    return this.#res.write(chunk);
  }

  onWritable(handler: (offset: number) => boolean): this {
    // After tryEnd: called when the body has left. Else: when node's buffer drains.
    if (this.#res.writableEnded) this.#onWritable = handler;
    else this.#res.once('drain', () => void (handler(this.#written) || this.onWritable(handler)));
    return this;
  }

  onAborted(handler: () => void): this {
    this.#onAborted = handler;
    return this;
  }

  onData(handler: (chunk: ArrayBuffer, isLast: boolean) => void): this {
    this.#req.on('data', (chunk: Buffer) => handler(arrayBufferOf(chunk), false));
    this.#req.on('end', () => handler(EMPTY, true));
    return this;
  }

  pause(): void {
    this.#req.pause();
  }

  resume(): void {
    this.#req.resume();
  }

  /** node:http writes a head and its body in one go already. */
  cork(write: () => void): this {
    write();
    return this;
  }

  close(): this {
    this.#conn.destroy();
    return this;
  }

  upgrade<UserData>(
    userData: UserData,
    _key: string,
    _protocol: string,
    _extensions: string,
    context: UpgradeContext,
  ): void {
    if (context === null || typeof context !== 'object' || !('accept' in context)) {
      throw new TypeError('upgrade() is only for the upgrade handler of a WebSocket route');
    }
    this.#done = true;
    this.#conn.answered(this);
    this.#res.detachSocket(this.#req.socket);
    (context as Upgrading).accept(userData);
  }

  connectionClosed(): void {
    if (this.#done) return;
    this.#done = true;
    this.#onAborted?.();
  }

  /** The connection closes behind this answer, unless requests after it were already read (their answers follow it, and its body was read whole to reach them). */
  #closeAfter(): void {
    if (this.#conn.dispatched !== this.#seq + 1) return;
    this.#conn.closing = true;
    this.#headers.push('Connection', 'close');
  }

  #answered(): void {
    this.#done = true;
    this.#conn.answered(this);
  }

  /** The body given to tryEnd has left. */
  readonly #left = (): void => {
    if (this.#done) return;
    this.#answered();
    const handler = this.#onWritable;
    this.#onWritable = null;
    handler?.(this.#written);
  };
}
