import { ServerResponse, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { BadRequestError, NotFoundError } from '../../errors.js';
import { sendError } from '../reply.js';
import type { App, Handler, WebSocketBehavior } from '../seam.js';
import { CLIENT_TIMEOUT_MS, Connection } from './connection.js';
import { NodeRequest, splitTarget } from './request.js';
import { NodeResponse } from './response.js';
import { RouteTree } from './route-tree.js';
import { WebSockets } from './websockets.js';

/** `any` routes, tried when no route of the request's own method matches (as uWS does). */
const ANY = '*';

/**
 * The seam's App on node:http: routes registered as on uWS, matched by {@link RouteTree} in
 * uWS's order (the request's own method first, across every pattern; `any` after), and the
 * `request`, `upgrade` and `clientError` listeners of a node:http server that serve them.
 */
export class NodeApp implements App {
  /** Routes by upper-case method, as node:http spells `req.method`; `*` for `any`. */
  readonly #routes = new Map<string, RouteTree<Handler>>();
  readonly #sockets = new RouteTree<WebSocketBehavior<never>>();
  readonly #webSockets = new WebSockets();

  get(pattern: string, handler: Handler): void {
    this.#add('GET', pattern, handler);
  }
  head(pattern: string, handler: Handler): void {
    this.#add('HEAD', pattern, handler);
  }
  put(pattern: string, handler: Handler): void {
    this.#add('PUT', pattern, handler);
  }
  post(pattern: string, handler: Handler): void {
    this.#add('POST', pattern, handler);
  }
  del(pattern: string, handler: Handler): void {
    this.#add('DELETE', pattern, handler);
  }
  any(pattern: string, handler: Handler): void {
    this.#add(ANY, pattern, handler);
  }
  ws<UserData>(pattern: string, behavior: WebSocketBehavior<UserData>): void {
    this.#sockets.add(pattern, behavior as WebSocketBehavior<never>);
  }
  publish(topic: string, message: string): void {
    this.#webSockets.publish(topic, message);
  }
  numSubscribers(topic: string): number {
    return this.#webSockets.numSubscribers(topic);
  }

  /** node:http's `request` event. */
  readonly request = (req: IncomingMessage, res: ServerResponse): void => {
    const connection = Connection.of(req.socket);
    // An answer before this one closes the connection: this request is never run (RFC 9112 §9.6).
    if (connection.closing) return;
    connection.last = res;
    connection.lastRequest = req;
    this.#serve(req, new NodeResponse(res, req, connection));
  };

  /**
   * node:http's `upgrade` event: a WebSocket route's `upgrade` decides; a request that asks to
   * upgrade anywhere else is served as an ordinary one, on a connection closed behind it.
   */
  readonly upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const raw = socket as Socket & { _httpMessage?: ServerResponse | null };
    // node:http has let go of this socket, its error and timeout handlers with it: a reset
    // would be an unhandled 'error' (the process ends), a silent client never timed out.
    raw.on('error', () => raw.destroy());
    raw.setTimeout(CLIENT_TIMEOUT_MS, () => raw.destroy());
    // Pipelined behind an answer still being written: the socket is node's until it is out
    // (assigning it now throws), and answers leave in request order.
    const earlier = raw._httpMessage;
    if (earlier != null) {
      earlier.once('finish', () => (raw.destroyed ? undefined : this.#upgrade(req, raw, head)));
      return;
    }
    this.#upgrade(req, raw, head);
  };

  #upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    if (Connection.of(socket).closing) return void socket.destroySoon();
    const res = new ServerResponse(req);
    res.shouldKeepAlive = false;
    res.assignSocket(socket);
    // node:http has let go of this socket: once an answer is out, it is closed here.
    res.once('finish', () => socket.destroySoon());
    const connection = Connection.of(socket);
    connection.last = res;
    const response = new NodeResponse(res, req, connection);
    const { path, query } = splitTarget(req.url ?? '/');
    const route = req.method === 'GET' ? this.#sockets.match(path) : null;
    if (route === null) return this.#serve(req, response);
    const behavior = route.value as WebSocketBehavior<unknown>;
    const context = this.#webSockets.upgrading(behavior, req, socket, head);
    behavior.upgrade(response, new NodeRequest(req, path, query, route.params), context);
  }

  /** Closes every WebSocket at once (the server is stopping). */
  closeWebSockets(): void {
    this.#webSockets.terminate();
  }

  #serve(req: IncomingMessage, response: NodeResponse): void {
    const { path, query } = splitTarget(req.url ?? '/');
    const request = new NodeRequest(req, path, query, []);
    // node:http's own answer to this is a bare 400 (requireHostHeader): this one is JSON.
    if (req.httpVersionMinor === 1 && !request.hasHeader('host')) {
      return sendError(response, new BadRequestError('an HTTP/1.1 request must carry a Host header'), true);
    }
    const match = this.#routes.get(req.method!)?.match(path) ?? this.#routes.get(ANY)?.match(path) ?? null;
    if (match === null) return sendError(response, new NotFoundError(`no route for ${path}`), true);
    match.value(
      response,
      match.params.length === 0 ? request : new NodeRequest(req, path, query, match.params),
    );
  }

  #add(method: string, pattern: string, handler: Handler): void {
    let tree = this.#routes.get(method);
    if (tree === undefined) this.#routes.set(method, (tree = new RouteTree()));
    tree.add(pattern, handler);
  }
}
