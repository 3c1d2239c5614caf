import { readFileSync } from 'node:fs';
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
  // The package's own version (dist/src/http → the root), so the document's cannot lag behind it.
  const { version } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  const document = JSON.stringify(
    openApiDocument({ version, limits, replicas: cluster.ring.replicas, consistency: cluster.consistency }),
  );
  app.get('/openapi.json', (res) => sendJson(res, 200, document));
}
