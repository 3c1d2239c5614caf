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
  data = Buffer.alloc(0);
  closed = false;
  readonly #waiters: (() => void)[] = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.data = Buffer.concat([this.data, d]);
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

  write(text: string | Buffer): void {
    this.socket.write(text);
  }

  /** Resolves once `done()` holds (checked on every arrival), or rejects after `ms`. */
  async until(done: () => boolean, ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!done()) {
      if (Date.now() > deadline)
        throw new Error(`timed out; received ${JSON.stringify(this.data.toString('latin1'))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Waits for `n` complete responses. */
  async responses(n: number, bodiless: boolean[] = []): Promise<RawResponse[]> {
    await this.until(() => parseResponses(this.data, bodiless).responses.length >= n || this.closed);
    return parseResponses(this.data, bodiless).responses;
  }

  destroy(): void {
    this.socket.destroy();
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }
}

/** One request on its own raw connection: everything received until the server closes or `ms` pass. */
export async function rawOnce(
  port: number,
  text: string | Buffer,
  ms = 1000,
): Promise<{ data: Buffer; closed: boolean }> {
  const client = await RawClient.open(port);
  client.write(text);
  await client.until(() => client.closed, ms).catch(() => {});
  client.destroy();
  return { data: client.data, closed: client.closed };
}
