import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** What a connection's answers need from a response: being told the connection is gone. */
export interface Abortable {
  /** The connection closed: runs the response's `onAborted` if it was not answered. */
  connectionClosed(): void;
}

const CONNECTION = Symbol('thunderdb.connection');

/**
 * How long a client may keep the server waiting on it: to send its headers, to go on sending
 * a body, to take an answer, or to send its next request on a kept-alive connection. uWS's
 * idle timeout is the same 10 s.
 */
export const CLIENT_TIMEOUT_MS = 10_000;

/**
 * What ThunderDB keeps per node:http connection: the requests handed to routes so far (node
 * answers them in that order, holding back an answer that is ready before an earlier one),
 * the answers not yet complete, and whether an answer has asked to close the connection
 * (RFC 9112 §9.6: no request after it is processed).
 */
export class Connection {
  /** Requests handed to a route on this connection so far. */
  dispatched = 0;
  /** An answer ends the connection: requests read after it are never run. */
  closing = false;
  /** The answer to the last request handed over: node sends answers in order, so once it has left, all have. */
  last: ServerResponse | null = null;
  /** The last request handed over: the one whose body may still be arriving. */
  lastRequest: IncomingMessage | null = null;
  readonly #open = new Set<Abortable>();
  readonly #socket: Socket;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.once('close', () => this.#closed());
  }

  /** The connection a request arrived on, created at its first request. */
  static of(socket: Socket): Connection {
    const holder = socket as Socket & { [CONNECTION]?: Connection };
    return (holder[CONNECTION] ??= new Connection(socket));
  }

  /** The connection's state, if a request arrived on it. */
  static known(socket: Socket): Connection | undefined {
    return (socket as Socket & { [CONNECTION]?: Connection })[CONNECTION];
  }

  /** Requests handed over and not answered yet. */
  get unanswered(): number {
    return this.#open.size;
  }

  /** Counts a response until it is answered (`answered`) or the connection closes. */
  opened(response: Abortable): void {
    this.#open.add(response);
  }

  answered(response: Abortable): void {
    this.#open.delete(response);
  }

  /** Closes the connection at once: every unanswered response's `onAborted` runs now. */
  destroy(): void {
    this.#closed();
    this.#socket.destroy();
  }

  #closed(): void {
    const open = [...this.#open];
    this.#open.clear();
    for (const response of open) response.connectionClosed();
  }
}
