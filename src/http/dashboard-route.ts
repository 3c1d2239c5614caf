import { PAGE_POLICY, readPage } from '../pages.js';
import type { RouteContext } from './context.js';
import { endWith, writeStatus } from './reply.js';
import type { Router } from './router.js';

/**
 * Registers `GET /`: the dashboard (dashboard/index.html, one self-contained page: no build
 * step, nothing from the internet), which listens on `/live` and acts through the HTTP
 * routes. Read once, at start.
 */
export function registerDashboardRoute(app: Router, _ctx: RouteContext): void {
  const page = readPage('index.html');
  app.get('/', (res) => {
    writeStatus(res, 200)
      .writeHeader('Content-Type', 'text/html; charset=utf-8')
      // Its own inline script and style, the same origin's routes and WebSocket, nothing else.
      .writeHeader('Content-Security-Policy', PAGE_POLICY);
    endWith(res, page);
  });
}
