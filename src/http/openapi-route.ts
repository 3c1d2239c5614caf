import type { RouteContext } from './context.js';
import { openApiDocument } from './openapi.js';
import { sendJson } from './reply.js';
import type { Router } from './router.js';

/**
 * Registers `GET /openapi.json`: the HTTP API as OpenAPI 3.1 (see openapi.ts), built from
 * this server's limits and replication settings and serialized once, at start.
 */
export function registerOpenApiRoute(app: Router, ctx: RouteContext): void {
  const { cluster, limits } = ctx;
  const document = JSON.stringify(
    openApiDocument({ limits, replicas: cluster.ring.replicas, consistency: cluster.consistency }),
  );
  app.get('/openapi.json', (res) => sendJson(res, 200, document));
}
