/**
 * The parts the OpenAPI document (openapi.ts) is built from: its types, error answers by
 * catalogue code, and the parameters many paths share.
 */
import { catalogue } from '../errors.js';
import type { Limits } from '../limits.js';
import { ref, type Schema } from './openapi-schemas.js';

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
  /** Server-Sent Events: the schema of each event's `data` (OpenAPI 3.1 has no keyword for it). */
  'x-event-schema'?: Schema;
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
export const GUARD: ErrorCode[] = [
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
export const KEY: ErrorCode[] = ['INVALID_KEY', 'KEY_TOO_LARGE'];
/** Work sent to the nodes. */
export const NODES: ErrorCode[] = ['NODE_UNAVAILABLE', 'QUORUM_NOT_MET', 'NODE_TIMEOUT'];
/** A body read whole (body.ts). */
export const WHOLE_BODY: ErrorCode[] = ['BODY_TOO_LARGE', 'BODY_BUDGET_EXCEEDED'];

export const ETAG: Header = {
  description: "The value's version, a strong entity tag.",
  required: true,
  schema: { type: 'string', pattern: '^"[1-9][0-9]{0,15}"$' },
};
export const TTL_PATTERN = '^[0-9]+(\\.[0-9]{1,3})?$';
/** Ten years, the longest TTL. */
export const MAX_TTL_SECONDS = 315_360_000;

export const json = (schema: Schema): Record<string, MediaType> => ({ 'application/json': { schema } });

/** A page the server serves (the dashboard, the replay, a check's report): HTML under the pages' CSP. */
export const pageResponse = (description: string): Response => ({
  description,
  headers: {
    'Content-Security-Policy': {
      description: 'Its own inline script and style, this origin, nothing else.',
      required: true,
      schema: { type: 'string' },
    },
  },
  content: { 'text/html': { schema: { type: 'string' } } },
});

/**
 * The error answers for `codes`, one response per status, each listing its codes in
 * `x-error-codes` (the test checks every error answer's code is listed under its status).
 */
export function errors(codes: ErrorCode[]): Record<string, Response> {
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
export function answers(own: Record<string, Response>, codes: ErrorCode[] = []): Record<string, Response> {
  const failures = errors([...GUARD, ...codes]);
  const both = Object.keys(own).filter((status) => status in failures);
  // One response per status: a success and an error under one status would hide each other.
  if (both.length > 0) throw new Error(`status ${both.join(', ')} is both an answer and an error`);
  return { ...own, ...failures };
}

/** HEAD on a GET route: GET's status and headers, no body (router.ts registers it for every GET). */
export function headOf(get: Operation): Operation {
  const { operationId, summary, ...rest } = get;
  return {
    ...rest,
    operationId: `head${operationId[0]!.toUpperCase()}${operationId.slice(1)}`,
    summary: `${summary} (headers only)`,
    description: "GET's status and headers (Content-Type, Content-Length where GET has it), and no body.",
  };
}

/** A GET and its HEAD, on a path item. */
export function readable(get: Operation): PathItem {
  return { get, head: headOf(get), 'x-other-methods': METHOD_NOT_ALLOWED };
}

export const METHOD_NOT_ALLOWED: Ref = { $ref: '#/components/responses/MethodNotAllowed' };
export const NO_SUCH_ROUTE: Ref = { $ref: '#/components/responses/NoSuchRoute' };

export function queryInteger(name: string, description: string, schema: Schema): Parameter {
  return {
    name,
    in: 'query',
    description: `${description} Plain decimal digits: no sign, no leading zero, no exponent.`,
    schema: { type: 'integer', ...schema },
  };
}

/** `{key}` in a path: percent-decoded, so `/kv/a%2Fb` is the key `a/b`. */
export function keyParameter(limits: Limits): Parameter {
  return {
    name: 'key',
    in: 'path',
    required: true,
    description: `The key, percent-encoded UTF-8 (\`a%2Fb\` is \`a/b\`): 1 to ${limits.maxKeyBytes} bytes once decoded. A raw U+FFFD or bytes that are not UTF-8 are 400 INVALID_KEY.`,
    schema: { type: 'string', minLength: 1 },
  };
}

export function nodeParameter(): Parameter {
  return {
    name: 'id',
    in: 'path',
    required: true,
    description: 'A node of the ring; any other is 404 NOT_FOUND.',
    schema: { type: 'integer', minimum: 0, maximum: 65535 },
  };
}

export const jsonBody = (description: string, schema: Schema): RequestBody => ({
  description: `${description} The Content-Type is not read: the body is always JSON.`,
  required: true,
  content: json(schema),
});

/** An error answer shared by many paths: one code; `required` members of `error` besides code and message. */
export function sharedError(
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
