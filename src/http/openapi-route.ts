import { readFileSync } from 'node:fs';
import type { RouteContext } from './context.js';
import { openApiDocument } from './openapi.js';
import { sendJson } from './reply.js';
import type { Router } from './router.js';

/**
 * Registers `GET /openapi.json`: the HTTP API as OpenAPI 3.1 (see openapi.ts), built from
 * this server's limits and replication settings and serialized once, when first asked for.
 */
export function registerOpenApiRoute(app: Router, ctx: RouteContext): void {
  const { cluster, limits } = ctx;
  // Built at the first request, not at start: building it at start (a burst of a few
  // thousand objects) was measured to halve GETs of 64 KiB values for the life of the
  // process, with six times the old-space collections (bench/RESULTS.md, "OpenAPI").
  let document: string | null = null;
  app.get('/openapi.json', (res) => {
    document ??= build();
    sendJson(res, 200, document);
  });
  const build = () => {
    // The package's own version (dist/src/http → the root), so the document's cannot lag behind it.
    const { version } = JSON.parse(
      readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'),
    ) as {
      version: string;
    };
    return JSON.stringify(
      openApiDocument({ version, limits, replicas: cluster.ring.replicas, consistency: cluster.consistency }),
    );
  };
}
