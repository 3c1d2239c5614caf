// From the module, not the global: `performance` on globalThis is a getter, run on every
// use, and these run on every request.
import { performance } from 'node:perf_hooks';
import { ShuttingDownError, type ThunderError } from '../errors.js';
import { Deferred } from './deferred.js';
import { framingError, framingToCheck } from './framing.js';
import type { InFlight } from './in-flight.js';
import { markHead, sendError } from './reply.js';
import { answerAs, answering, type HttpMetrics, type RouteMetrics } from '../metrics/http-metrics.js';
import { CONDITIONAL_HEADERS, type RequestGuard } from './request-guard.js';
import type { FrontEndTraits } from './front-end-contract.js';
import type { App, Handler, HttpResponse } from './seam.js';

/**
 * Registers a handler for a pattern. `takes` names the query parameters the route takes
 * and, spelled as headers (`If-Match`, `If-None-Match`), the conditional headers it honours
 * (default none): any other parameter or conditional header is refused before the handler
 * runs.
 */
export interface Register {
  (pattern: string, handler: Handler): void;
  (pattern: string, takes: readonly string[], handler: Handler): void;
}

/** A route's `takes` split into query parameters and conditional headers. */
interface Takes {
  params: readonly string[];
  headers: readonly string[];
}

function split(takes: readonly string[]): Takes {
  const headers = takes.filter((name) => CONDITIONAL_HEADERS.includes(name));
  return { params: takes.filter((name) => !headers.includes(name)), headers };
}

/** How route modules register handlers: the uWS methods they use, nothing else. */
export interface Router {
  get: Register;
  head: Register;
  put: Register;
  post: Register;
  del: Register;
}

/** A Router that also registers, once every route is in, what the routes imply. */
export interface DrainingRouter extends Router {
  /**
   * Registers HEAD for every GET route that has no HEAD handler of its own: the GET
   * handler runs on a response marked HEAD, so it sends the same headers and no body
   * (RFC 9110 §9.3.2; load balancers probe `HEAD /health`).
   */
  finish(): void;
  /**
   * Registers a handler for every method on a pattern, for the 404 and 405 answers: only
   * the framing check runs first, since a request refused here may still hide a second
   * one behind it in the same packet.
   */
  any(pattern: string, handler: Handler): void;
}

/**
 * A Router over the front end's app whose every handler first refuses, so no route can forget to:
 * a request whose body framing could smuggle a second request (see framingError), new work
 * once a shutdown has begun (503 SHUTTING_DOWN), then what `requests` refuses (foreign
 * origins and hosts, unsupported headers and parameters). HEAD handlers get a response
 * marked HEAD, so no answer to HEAD, error or not, carries a body.
 */
export function drainingRouter(
  app: App,
  inFlight: InFlight,
  requests: RequestGuard,
  metrics: HttpMetrics,
  traits: Pick<FrontEndTraits, 'refusesFramingAfterParse'>,
): DrainingRouter {
  const guard =
    (handler: Handler, takes: Takes, route: RouteMetrics, head = false): Handler =>
    (res, req) => {
      answering.route = route;
      answering.started = performance.now();
      try {
        if (head) markHead(res);
        const scanned = requests.scan(req);
        // Only a request whose body's framing is not plain pays for the whole check.
        const framing = framingToCheck(scanned) ? framingError(req) : null;
        if (framing) return refuseAfterParsing(res, framing);
        // The body, if any, is unread: close so it is never parsed as a request.
        if (inFlight.draining) return sendError(res, new ShuttingDownError(), true);
        const refused = requests.refusal(scanned, takes.params, takes.headers);
        if (refused) sendError(res, refused, true);
        else handler(res, req);
      } finally {
        answering.route = null;
      }
    };
  /**
   * A request framed two ways may hide a second request behind it, in the same packet. An
   * answer given inside the handler does not stop uWS from parsing and running that one
   * (it even drops the `Connection: close`), and nothing in JavaScript can stop its parse
   * loop but closing the socket, which loses the answer. So on uWS the refusal waits until
   * the packet is parsed (setImmediate): if a request follows, uWS finds this one pending
   * and closes the connection without running it; if none does, the 400/501 goes out and
   * the connection closes behind it. node:http runs no request after an answer that closes
   * the connection, so there the refusal goes out at once.
   */
  const refuseAfterParsing = (res: HttpResponse, error: ThunderError) => {
    if (!traits.refusesFramingAfterParse) return sendError(res, error, true);
    const refusal = new Deferred(res, inFlight);
    setImmediate(() => refusal.error(error, true));
  };
  const gets = new Map<string, [Handler, Takes]>();
  const heads = new Set<string>();
  const register =
    (method: (pattern: string, handler: Handler, takes: Takes) => void): Register =>
    (pattern: string, a: Handler | readonly string[], b?: Handler) =>
      typeof a === 'function' ? method(pattern, a, split([])) : method(pattern, b!, split(a));
  return {
    get: register((pattern, handler, takes) => {
      gets.set(pattern, [handler, takes]);
      app.get(pattern, guard(handler, takes, metrics.route(pattern, 'get')));
    }),
    head: register((pattern, handler, takes) => {
      heads.add(pattern);
      app.head(pattern, guard(handler, takes, metrics.route(pattern, 'head'), true));
    }),
    put: register(
      (pattern, handler, takes) =>
        void app.put(pattern, guard(handler, takes, metrics.route(pattern, 'put'))),
    ),
    post: register(
      (pattern, handler, takes) =>
        void app.post(pattern, guard(handler, takes, metrics.route(pattern, 'post'))),
    ),
    del: register(
      (pattern, handler, takes) =>
        void app.del(pattern, guard(handler, takes, metrics.route(pattern, 'delete'))),
    ),
    any: (pattern, handler) =>
      void app.any(pattern, (res, req) => {
        const method = req.getMethod();
        if (method === 'head') markHead(res);
        answerAs(metrics.route(pattern, method), performance.now(), () => {
          const framing = framingError(req);
          if (framing) refuseAfterParsing(res, framing);
          else handler(res, req);
        });
      }),
    finish: () => {
      for (const [pattern, [handler, takes]] of gets) {
        if (!heads.has(pattern))
          app.head(pattern, guard(handler, takes, metrics.route(pattern, 'head'), true));
      }
    },
  };
}
