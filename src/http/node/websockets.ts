import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket as Ws } from 'ws';
import type { WebSocket, WebSocketBehavior } from '../seam.js';
import type { Upgrading } from './response.js';

/** Unsent bytes past which a socket is skipped by publish (uWS drops past its backpressure limit alike). */
const MAX_BUFFERED_BYTES = 64 * 1024;

/** One `ws` socket as the seam's WebSocket. */
class NodeWebSocket<UserData> implements WebSocket<UserData> {
  /** Answered the last ping (or said something since). */
  alive = true;
  readonly socket: Ws;
  readonly #userData: UserData;
  readonly #hub: WebSockets;

  constructor(socket: Ws, userData: UserData, hub: WebSockets) {
    this.socket = socket;
    this.#userData = userData;
    this.#hub = hub;
  }

  send(message: string): void {
    if (this.socket.readyState === this.socket.OPEN) this.socket.send(message);
  }

  end(code?: number, reason?: string): void {
    this.socket.close(code, reason);
  }

  subscribe(topic: string): void {
    this.#hub.subscribe(topic, this);
  }

  getUserData(): UserData {
    return this.#userData;
  }
}

/**
 * The WebSocket routes of the node:http front end, on the `ws` package (`noServer`: node:http's
 * `upgrade` event hands each request over), with what uWS offers built in: topics to
 * publish on, pings to idle sockets, and the idle timeout that closes a socket whose client
 * stopped answering them.
 */
export class WebSockets {
  readonly #server = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  readonly #topics = new Map<string, Set<NodeWebSocket<unknown>>>();
  readonly #open = new Set<NodeWebSocket<unknown>>();
  #pinger: NodeJS.Timeout | null = null;

  /** What `res.upgrade` needs to accept this upgrade for `behavior`'s route. */
  upgrading<UserData>(
    behavior: WebSocketBehavior<UserData>,
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
  ): Upgrading {
    return {
      accept: (userData) => {
        // The HTTP server's idle timeout is for requests; this socket has its pings.
        (socket as Duplex & { setTimeout?: (ms: number) => void }).setTimeout?.(0);
        this.#server.options.maxPayload = behavior.maxPayloadLength ?? 16 * 1024;
        this.#server.handleUpgrade(req, socket, head, (client) =>
          this.#opened(behavior, new NodeWebSocket(client, userData as UserData, this)),
        );
      },
    };
  }

  subscribe(topic: string, ws: NodeWebSocket<unknown>): void {
    let set = this.#topics.get(topic);
    if (set === undefined) this.#topics.set(topic, (set = new Set()));
    set.add(ws);
  }

  /**
   * Sends `message` to every subscriber of `topic` but those still holding more than
   * {@link MAX_BUFFERED_BYTES} unsent: a dashboard that stops reading misses updates (the
   * next one says it all) instead of growing the server's memory until its ping times out.
   */
  publish(topic: string, message: string): void {
    for (const ws of this.#topics.get(topic) ?? []) {
      if (ws.socket.bufferedAmount <= MAX_BUFFERED_BYTES) ws.send(message);
    }
  }

  numSubscribers(topic: string): number {
    return this.#topics.get(topic)?.size ?? 0;
  }

  /** Closes every socket at once (the server is stopping; each route said goodbye already). */
  terminate(): void {
    if (this.#pinger) clearInterval(this.#pinger);
    this.#pinger = null;
    for (const client of this.#server.clients) client.terminate();
  }

  #opened<UserData>(behavior: WebSocketBehavior<UserData>, ws: NodeWebSocket<UserData>): void {
    const { socket } = ws;
    this.#open.add(ws as NodeWebSocket<unknown>);
    socket.on('pong', () => (ws.alive = true));
    socket.on('message', (data: Buffer, isBinary) => {
      ws.alive = true;
      behavior.message(ws, new Uint8Array(data).buffer, isBinary);
    });
    socket.on('close', (code: number, reason: Buffer) => {
      this.#open.delete(ws as NodeWebSocket<unknown>);
      for (const set of this.#topics.values()) set.delete(ws as NodeWebSocket<unknown>);
      behavior.close(ws, code, new Uint8Array(reason).buffer);
    });
    socket.on('error', () => socket.terminate());
    if (behavior.sendPingsAutomatically && behavior.idleTimeout) this.#ping(behavior.idleTimeout);
    behavior.open(ws);
  }

  /** Every half idle timeout, pings each socket; one that did not answer the last ping is closed. */
  #ping(idleSeconds: number): void {
    if (this.#pinger) return;
    this.#pinger = setInterval(
      () => {
        for (const ws of this.#open) {
          if (!ws.alive) ws.socket.terminate();
          ws.alive = false;
          ws.socket.ping();
        }
      },
      (idleSeconds * 1000) / 2,
    );
    this.#pinger.unref();
  }
}
