import { ShuttingDownError } from '../errors.js';
import type { InFlight } from './in-flight.js';
import { sendError } from './reply.js';
import type { HttpRequest, HttpResponse, TemplatedApp } from './uws.js';

type Handler = (res: HttpResponse, req: HttpRequest) => void;

/** How route modules register handlers: the uWS methods they use, nothing else. */
export interface Router {
  get(pattern: string, handler: Handler): void;
  head(pattern: string, handler: Handler): void;
  put(pattern: string, handler: Handler): void;
  post(pattern: string, handler: Handler): void;
  del(pattern: string, handler: Handler): void;
}

/**
 * A Router over a uWS app whose every handler first refuses new work once a shutdown has
 * begun (503 SHUTTING_DOWN), so no route can forget to.
 */
export function drainingRouter(app: TemplatedApp, inFlight: InFlight): Router {
  const guard =
    (handler: Handler): Handler =>
    (res, req) => {
      // The body, if any, is unread: close so it is never parsed as a request.
      if (inFlight.draining) sendError(res, new ShuttingDownError(), true);
      else handler(res, req);
    };
  return {
    get: (pattern, handler) => void app.get(pattern, guard(handler)),
    head: (pattern, handler) => void app.head(pattern, guard(handler)),
    put: (pattern, handler) => void app.put(pattern, guard(handler)),
    post: (pattern, handler) => void app.post(pattern, guard(handler)),
    del: (pattern, handler) => void app.del(pattern, guard(handler)),
  };
}
