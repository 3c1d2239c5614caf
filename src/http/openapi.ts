/**
 * The HTTP API as an OpenAPI 3.1 document, served at `GET /openapi.json`
 * (openapi-route.ts). Built once at start-up from the server's own settings, so the limits,
 * the replica count and the default quorums it states are the ones this server enforces.
 * Error codes come from the catalogue (src/errors.ts), so a code added or removed there
 * changes the document, and each code's status is read from its class, never restated.
 * test/openapi.test.ts sends real requests and checks every answer against this document.
 */
import { catalogue } from '../errors.js';
import type { Limits } from '../limits.js';
import { componentSchemas, ref, type Schema } from './openapi-schemas.js';

export type { Schema } from './openapi-schemas.js';

/** A catalogue code. */
export type ErrorCode = keyof typeof catalogue;

/** `{"$ref": "#/components/…"}`. */
export interface Ref {
  $ref: string;
}

export interface Header {
  description: string;
  /** True when the header is on every answer the response describes. */
  required?: boolean;
  schema: Schema;
}

export interface MediaType {
  schema?: Schema;
  /** NDJSON: the schema of one line (OpenAPI 3.1 has no keyword for it). */
  'x-line-schema'?: Schema;
}

export interface Response {
  description: string;
  headers?: Record<string, Header>;
  content?: Record<string, MediaType>;
  /** The catalogue codes this answer can carry. */
  'x-error-codes'?: ErrorCode[];
  /** A WebSocket's messages (`GET /live`). */
  'x-websocket-message'?: Schema;
}

export interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  description: string;
  required?: boolean;
  schema: Schema;
}

export interface RequestBody {
  description: string;
  required: boolean;
  content: Record<string, MediaType>;
}

export interface Operation {
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  parameters?: Parameter[];
  requestBody?: RequestBody;
  responses: Record<string, Response>;
}

export const METHODS = ['get', 'head', 'put', 'post', 'delete'] as const;
export type Method = (typeof METHODS)[number];

export type PathItem = { [M in Method]?: Operation } & {
  /** The answer to any other method: usually 405 with `Allow`. */
  'x-other-methods': Ref;
};

export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string };
  servers: { url: string }[];
  tags: { name: string; description: string }[];
  paths: Record<string, PathItem>;
  components: { schemas: Record<string, Schema>; responses: Record<string, Response> };
  /** The answer to a path no route matches. */
  'x-unknown-path': Ref;
}

/** What the document states that depends on how the server was started. */
export interface ApiSettings {
  /** The package's version. */
  version: string;
  limits: Limits;
  /** Replicas per key: the most `r` and `w` may be. */
  replicas: number;
  /** The quorums and read repair a request gets when it names none. */
  consistency: { r: number; w: number; repair: 'async' | 'sync' };
}

/** The status a catalogue code is answered with, read from its class. */
export function statusOf(code: ErrorCode): number {
  return new catalogue[code]().status;
}

// Errors by where they come from. Every route runs behind the router's guard (router.ts,
// request-guard.ts, framing.ts), so every operation can answer these.
const GUARD: ErrorCode[] = [
  'BAD_REQUEST', // a parameter given twice or not UTF-8, two Host headers, a bad Content-Length
  'UNKNOWN_PARAMETER',
  'FORBIDDEN_HOST',
  'FORBIDDEN_ORIGIN',
  'UNSUPPORTED_MEDIA_TYPE', // a Content-Encoding
  'NOT_IMPLEMENTED', // ?ttl-like parameters of other stores, conditional headers a route does not honour
  'UNSUPPORTED_TRANSFER_ENCODING',
  'SHUTTING_DOWN',
  'INTERNAL',
];
/** A key in the path. */
const KEY: ErrorCode[] = ['INVALID_KEY', 'KEY_TOO_LARGE'];
/** Work sent to the nodes. */
const NODES: ErrorCode[] = ['NODE_UNAVAILABLE', 'QUORUM_NOT_MET', 'NODE_TIMEOUT'];
/** A body read whole (body.ts). */
const WHOLE_BODY: ErrorCode[] = ['BODY_TOO_LARGE', 'BODY_BUDGET_EXCEEDED'];

const ETAG: Header = {
  description: "The value's version, a strong entity tag.",
  required: true,
  schema: { type: 'string', pattern: '^"[1-9][0-9]{0,15}"$' },
};
const TTL_PATTERN = '^[0-9]+(\\.[0-9]{1,3})?$';
/** Ten years, the longest TTL. */
const MAX_TTL_SECONDS = 315_360_000;

const json = (schema: Schema): Record<string, MediaType> => ({ 'application/json': { schema } });

/**
 * The error answers for `codes`, one response per status, each listing its codes in
 * `x-error-codes` (the test checks every error answer's code is listed under its status).
 */
function errors(codes: ErrorCode[]): Record<string, Response> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of new Set(codes)) {
    const status = statusOf(code);
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const responses: Record<string, Response> = {};
  for (const [status, list] of [...byStatus].sort(([a], [b]) => a - b)) {
    const response: Response = {
      description: `Error: ${list.join(', ')}.`,
      content: json(ref('Error')),
      'x-error-codes': list,
    };
    if (list.includes('SERVER_BUSY')) {
      response.headers = {
        'Retry-After': {
          description: 'With SERVER_BUSY: seconds to wait before trying again.',
          schema: { type: 'string', pattern: '^[0-9]+$' },
        },
      };
    }
    responses[String(status)] = response;
  }
  return responses;
}

/** An operation's answers: its own, then the errors of `codes` plus the guard's. */
function answers(own: Record<string, Response>, codes: ErrorCode[] = []): Record<string, Response> {
  const failures = errors([...GUARD, ...codes]);
  const both = Object.keys(own).filter((status) => status in failures);
  // One response per status: a success and an error under one status would hide each other.
  if (both.length > 0) throw new Error(`status ${both.join(', ')} is both an answer and an error`);
  return { ...own, ...failures };
}

/** HEAD on a GET route: GET's status and headers, no body (router.ts registers it for every GET). */
function headOf(get: Operation): Operation {
  const { operationId, summary, ...rest } = get;
  return {
    ...rest,
    operationId: `head${operationId[0]!.toUpperCase()}${operationId.slice(1)}`,
    summary: `${summary} (headers only)`,
    description: "GET's status and headers (Content-Type, Content-Length where GET has it), and no body.",
  };
}

/** A GET and its HEAD, on a path item. */
function readable(get: Operation): PathItem {
  return { get, head: headOf(get), 'x-other-methods': METHOD_NOT_ALLOWED };
}

const METHOD_NOT_ALLOWED: Ref = { $ref: '#/components/responses/MethodNotAllowed' };
const NO_SUCH_ROUTE: Ref = { $ref: '#/components/responses/NoSuchRoute' };

function queryInteger(name: string, description: string, schema: Schema): Parameter {
  return {
    name,
    in: 'query',
    description: `${description} Plain decimal digits: no sign, no leading zero, no exponent.`,
    schema: { type: 'integer', ...schema },
  };
}

/** GET, HEAD, PUT and DELETE of one key; `path` is the key's path parameter, or none for `/kv/_mget`. */
function keyOperations(settings: ApiSettings, suffix: string, path: Parameter[]): PathItem {
  const { limits, replicas, consistency } = settings;
  const r = queryInteger('r', 'Replicas that must answer a read.', {
    minimum: 1,
    maximum: replicas,
    default: consistency.r,
  });
  const w = queryInteger('w', 'Replicas that must acknowledge a write.', {
    minimum: 1,
    maximum: replicas,
    default: consistency.w,
  });
  const repair: Parameter = {
    name: 'repair',
    in: 'query',
    description: 'Repair stale replicas after the answer (async) or, among the first r, before it (sync).',
    schema: { enum: ['async', 'sync'], default: consistency.repair },
  };
  const etags = (name: string, description: string): Parameter => ({
    name,
    in: 'header',
    description: `${description} \`*\` or a list of strong entity tags (weak tags are 400).`,
    schema: { type: 'string' },
  });
  const ifNoneMatchRead = etags('If-None-Match', 'Answer 304 when the value has one of these versions.');
  const ifMatch = etags(
    'If-Match',
    'Write only over one of these versions (`*`: only if the key has a value).',
  );
  const ifNoneMatch = etags('If-None-Match', '`*`: create only.');
  const get: Operation = {
    operationId: `getValue${suffix}`,
    summary: "A key's value, as the bytes stored",
    tags: ['kv'],
    parameters: [...path, r, repair, ifNoneMatchRead],
    responses: answers(
      {
        '200': {
          description: 'The value.',
          headers: {
            ETag: ETAG,
            'X-TTL': {
              description: 'Seconds until the key expires (up to 3 decimals); absent when it does not.',
              schema: { type: 'string', pattern: TTL_PATTERN },
            },
          },
          content: { 'application/octet-stream': {} },
        },
        '304': { description: 'The value has a version If-None-Match names.', headers: { ETag: ETAG } },
      },
      [...KEY, ...NODES, 'KEY_NOT_FOUND'],
    ),
  };
  return {
    get,
    head: headOf(get),
    put: {
      operationId: `putValue${suffix}`,
      summary: 'Stores a value',
      tags: ['kv'],
      parameters: [
        ...path,
        w,
        {
          name: 'ttl',
          in: 'query',
          description: `Seconds until the key expires: more than 0, at most ${MAX_TTL_SECONDS} (ten years), up to 3 decimals. Without it the key does not expire.`,
          schema: { type: 'string', pattern: TTL_PATTERN },
        },
        ifMatch,
        ifNoneMatch,
      ],
      requestBody: {
        description: `The value: any bytes, stored exactly, at most ${limits.maxValueBytes} bytes. The Content-Type is not read.`,
        required: true,
        content: { '*/*': {} },
      },
      responses: answers(
        {
          '204': {
            description: 'Stored on w replicas.',
            headers: { ETag: { ...ETAG, description: 'The version written.' } },
          },
        },
        [...KEY, ...NODES, 'VALUE_TOO_LARGE', 'BODY_BUDGET_EXCEEDED', 'PRECONDITION_FAILED'],
      ),
    },
    delete: {
      operationId: `deleteValue${suffix}`,
      summary: 'Deletes a key (a tombstone on every replica)',
      tags: ['kv'],
      parameters: [...path, w, ifMatch, ifNoneMatch],
      responses: answers({ '204': { description: 'Deleted.' } }, [
        ...KEY,
        ...NODES,
        'KEY_NOT_FOUND',
        'PRECONDITION_FAILED',
      ]),
    },
    'x-other-methods': METHOD_NOT_ALLOWED,
  };
}

/** `{key}` in a path: percent-decoded, so `/kv/a%2Fb` is the key `a/b`. */
function keyParameter(limits: Limits): Parameter {
  return {
    name: 'key',
    in: 'path',
    required: true,
    description: `The key, percent-encoded UTF-8 (\`a%2Fb\` is \`a/b\`): 1 to ${limits.maxKeyBytes} bytes once decoded. A raw U+FFFD or bytes that are not UTF-8 are 400 INVALID_KEY.`,
    schema: { type: 'string', minLength: 1 },
  };
}

function nodeParameter(): Parameter {
  return {
    name: 'id',
    in: 'path',
    required: true,
    description: 'A node of the ring; any other is 404 NOT_FOUND.',
    schema: { type: 'integer', minimum: 0, maximum: 65535 },
  };
}

const jsonBody = (description: string, schema: Schema): RequestBody => ({
  description: `${description} The Content-Type is not read: the body is always JSON.`,
  required: true,
  content: json(schema),
});

/** The native key-value routes beyond single keys: listing, batches, multi-get, export. */
function collectionPaths(settings: ApiSettings): Record<string, PathItem> {
  const { limits } = settings;
  const prefix: Parameter = {
    name: 'prefix',
    in: 'query',
    description: 'Only keys that start with this (form-encoded UTF-8). Default: every key.',
    schema: { type: 'string', default: '' },
  };
  const ttl: Parameter = {
    name: 'ttl',
    in: 'query',
    description: `Every pair of the batch expires after this many seconds: more than 0, at most ${MAX_TTL_SECONDS}, up to 3 decimals. An NDJSON line's own expiry (third element) wins.`,
    schema: { type: 'string', pattern: TTL_PATTERN },
  };
  const listKeys: Operation = {
    operationId: 'listKeys',
    summary: 'Keys by prefix, a page at a time, in UTF-8 byte order, gathered from every node',
    tags: ['kv'],
    parameters: [
      prefix,
      {
        name: 'after',
        in: 'query',
        description: 'Only keys after this one (the `next` of the last page).',
        schema: { type: 'string', default: '' },
      },
      queryInteger('limit', 'Keys per page.', { minimum: 1, maximum: 1000, default: 100 }),
    ],
    responses: answers({ '200': { description: 'A page of keys.', content: json(ref('KeyPage')) } }, [
      'SERVER_BUSY',
      ...NODES,
    ]),
  };
  const lines = (description: string) => ({
    schema: { type: 'string', description },
    'x-line-schema': ref('BatchLine'),
  });
  return {
    '/kv': {
      ...readable(listKeys),
      post: {
        operationId: 'writeBatch',
        summary: 'Writes many pairs, streamed: the body is processed as it arrives, never held whole',
        description:
          'Not atomic: pairs are stored as they arrive. By default the first bad pair ends the batch, and the error says how many pairs were `written` before it; with `?invalid=skip` bad pairs are skipped and listed.',
        tags: ['batch'],
        parameters: [
          {
            name: 'invalid',
            in: 'query',
            description: 'What a bad pair does: end the batch (stop) or get skipped and reported (skip).',
            schema: { enum: ['stop', 'skip'], default: 'stop' },
          },
          ttl,
          {
            name: 'encoding',
            in: 'query',
            description:
              'How NDJSON values are written: text (stored as its UTF-8 bytes) or base64 (the bytes, as GET /export gives them).',
            schema: { enum: ['text', 'base64'], default: 'text' },
          },
        ],
        requestBody: {
          description: `Pairs in one of three formats, chosen by Content-Type (charset, if given, must be UTF-8; other types are 415). A key is at most ${limits.maxKeyBytes} bytes, a value at most ${limits.maxValueBytes}.`,
          required: true,
          content: {
            'application/json': { schema: ref('BatchObject') },
            'application/x-ndjson': lines('One JSON array per line (blank lines are skipped).'),
            'text/plain': {
              schema: {
                type: 'string',
                description:
                  'One `key value` pair per line, split at the first space; the value is the rest of the line, raw bytes.',
              },
            },
          },
        },
        responses: answers(
          {
            '200': {
              description: 'Every pair stored (or skipped and counted).',
              content: json(ref('BatchResult')),
            },
          },
          [...NODES, 'INVALID_JSON', 'INVALID_KEY', 'KEY_TOO_LARGE', 'VALUE_TOO_LARGE'],
        ),
      },
    },
    '/kv/_mget': {
      ...keyOperations(settings, 'NamedMget', []),
      post: {
        operationId: 'multiGet',
        summary: 'Many values at once, streamed; each key once',
        description:
          'GET, HEAD, PUT and DELETE here are those of the key `_mget`. Values are decoded as UTF-8 text; use GET /kv/{key} for bytes. A failure after the answer has begun closes the connection.',
        tags: ['kv'],
        requestBody: jsonBody(`At most ${limits.maxBodyBytes} bytes.`, ref('MgetRequest')),
        responses: answers(
          {
            '200': {
              description: 'Each key with its value, or null when absent.',
              content: json(ref('MgetResult')),
            },
          },
          [
            ...NODES,
            ...WHOLE_BODY,
            'INVALID_JSON',
            'INVALID_KEY',
            'KEY_TOO_LARGE',
            'TOO_MANY_KEYS',
            'SERVER_BUSY',
          ],
        ),
      },
    },
    '/export': readable({
      operationId: 'exportPairs',
      summary: 'Every live key with its value and expiry, streamed, one NDJSON line each',
      description:
        'Its lines are what POST /kv?encoding=base64 takes with Content-Type application/x-ndjson.',
      tags: ['batch'],
      parameters: [prefix],
      responses: answers(
        {
          '200': {
            description: 'One line per live key.',
            content: {
              'application/x-ndjson': { schema: { type: 'string' }, 'x-line-schema': ref('ExportLine') },
            },
          },
        },
        ['SERVER_BUSY', ...NODES],
      ),
    }),
  };
}

/** The original ThunderDB's routes, with its answer shapes. */
function legacyPaths(settings: ApiSettings): Record<string, PathItem> {
  const { limits } = settings;
  return {
    '/get/{key}': readable({
      operationId: 'legacyGet',
      summary: 'A value as `{"key": "value"}` (decoded as UTF-8)',
      tags: ['legacy'],
      parameters: [keyParameter(limits)],
      responses: answers(
        {
          '200': {
            description: 'The pair.',
            content: json({
              type: 'object',
              minProperties: 1,
              maxProperties: 1,
              additionalProperties: { type: 'string' },
            }),
          },
        },
        [...KEY, ...NODES, 'KEY_NOT_FOUND'],
      ),
    }),
    '/put': {
      post: {
        operationId: 'legacyPut',
        summary: 'Stores exactly one pair `{"key": "value"}`',
        tags: ['legacy'],
        requestBody: jsonBody(`Exactly one pair with a string value, at most ${limits.maxBodyBytes} bytes.`, {
          type: 'object',
          minProperties: 1,
          maxProperties: 1,
          additionalProperties: { type: 'string' },
        }),
        responses: answers({ '200': { description: 'Stored; the body is empty.' } }, [
          ...KEY,
          ...NODES,
          ...WHOLE_BODY,
          'INVALID_JSON',
          'VALUE_TOO_LARGE',
        ]),
      },
      'x-other-methods': METHOD_NOT_ALLOWED,
    },
    '/snapshot': readable({
      operationId: 'snapshot',
      summary: 'Every pair as one JSON object, streamed; not a point-in-time view',
      description: 'A failure after the answer has begun closes the connection.',
      tags: ['legacy'],
      parameters: [
        queryInteger(
          'node',
          "Only this node's shard, the replicas it holds included. Default: every key once.",
          {
            minimum: 0,
            maximum: 65535,
          },
        ),
      ],
      responses: answers(
        {
          '200': {
            description: 'The pairs, values decoded as UTF-8.',
            content: json({ type: 'object', additionalProperties: { type: 'string' } }),
          },
        },
        ['SERVER_BUSY', ...NODES],
      ),
    }),
    '/ping': readable({
      operationId: 'ping',
      summary: 'The original liveness answer',
      tags: ['legacy'],
      responses: answers({
        '200': {
          description: 'Always the same.',
          content: json({
            type: 'object',
            required: ['service', 'status'],
            additionalProperties: false,
            properties: { service: { const: 'node' }, status: { const: 'OK' } },
          }),
        },
      }),
    }),
  };
}

/** Cluster state, membership and faults. */
function clusterPaths(settings: ApiSettings): Record<string, PathItem> {
  const id = nodeParameter();
  /** A POST or DELETE that changes the cluster and answers once done, with `schema`. */
  const change = (
    operationId: string,
    summary: string,
    schema: string,
    codes: ErrorCode[],
    parameters: Parameter[] = [],
  ): Operation => ({
    operationId,
    summary,
    tags: ['cluster'],
    parameters,
    responses: answers({ '200': { description: 'Done.', content: json(ref(schema)) } }, codes),
  });
  return {
    '/cluster': readable({
      operationId: 'cluster',
      summary: 'Every node, the ring settings, the coordinator, the faults in force and the limits',
      tags: ['cluster'],
      responses: answers({ '200': { description: 'The cluster.', content: json(ref('Cluster')) } }),
    }),
    '/cluster/locate/{key}': readable({
      operationId: 'locateKey',
      summary: "Where a key lives: hash, partition, replicas, their states and each one's version",
      tags: ['cluster'],
      parameters: [keyParameter(settings.limits)],
      responses: answers({ '200': { description: 'The location.', content: json(ref('Location')) } }, KEY),
    }),
    '/cluster/nodes': {
      post: change('addNode', 'Starts a node and moves it its share; answers when done', 'MembershipChange', [
        'CONFLICT',
        'NODE_UNAVAILABLE',
      ]),
      'x-other-methods': METHOD_NOT_ALLOWED,
    },
    '/cluster/nodes/{id}': {
      delete: change(
        'removeNode',
        "Hands the node's data over, then stops it",
        'MembershipChange',
        ['NOT_FOUND', 'CONFLICT', 'NODE_UNAVAILABLE'],
        [id],
      ),
      'x-other-methods': METHOD_NOT_ALLOWED,
    },
    '/cluster/plan': readable({
      operationId: 'planChange',
      summary: 'What adding or removing a node would move, counted on the real data; nothing moves',
      tags: ['cluster'],
      parameters: [
        queryInteger('add', 'Plan adding one node. Give add or remove, one of them.', {
          minimum: 1,
          maximum: 1,
        }),
        queryInteger('remove', 'Plan removing this node.', { minimum: 0, maximum: 65535 }),
      ],
      responses: answers({ '200': { description: 'The plan.', content: json(ref('Plan')) } }, [
        'NOT_FOUND',
        'CONFLICT',
        ...NODES,
      ]),
    }),
    '/cluster/nodes/{id}/crash': {
      post: change(
        'crashNode',
        "Kills the node's thread abruptly: its memory is gone",
        'Crashed',
        ['NOT_FOUND'],
        [id],
      ),
      'x-other-methods': METHOD_NOT_ALLOWED,
    },
    '/cluster/nodes/{id}/restart': {
      post: change(
        'restartNode',
        'A new thread for a node that is down, refilled from the replicas',
        'Restarted',
        ['NOT_FOUND', 'CONFLICT', 'NODE_UNAVAILABLE'],
        [id],
      ),
      'x-other-methods': METHOD_NOT_ALLOWED,
    },
    '/cluster/anti-entropy': {
      post: change(
        'antiEntropy',
        "Compares every partition's replicas now and repairs those that differ",
        'AntiEntropyRun',
        NODES,
      ),
      'x-other-methods': METHOD_NOT_ALLOWED,
    },
    '/cluster/faults': {
      ...readable({
        operationId: 'listFaults',
        summary: 'The faults in force',
        tags: ['faults'],
        responses: answers({
          '200': {
            description: 'The faults.',
            content: json({
              type: 'object',
              required: ['faults'],
              additionalProperties: false,
              properties: { faults: { type: 'array', items: ref('Fault') } },
            }),
          },
        }),
      }),
      post: {
        operationId: 'addFault',
        summary: 'Breaks the simulated network, or pauses nodes',
        tags: ['faults'],
        requestBody: jsonBody('The fault.', ref('FaultSpec')),
        responses: answers({ '201': { description: 'In force.', content: json(ref('Fault')) } }, [
          ...WHOLE_BODY,
          'INVALID_JSON',
        ]),
      },
      delete: {
        operationId: 'healFaults',
        summary: 'Heals every network fault (pauses end by themselves)',
        tags: ['faults'],
        responses: answers({ '200': { description: 'How many were healed.', content: json(ref('Healed')) } }),
      },
      'x-other-methods': METHOD_NOT_ALLOWED,
    },
    '/cluster/faults/{id}': {
      delete: {
        operationId: 'healFault',
        summary: 'Heals one network fault',
        tags: ['faults'],
        parameters: [
          {
            name: 'id',
            in: 'path',
            required: true,
            description: 'A fault in force; any other is 404 NOT_FOUND.',
            schema: { type: 'integer', minimum: 1, maximum: 999999999 },
          },
        ],
        responses: answers({ '200': { description: 'Healed.', content: json(ref('Healed')) } }, [
          'NOT_FOUND',
        ]),
      },
      'x-other-methods': METHOD_NOT_ALLOWED,
    },
    '/health': readable({
      operationId: 'health',
      summary: 'Whether every node answers',
      tags: ['operations'],
      responses: answers(
        {
          '200': {
            description: 'Every node is up and answered.',
            content: json({
              type: 'object',
              required: ['status', 'nodes'],
              additionalProperties: false,
              properties: { status: { const: 'ok' }, nodes: { type: 'array', items: ref('NodeHealth') } },
            }),
          },
        },
        ['NODE_UNAVAILABLE'],
      ),
    }),
  };
}

/** What is not data: metrics, the dashboard and its feed, this document. */
function operationsPaths(): Record<string, PathItem> {
  return {
    '/metrics': readable({
      operationId: 'metrics',
      summary: 'Prometheus text (format 0.0.4), names prefixed thunderdb_',
      tags: ['operations'],
      responses: answers({
        '200': {
          description: 'The metrics.',
          content: { 'text/plain; version=0.0.4': { schema: { type: 'string' } } },
        },
      }),
    }),
    '/': readable({
      operationId: 'dashboard',
      summary: 'The dashboard, one self-contained page fed by /live',
      tags: ['operations'],
      responses: answers({
        '200': {
          description: 'The page.',
          headers: {
            'Content-Security-Policy': {
              description: 'Its own inline script and style, this origin, nothing else.',
              required: true,
              schema: { type: 'string' },
            },
          },
          content: { 'text/html': { schema: { type: 'string' } } },
        },
      }),
    }),
    '/live': {
      get: {
        operationId: 'live',
        summary: "The dashboard's WebSocket: the cluster's state once a second, and at once on a change",
        description:
          'Only a WebSocket upgrade is answered here: a GET without one, and any other method, is 404 NOT_FOUND. The client sends nothing; each message is one JSON LiveState.',
        tags: ['operations'],
        parameters: [
          {
            name: 'Upgrade',
            in: 'header',
            required: true,
            description: 'websocket',
            schema: { const: 'websocket' },
          },
          {
            name: 'Connection',
            in: 'header',
            required: true,
            description: 'Upgrade',
            schema: { type: 'string' },
          },
          {
            name: 'Sec-WebSocket-Key',
            in: 'header',
            required: true,
            description: 'RFC 6455.',
            schema: { type: 'string' },
          },
          {
            name: 'Sec-WebSocket-Version',
            in: 'header',
            required: true,
            description: '13',
            schema: { const: '13' },
          },
        ],
        responses: answers(
          {
            '101': {
              description: 'Upgraded. Messages follow, each a LiveState.',
              headers: {
                Upgrade: {
                  description: 'websocket',
                  required: true,
                  schema: { type: 'string', pattern: '^[Ww]eb[Ss]ocket$' },
                },
                'Sec-WebSocket-Accept': {
                  description: 'RFC 6455.',
                  required: true,
                  schema: { type: 'string' },
                },
              },
              'x-websocket-message': ref('LiveState'),
            },
          },
          ['NOT_FOUND'],
        ),
      },
      'x-other-methods': NO_SUCH_ROUTE,
    },
    '/openapi.json': readable({
      operationId: 'openapi',
      summary: 'This document',
      tags: ['operations'],
      responses: answers({
        '200': {
          description: 'OpenAPI 3.1.',
          content: json({
            type: 'object',
            required: ['openapi', 'info', 'paths'],
            properties: { openapi: { const: '3.1.0' }, info: { type: 'object' }, paths: { type: 'object' } },
          }),
        },
      }),
    }),
  };
}

/** An error answer shared by many paths: one code; `required` members of `error` besides code and message. */
function sharedError(
  code: ErrorCode,
  description: string,
  headers?: Record<string, Header>,
  required: string[] = [],
): Response {
  const schema =
    required.length === 0
      ? ref('Error')
      : { ...ref('Error'), type: 'object', properties: { error: { type: 'object', required } } };
  return {
    ...errors([code])[String(statusOf(code))]!,
    description,
    ...(headers && { headers }),
    content: json(schema),
  };
}

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
      { name: 'legacy', description: "The original ThunderDB's routes, with its answer shapes." },
      { name: 'cluster', description: 'Nodes, the ring, membership changes.' },
      { name: 'faults', description: 'Faults injected into the simulated network.' },
      { name: 'operations', description: 'Health, metrics, the dashboard, this document.' },
    ],
    paths: {
      '/kv/{key}': keyOperations(settings, '', [keyParameter(settings.limits)]),
      ...collectionPaths(settings),
      ...legacyPaths(settings),
      ...clusterPaths(settings),
      ...operationsPaths(),
    },
    components: {
      schemas: componentSchemas(settings.limits),
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
