/**
 * The HTTP seam: the request, response and app surface that routes, guards, streamed
 * answers and the `/live` WebSocket use, and nothing else. It is uWebSockets.js's own
 * surface, cut down to what ThunderDB calls, so the uWS front end hands its native objects
 * straight through (no wrapper, nothing added on its hot path) and only the `node:http`
 * front end adapts (src/http/node/). Every member here is used; add one only with a use.
 *
 * The contract, as uWS defines it and the node adapter keeps it:
 * - A request is valid only during the handler call that receives it: read what is needed
 *   before returning (a later call may throw or return another request's data).
 * - A response that answers after its handler returned must register `onAborted` first,
 *   and is never touched after `onAborted` ran. Writes made outside the handler go inside
 *   `cork()`.
 * - A response is answered exactly once: by `end`, `endWithoutBody`, or `tryEnd` reporting
 *   it done; or by `write`s followed by `end()`.
 */

/** A request, valid during its handler's call only. */
export interface HttpRequest {
  /** The path, without the query, as sent (percent-escapes not decoded). */
  getUrl(): string;
  /** The query after `?`, not decoded; empty or undefined when there is none. */
  getQuery(): string | undefined;
  /** The first value of a header, by its lower-case name; `''` when absent. */
  getHeader(lowerCaseName: string): string;
  /** The method in lower case (`get`, `put`…). */
  getMethod(): string;
  /** The method as the client spelled it (`GET`). */
  getCaseSensitiveMethod(): string;
  /** The `index`-th `:name` segment of the route's pattern, as sent. */
  getParameter(index: number): string | undefined;
  /** Calls `visit(lowerCaseName, value)` for every header, repeated ones each time, in order. */
  forEach(visit: (name: string, value: string) => void): void;
}

/** What a response body may be given as. */
export type Body = string | Uint8Array;

/**
 * A header name or value: a string, or its ASCII bytes, which uWS copies as they are
 * instead of converting a string (the hot path's constant names and its ETags).
 */
export type HeaderText = string | Uint8Array;

/** A response; see the module comment for when it may be touched. */
export interface HttpResponse {
  /** The status line's code and reason, e.g. `'404 Not Found'`; default `'200 OK'`. First, before any header. */
  writeStatus(status: HeaderText): HttpResponse;
  /** Adds a header line (a second call with the same name adds a second line). */
  writeHeader(name: HeaderText, value: HeaderText): HttpResponse;
  /**
   * Ends the answer with `body` (and its Content-Length). `closeConnection` closes the
   * connection once the answer is out, so an unread request body is never read as a request.
   */
  end(body?: Body, closeConnection?: boolean): HttpResponse;
  /** Ends the answer with no body and no Content-Length written for it (HEAD, 204, 304). */
  endWithoutBody(): HttpResponse;
  /**
   * Ends the answer with as much of `body` (the part from the write offset on, of a body of
   * `totalSize` bytes) as the connection takes now: `[ok, done]`. When not ok, the caller keeps
   * the rest and offers it again from `onWritable`.
   */
  tryEnd(body: Body, totalSize: number): [boolean, boolean];
  /** Writes a piece of a streamed (chunked) answer; false when it is held back (wait for `onWritable`). */
  write(chunk: Body): boolean;
  /**
   * Runs `handler(offset)` once the connection takes bytes again, `offset` being the bytes of
   * this answer written so far; the handler returns false to be called again.
   */
  onWritable(handler: (offset: number) => boolean): HttpResponse;
  /** Runs once if the connection closes before the answer was ended. */
  onAborted(handler: () => void): HttpResponse;
  /**
   * Hands the request body over as it arrives. `chunk` is valid during the call only (copy what
   * is kept); the last call has `isLast` true (its chunk may be empty).
   */
  onData(handler: (chunk: ArrayBuffer, isLast: boolean) => void): HttpResponse;
  /** Stops handing body chunks over (and reading them off the connection) until `resume`. */
  pause(): void;
  resume(): void;
  /** Runs `write` with the connection's output held, so what it writes leaves as one packet. */
  cork(write: () => void): HttpResponse;
  /** Closes the connection at once; `onAborted` runs. */
  close(): HttpResponse;
  /** Accepts a WebSocket upgrade (in a WebSocket route's `upgrade` only). */
  upgrade<UserData>(
    userData: UserData,
    secWebSocketKey: string,
    secWebSocketProtocol: string,
    secWebSocketExtensions: string,
    context: UpgradeContext,
  ): void;
  /** Marks a response as answering HEAD (see reply.ts). */
  thunderHead?: boolean;
}

/** A route handler. */
export type Handler = (res: HttpResponse, req: HttpRequest) => void;

/** What a WebSocket route's `upgrade` passes on to `res.upgrade`; opaque. */
export type UpgradeContext = unknown;

/** One WebSocket listener, valid from `open` to `close`. */
export interface WebSocket<UserData> {
  /** Sends a text message. */
  send(message: string): unknown;
  /** Closes with a close frame; `close` runs. */
  end(code?: number, reason?: string): void;
  /** Receives what is published on `topic` from now on. */
  subscribe(topic: string): unknown;
  /** The value given to `res.upgrade`. */
  getUserData(): UserData;
}

/** A WebSocket route. */
export interface WebSocketBehavior<UserData> {
  /** Seconds without traffic before the socket is closed (pings keep a live one open). */
  idleTimeout?: number;
  /** Ping idle sockets so a live client answers in time. */
  sendPingsAutomatically?: boolean;
  /** The largest message accepted from a client, in bytes; larger closes the socket. */
  maxPayloadLength?: number;
  /** Decides an upgrade: `res.upgrade(...)` accepts it, an ordinary answer refuses it. */
  upgrade: (res: HttpResponse, req: HttpRequest, context: UpgradeContext) => void;
  open: (ws: WebSocket<UserData>) => void;
  message: (ws: WebSocket<UserData>, message: ArrayBuffer, isBinary: boolean) => void;
  close: (ws: WebSocket<UserData>, code: number, message: ArrayBuffer) => void;
}

/**
 * Where routes are registered. Patterns are uWS's: static segments, `:name` segments and a
 * final `*`; a static segment beats `:name`, which beats `*`; a handler registered for the
 * request's method beats one registered with `any`, whatever their patterns.
 */
export interface App {
  get(pattern: string, handler: Handler): unknown;
  head(pattern: string, handler: Handler): unknown;
  put(pattern: string, handler: Handler): unknown;
  post(pattern: string, handler: Handler): unknown;
  del(pattern: string, handler: Handler): unknown;
  any(pattern: string, handler: Handler): unknown;
  ws<UserData>(pattern: string, behavior: WebSocketBehavior<UserData>): unknown;
  /** Sends `message` to every WebSocket subscribed to `topic`. */
  publish(topic: string, message: string): unknown;
  /** How many WebSockets are subscribed to `topic`. Only once a `ws` route exists. */
  numSubscribers(topic: string): number;
}
