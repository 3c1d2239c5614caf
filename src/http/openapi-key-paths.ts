/** The OpenAPI paths of keys and values: one key, collections, batches, export, and the original ThunderDB's routes. */
import { ref } from './openapi-schemas.js';
import {
  MAX_TTL_SECONDS,
  type Parameter,
  type Operation,
  type PathItem,
  type ApiSettings,
  KEY,
  NODES,
  WHOLE_BODY,
  ETAG,
  TTL_PATTERN,
  json,
  answers,
  headOf,
  readable,
  METHOD_NOT_ALLOWED,
  queryInteger,
  keyParameter,
  jsonBody,
} from './openapi-parts.js';

/** GET, HEAD, PUT and DELETE of one key; `path` is the key's path parameter, or none for `/kv/_mget`. */
export function keyOperations(settings: ApiSettings, suffix: string, path: Parameter[]): PathItem {
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
  const version = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } as const;
  const index: Parameter = {
    name: 'index',
    in: 'query',
    description:
      "A blocking read (Consul-style): answer once the key's version is past this one (the X-ThunderDB-Index of the answer before), or when `wait` is over.",
    schema: version,
  };
  const wait: Parameter = {
    name: 'wait',
    in: 'query',
    description:
      'With `index`: the longest wait, seconds (up to 3 decimals), at most 600; default 300. A stagger of up to a sixteenth is added.',
    schema: { type: 'string', pattern: TTL_PATTERN },
  };
  const indexHeader = {
    description:
      "With `index`: what to wait past next (the key's version; for a key that never had one, the position of the change feed).",
    schema: { type: 'string' },
  };
  const get: Operation = {
    operationId: `getValue${suffix}`,
    summary: "A key's value, as the bytes stored",
    tags: ['kv'],
    parameters: [...path, r, repair, index, wait, ifNoneMatchRead],
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
            'X-ThunderDB-Index': indexHeader,
          },
          content: { 'application/octet-stream': {} },
        },
        '304': { description: 'The value has a version If-None-Match names.', headers: { ETag: ETAG } },
      },
      [...KEY, ...NODES, 'KEY_NOT_FOUND', 'VALUE_LOST'],
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
        [...KEY, ...NODES, 'VALUE_TOO_LARGE', 'BODY_BUDGET_EXCEEDED', 'PRECONDITION_FAILED', 'OUT_OF_MEMORY'],
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

/** The native key-value routes beyond single keys: listing, batches, multi-get, export. */
export function collectionPaths(settings: ApiSettings): Record<string, PathItem> {
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
    '/watch': readable({
      operationId: 'watchChanges',
      summary: 'The acknowledged changes of a key or a prefix, streamed as they happen, in version order',
      description:
        'Server-Sent Events by default (`id:` the version to resume from), NDJSON with `Accept: application/x-ndjson`. `since` (or `Last-Event-ID`) resumes exactly after a version, with no gap and no duplicate; without it the stream starts now. A progress event says how far the stream has caught up. A watcher that falls more than 1 MiB behind is cut, and resumes from its last version.',
      tags: ['watch'],
      parameters: [
        {
          name: 'prefix',
          in: 'query',
          description: 'Watch the keys that start with it (default every key).',
          schema: { type: 'string' },
        },
        {
          name: 'key',
          in: 'query',
          description: 'Watch one key (not with prefix).',
          schema: { type: 'string' },
        },
        {
          name: 'since',
          in: 'query',
          description: 'Resume after this version: every change after it, then the new ones.',
          schema: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
        },
        {
          name: 'progress',
          in: 'query',
          description: 'A progress event after this many ms with nothing else sent (100 to 60000).',
          schema: { type: 'integer', minimum: 100, maximum: 60_000, default: 5000 },
        },
        {
          name: 'Last-Event-ID',
          in: 'header',
          description:
            'What an EventSource resends on reconnecting: resume after it (the later of it and since).',
          schema: { type: 'string' },
        },
      ],
      responses: answers(
        {
          '200': {
            description: 'The stream: one event per change, and progress events.',
            content: {
              'text/event-stream': { schema: { type: 'string' }, 'x-event-schema': ref('WatchEvent') },
              'application/x-ndjson': { schema: { type: 'string' }, 'x-line-schema': ref('WatchEvent') },
            },
          },
        },
        ['HISTORY_COMPACTED'],
      ),
    }),
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
export function legacyPaths(settings: ApiSettings): Record<string, PathItem> {
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
