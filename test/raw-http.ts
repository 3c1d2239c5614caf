import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';

/** One response read off the wire. */
export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Splits bytes received on one connection into responses. `bodiless[i]` says the i-th answers
 * a HEAD (its Content-Length describes a body that is not sent). Returns the complete
 * responses and the bytes left over (a partial response, or bytes that do not parse).
 */
export function parseResponses(
  data: Buffer,
  bodiless: boolean[] = [],
): { responses: RawResponse[]; rest: Buffer } {
  const responses: RawResponse[] = [];
  let at = 0;
  for (;;) {
    const end = data.indexOf('\r\n\r\n', at);
    if (end < 0) break;
    const lines = data.toString('latin1', at, end).split('\r\n');
    const status = /^HTTP\/1\.1 (\d{3}) /.exec(lines[0]!);
    if (!status) break;
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    const code = Number(status[1]);
    const length = bodiless[responses.length] || code === 204 ? 0 : Number(headers['content-length'] ?? 0);
    if (data.length < end + 4 + length) break;
    responses.push({ status: code, headers, body: data.toString('utf8', end + 4, end + 4 + length) });
    at = end + 4 + length;
  }
  return { responses, rest: data.subarray(at) };
}

/** A raw connection to 127.0.0.1:`port` that collects everything it receives. */
export class RawClient {
  readonly socket: Socket;
  /** Everything received, in a buffer that grows by doubling: a 24 MB answer comes in hundreds of pieces. */
  #buffer = Buffer.alloc(64 * 1024);
  #length = 0;
  closed = false;
  readonly #waiters: (() => void)[] = [];

  /** The connection's ports, kept: a destroyed socket forgets them. */
  readonly #ports: { local: number; remote: number };

  private constructor(socket: Socket) {
    this.socket = socket;
    this.#ports = { local: socket.localPort!, remote: socket.remotePort! };
    socket.on('data', (d: Buffer) => {
      if (this.#length + d.length > this.#buffer.length) {
        const grown = Buffer.alloc(Math.max(2 * this.#buffer.length, this.#length + d.length));
        this.#buffer.copy(grown, 0, 0, this.#length);
        this.#buffer = grown;
      }
      d.copy(this.#buffer, this.#length);
      this.#length += d.length;
      this.#wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.#wake();
    });
    socket.on('error', () => {});
  }

  static open(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  /** Everything received so far (a view: what arrives later does not change it); set it to forget what was received. */
  get data(): Buffer {
    return this.#buffer.subarray(0, this.#length);
  }

  set data(data: Buffer) {
    this.#buffer = Buffer.from(data);
    this.#length = data.length;
  }

  write(text: string | Buffer): void {
    this.socket.write(text);
  }

  /**
   * True once the server has read every byte written so far: none waits in this process's
   * send queue or in the kernel's receive queue of the server's end (both ends are on this
   * machine, so /proc/net/tcp shows it). A server that reads a chunk handles it in the same
   * callback, so what it does with the bytes is done too.
   */
  serverHasRead(): boolean {
    if (this.socket.writableLength > 0) return false;
    const end = this.#end('server');
    return end !== null && end.unread === 0;
  }

  /** True once the server has closed its end (after this one closed, say): a close it has handled. */
  serverHasClosed(): boolean {
    const end = this.#end('server');
    // 01: ESTABLISHED; 08: CLOSE_WAIT, this end closed and the server's not yet.
    return end === null || (end.state !== '01' && end.state !== '08');
  }

  /** Bytes the server sent that wait in the kernel for this end to read them (it is paused, say). */
  unread(): number {
    return this.#end('client')?.unread ?? 0;
  }

  /** One end of this connection as /proc/net/tcp shows it: its state and its unread bytes; null once gone. */
  #end(which: 'client' | 'server'): { state: string; unread: number } | null {
    const hex = (port: number) => `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
    const [local, remote] =
      which === 'client' ? [this.#ports.local, this.#ports.remote] : [this.#ports.remote, this.#ports.local];
    for (const line of readFileSync('/proc/net/tcp', 'latin1').split('\n')) {
      const [, from, to, state, queues] = line.trim().split(/\s+/);
      if (from === hex(local) && to === hex(remote))
        return { state: state!, unread: parseInt(queues!.split(':')[1]!, 16) };
    }
    return null;
  }

  /**
   * Resolves once `done()` holds, checked on every arrival and on close. No deadline of its
   * own: the test's timeout bounds the wait, so a slow machine is never mistaken for a
   * server that does not answer.
   */
  async until(done: () => boolean): Promise<void> {
    while (!done()) {
      if (this.closed) return;
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  /** Waits for `n` complete responses, or the connection's close (then fewer may be returned). */
  async responses(n: number, bodiless: boolean[] = []): Promise<RawResponse[]> {
    await this.until(() => parseResponses(this.data, bodiless).responses.length >= n);
    return parseResponses(this.data, bodiless).responses;
  }

  destroy(): void {
    this.socket.destroy();
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }
}

/** One request on its own raw connection: everything received until the server closes it. */
export async function rawOnce(
  port: number,
  text: string | Buffer,
): Promise<{ data: Buffer; closed: boolean }> {
  const client = await RawClient.open(port);
  client.write(text);
  await client.until(() => false);
  client.destroy();
  return { data: client.data, closed: client.closed };
}
