/**
 * The HTTP API as an OpenAPI 3.1 document, served at `GET /openapi.json`
 * (openapi-route.ts). Built once at start-up from the server's own settings, so the limits,
 * the replica count and the default quorums it states are the ones this server enforces.
 * Error codes come from the catalogue (src/errors.ts), so a code added or removed there
 * changes the document, and each code's status is read from its class, never restated.
 * test/openapi.test.ts sends real requests and checks every answer against this document.
 */
import { componentSchemas } from './openapi-schemas.js';
import {
  type OpenApiDocument,
  type ApiSettings,
  NO_SUCH_ROUTE,
  keyParameter,
  sharedError,
} from './openapi-parts.js';
import { keyOperations, collectionPaths, legacyPaths } from './openapi-key-paths.js';
import { clusterPaths, operationsPaths } from './openapi-cluster-paths.js';
import { checkPaths, checkSchemas } from './openapi-check-paths.js';

export type { Schema } from './openapi-schemas.js';
export {
  METHODS,
  type ApiSettings,
  type ErrorCode,
  type Header,
  type Method,
  type OpenApiDocument,
  type Operation,
  type PathItem,
  type Response,
} from './openapi-parts.js';

/** The whole document for a server started with `settings`. */
export function openApiDocument(settings: ApiSettings): OpenApiDocument {
  return {
    openapi: '3.1.0',
    info: {
      title: 'ThunderDB',
      version: settings.version,
      description: [
        'A distributed key-value store simulator. Every error is a status and `{"error": {"code", "message", …}}`, with `code` from a fixed catalogue (ErrorCode); each response lists its codes in `x-error-codes`.',
        'Every route refuses, before it runs: query parameters it does not take (400 UNKNOWN_PARAMETER; names other stores use for features ThunderDB lacks, 501 NOT_IMPLEMENTED), a parameter given twice (400), conditional headers it does not honour (501), a Content-Encoding (415), ambiguous body framing (400, or 501 for a Transfer-Encoding other than chunked), foreign Hosts and Origins (403), and new work while shutting down (503).',
        'An HTTP method a path does not document is answered as its `x-other-methods` says; a path no route matches, as `x-unknown-path` says.',
      ].join('\n\n'),
    },
    servers: [{ url: '/' }],
    tags: [
      { name: 'kv', description: 'Keys and values.' },
      { name: 'batch', description: 'Streamed batch writes and export.' },
      { name: 'watch', description: 'Streams of changes, and blocking reads.' },
      { name: 'legacy', description: "The original ThunderDB's routes, with its answer shapes." },
      { name: 'cluster', description: 'Nodes, the ring, membership changes.' },
      { name: 'faults', description: 'Faults injected into the simulated network.' },
      { name: 'operations', description: 'Health, metrics, the dashboard, this document.' },
      { name: 'check', description: 'Checks of linearizability run against the cluster, watched live.' },
    ],
    paths: {
      '/kv/{key}': keyOperations(settings, '', [keyParameter(settings.limits)]),
      ...collectionPaths(settings),
      ...legacyPaths(settings),
      ...clusterPaths(settings),
      ...operationsPaths(),
      ...checkPaths(),
    },
    components: {
      schemas: { ...componentSchemas(settings.limits), ...checkSchemas() },
      responses: {
        MethodNotAllowed: sharedError(
          'METHOD_NOT_ALLOWED',
          'A method the path does not answer.',
          {
            Allow: {
              description: 'The methods the path answers.',
              required: true,
              schema: { type: 'string' },
            },
          },
          ['allow'],
        ),
        NoSuchRoute: sharedError('NOT_FOUND', 'No route for this path.'),
      },
    },
    'x-unknown-path': NO_SUCH_ROUTE,
  };
}
