import type { Cluster } from '../cluster.js';
import { MethodNotAllowedError, NotFoundError } from '../errors.js';
import type { Limits } from '../limits.js';
import { registerBatchRoute } from './batch-route.js';
import { registerClusterRoutes } from './cluster-routes.js';
import type { RouteContext } from './context.js';
import { HeavyGate } from './heavy-gate.js';
import { InFlight } from './in-flight.js';
import { registerKvRoutes } from './kv-routes.js';
import { registerLegacyRoutes } from './legacy-routes.js';
import { sendError } from './reply.js';
import { RequestGuard } from './request-guard.js';
import { drainingRouter } from './router.js';
import { listenError, listenExclusive, uws, type us_listen_socket } from './uws.js';

/** Every route and the methods it answers, for 405s with an `Allow` header. */
const ROUTES: Record<string, string> = {
  '/kv/*': 'GET, HEAD, PUT, DELETE',
  '/kv/_mget': 'GET, HEAD, PUT, DELETE, POST',
  '/kv': 'GET, POST',
  '/get/*': 'GET',
  '/put': 'POST',
  '/snapshot': 'GET',
  '/ping': 'GET',
  '/cluster': 'GET',
  '/cluster/locate/*': 'GET',
  '/health': 'GET',
};

/** Where and how the HTTP front end listens. */
export interface ServerOptions {
  cluster: Cluster;
  limits: Limits;
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 picks a free port. Default 8080. */
  port?: number;
  /** `Host` names accepted besides IPs and localhost (see RequestGuard). Default none. */
  allowHosts?: readonly string[];
  /** Origins accepted besides the server's own (see RequestGuard). Default none. */
  allowOrigins?: readonly string[];
}

/** A listening front end. */
export interface Server {
  readonly host: string;
  /** The real port, also when 0 was asked for. */
  readonly port: number;
  /**
   * Stops accepting connections and waits for requests in flight (at most `graceMs`,
   * default 5000). The cluster is the caller's to close.
   */
  close(graceMs?: number): Promise<void>;
}

/** Starts the uWebSockets.js front end over a running cluster. */
export function startServer(options: ServerOptions): Promise<Server> {
  const { cluster, limits, host = '127.0.0.1', port = 8080 } = options;
  const inFlight = new InFlight();
  const ctx: RouteContext = { cluster, limits, inFlight, heavy: new HeavyGate(limits.maxHeavyRequests) };
  const app = uws.App();

  const { allowHosts, allowOrigins } = options;
  const guard = new RequestGuard({ bindHost: host, allowHosts, allowOrigins });
  const router = drainingRouter(app, inFlight, guard);
  registerKvRoutes(router, ctx);
  registerBatchRoute(router, ctx);
  registerLegacyRoutes(router, ctx);
  registerClusterRoutes(router, ctx);
  // uWS prefers a method's own handler to `any` on the same pattern, so these catch only
  // the methods a route does not answer.
  for (const [pattern, allow] of Object.entries(ROUTES)) {
    app.any(pattern, (res, req) => {
      const error = new MethodNotAllowedError(
        `${req.getCaseSensitiveMethod()} is not allowed here; use ${allow}`,
      );
      error.details.allow = allow;
      sendError(res, error, true);
    });
  }
  app.any('/*', (res, req) => sendError(res, new NotFoundError(`no route for ${req.getUrl()}`), true));

  return new Promise((resolve, reject) => {
    // Exclusive: a taken port must fail here, not be shared with the other server.
    listenExclusive(app, host, port, (socket: us_listen_socket | false) => {
      if (!socket) {
        void listenError(host, port).then(reject);
        return;
      }
      let closed: Promise<void> | null = null;
      resolve({
        host,
        port: uws.us_socket_local_port(socket),
        close(graceMs = 5000) {
          closed ??= (async () => {
            uws.us_listen_socket_close(socket);
            await inFlight.drain(graceMs);
          })();
          return closed;
        },
      });
    });
  });
}
