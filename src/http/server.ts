import type { Cluster } from '../cluster/cluster.js';
import { MethodNotAllowedError, NotFoundError } from '../errors.js';

import type { Limits } from '../limits.js';
import { registerBatchRoute } from './batch-route.js';

import { registerExportRoute } from './export-route.js';
import { registerWatchRoute } from './watch-route.js';

import { BodyBudget } from './body-budget.js';
import { registerClusterRoutes } from './cluster-routes.js';

import type { RouteContext } from './context.js';
import { HeavyGate } from './heavy-gate.js';

import { InFlight } from './in-flight.js';

import { registerKvRoutes } from './kv-routes.js';

import { registerLegacyRoutes } from './legacy-routes.js';

import { registerMetricsRoute } from './metrics-route.js';

import { registerDashboardRoute } from './dashboard-route.js';
import { registerReplayRoute } from './replay-route.js';

import { registerLiveRoute } from './live-route.js';

import { registerOpenApiRoute } from './openapi-route.js';
import { registerCheckRoutes } from './check-routes.js';
import { LiveChecks } from '../check/live-checks.js';

import { HttpMetrics } from '../metrics/http-metrics.js';
import { defaultMaxConnections, openFileLimit } from './connection-gate.js';
import { sendError } from './reply.js';

import { RequestGuard } from './request-guard.js';

import { drainingRouter } from './router.js';
import { chooseFrontEnd, createFrontEnd, type FrontEndName } from './front-ends.js';
import { systemClock, type Clock } from '../time/clock.js';
import { DEFAULT_CHECKS_DIR, DEFAULT_MAX_BUFFERED_BODY_BYTES } from '../config.js';

/** Every route and the methods it answers, for 405s with an `Allow` header. */
const ROUTES: Record<string, string> = {
  '/kv/*': 'GET, HEAD, PUT, DELETE',
  '/kv/_mget': 'GET, HEAD, PUT, DELETE, POST',
  '/kv': 'GET, HEAD, POST',
  '/get/*': 'GET, HEAD',
  '/put': 'POST',
  '/snapshot': 'GET, HEAD',
  '/export': 'GET, HEAD',
  '/watch': 'GET, HEAD',
  '/ping': 'GET, HEAD',
  '/cluster': 'GET, HEAD',
  '/cluster/locate/*': 'GET, HEAD',
  '/cluster/nodes': 'POST',
  '/cluster/nodes/:id': 'DELETE',
  '/cluster/plan': 'GET, HEAD',
  '/cluster/nodes/:id/crash': 'POST',
  '/cluster/nodes/:id/restart': 'POST',
  '/cluster/anti-entropy': 'POST',
  '/cluster/faults': 'GET, HEAD, POST, DELETE',
  '/cluster/faults/:id': 'DELETE',
  '/health': 'GET, HEAD',
  '/metrics': 'GET, HEAD',
  '/': 'GET, HEAD',
  '/replay': 'GET, HEAD',
  '/replay/files/:name/trace.jsonl': 'GET, HEAD',
  '/openapi.json': 'GET, HEAD',
  '/check': 'GET, HEAD, POST',
  '/check/:id': 'GET, HEAD, PUT, DELETE',
  '/check/:id/report': 'GET, HEAD',
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
  /**
   * Client connections allowed at once; past it new connections are refused until some
   * close. Default: `ulimit -n` less 256 (10000 where the limit cannot be read); at most that.
   */
  maxConnections?: number;
  /**
   * Request-body bytes all requests together may hold while bodies read whole (`_mget`,
   * `/put`, `PUT /kv/{key}`) arrive; past it 503 BODY_BUDGET_EXCEEDED. At least the largest
   * body or value allowed. Default 256 MiB.
   */
  maxBufferedBodyBytes?: number;
  /** Where the server reports what it cannot tell a client. Default console.error. */
  log?: (line: string) => void;
  /** The front end's own time and timers (see RouteContext). Default the system clock. */
  clock?: Clock;
  /** The HTTP front end. Default: uWS where its native binary loads, else node:http (see chooseFrontEnd). */
  http?: FrontEndName;
  /**
   * Where checks keep their files, a folder each: the checks the dashboard starts write there
   * (`POST /check`), and `GET /replay/files/{name}/trace.jsonl` reads traces from there
   * (`thunderdb check --out DIR/NAME` puts one there). Default {@link DEFAULT_CHECKS_DIR},
   * relative to the working directory.
   */
  checksDir?: string;
}

/** Checks the server's own options, naming the bad one in a RangeError. */
export function checkServerOptions(options: ServerOptions): void {
  const { limits, maxConnections, maxBufferedBodyBytes } = options;
  if (maxConnections !== undefined) {
    if (!Number.isSafeInteger(maxConnections) || maxConnections < 1) {
      throw new RangeError(`maxConnections must be a positive integer, got ${maxConnections}`);
    }
    const ceiling = defaultMaxConnections();
    if (openFileLimit() !== null && maxConnections > ceiling) {
      throw new RangeError(
        `maxConnections must stay below the open-file limit (ulimit -n ${openFileLimit()}, less 256 reserved): at most ${ceiling}, got ${maxConnections}`,
      );
    }
  }
  if (maxBufferedBodyBytes !== undefined) {
    const largest = Math.max(limits.maxBodyBytes, limits.maxValueBytes);
    if (!Number.isSafeInteger(maxBufferedBodyBytes) || maxBufferedBodyBytes < largest) {
      // Below the largest body, one body of an allowed size could never be accepted.
      throw new RangeError(
        `maxBufferedBodyBytes must be an integer of at least maxBodyBytes and maxValueBytes (${largest}), got ${maxBufferedBodyBytes}`,
      );
    }
  }
}

/** A listening front end. */
export interface Server {
  /** Which front end serves. */
  readonly http: FrontEndName;
  readonly host: string;
  /** The real port, also when 0 was asked for. */
  readonly port: number;
  /**
   * Stops accepting connections and waits for requests in flight (at most `graceMs`,
   * default 5000). The cluster is the caller's to close.
   */
  close(graceMs?: number): Promise<void>;
}

/** Where this process reaches a server bound to `host`: a wildcard address is reached on loopback. */
function loopbackFor(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

/** Starts the HTTP front end over a running cluster. */
export async function startServer(options: ServerOptions): Promise<Server> {
  const {
    cluster,
    limits,
    host = '127.0.0.1',
    port = 8080,
    log = console.error,
    clock = systemClock,
  } = options;
  checkServerOptions(options);
  const frontEnd = await createFrontEnd(options.http ?? chooseFrontEnd().name);
  const inFlight = new InFlight(
    new BodyBudget(options.maxBufferedBodyBytes ?? DEFAULT_MAX_BUFFERED_BODY_BYTES),
    { ms: limits.stallTimeoutMs, clock },
  );
  const http = new HttpMetrics();
  // A check the server runs drives the cluster through the server's own URL, known once listening.
  let selfUrl = '';
  const checksDir = options.checksDir ?? DEFAULT_CHECKS_DIR;
  const checks = new LiveChecks({ dir: checksDir, clock, url: () => selfUrl });
  const ctx: RouteContext = {
    cluster,
    limits,
    inFlight,
    log,
    http,
    heavy: new HeavyGate(limits.maxHeavyRequests),
    checks,
    clock,
    checksDir,
  };
  const { app } = frontEnd;
  const { allowHosts, allowOrigins } = options;
  const guard = new RequestGuard({ bindHost: host, allowHosts, allowOrigins });
  const router = drainingRouter(app, inFlight, guard, http, frontEnd.traits);
  registerKvRoutes(router, ctx);
  registerBatchRoute(router, ctx);
  registerExportRoute(router, ctx);
  registerWatchRoute(router, ctx);
  registerLegacyRoutes(router, ctx);
  registerClusterRoutes(router, ctx);
  registerMetricsRoute(router, ctx);
  registerDashboardRoute(router, ctx);
  registerReplayRoute(router, ctx);
  registerOpenApiRoute(router, ctx);
  registerCheckRoutes(router, ctx);
  const stopLive = registerLiveRoute(app, ctx, guard);
  router.finish();
  // uWS prefers a method's own handler to `any` on the same pattern, so these catch only
  // the methods a route does not answer.
  for (const [pattern, allow] of Object.entries(ROUTES)) {
    router.any(pattern, (res, req) => {
      const error = new MethodNotAllowedError(
        `${req.getCaseSensitiveMethod().toUpperCase()} is not allowed here; use ${allow}`,
      );
      error.details.allow = allow;
      sendError(res, error, true);
    });
  }
  router.any('/*', (res, req) => sendError(res, new NotFoundError(`no route for ${req.getUrl()}`), true));

  let listening: Awaited<ReturnType<typeof frontEnd.listen>>;
  try {
    listening = await frontEnd.listen({
      host,
      port,
      maxConnections: options.maxConnections ?? defaultMaxConnections(),
      log,
    });
  } catch (err) {
    stopLive();
    throw err;
  }
  selfUrl = `http://${loopbackFor(host)}:${listening.port}`;
  let closed: Promise<void> | null = null;
  return {
    http: frontEnd.name,
    host,
    port: listening.port,
    close(graceMs = 5000) {
      closed ??= (async () => {
        listening.stopAccepting();
        stopLive();
        await checks.close();
        await inFlight.drain(graceMs);
        listening.closeAll();
      })();
      return closed;
    },
  };
}
