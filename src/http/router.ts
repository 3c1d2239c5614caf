import { ShuttingDownError } from '../errors.js';
import type { InFlight } from './in-flight.js';
import { sendError } from './reply.js';
import type { RequestGuard } from './request-guard.js';
import type { HttpRequest, HttpResponse, TemplatedApp } from './uws.js';

type Handler = (res: HttpResponse, req: HttpRequest) => void;

/**
 * Registers a handler for a pattern. `params` are the query parameters the route takes
 * (default none): any other is refused before the handler runs.
 */
export interface Register {
  (pattern: string, handler: Handler): void;
  (pattern: string, params: readonly string[], handler: Handler): void;
}

/** How route modules register handlers: the uWS methods they use, nothing else. */
export interface Router {
  get: Register;
  head: Register;
  put: Register;
  post: Register;
  del: Register;
}

/**
 * A Router over a uWS app whose every handler first refuses new work once a shutdown has
 * begun (503 SHUTTING_DOWN), then what `requests` refuses (foreign origins and hosts,
 * unsupported headers and parameters), so no route can forget to.
 */
export function drainingRouter(app: TemplatedApp, inFlight: InFlight, requests: RequestGuard): Router {
  const guard =
    (handler: Handler, params: readonly string[]): Handler =>
    (res, req) => {
      // The body, if any, is unread: close so it is never parsed as a request.
      if (inFlight.draining) return sendError(res, new ShuttingDownError(), true);
      const refused = requests.check(req, params);
      if (refused) sendError(res, refused, true);
      else handler(res, req);
    };
  const register =
    (method: (pattern: string, handler: Handler) => unknown): Register =>
    (pattern: string, a: Handler | readonly string[], b?: Handler) =>
      void (typeof a === 'function' ? method(pattern, guard(a, [])) : method(pattern, guard(b!, a)));
  return {
    get: register((p, h) => app.get(p, h)),
    head: register((p, h) => app.head(p, h)),
    put: register((p, h) => app.put(p, h)),
    post: register((p, h) => app.post(p, h)),
    del: register((p, h) => app.del(p, h)),
  };
}
