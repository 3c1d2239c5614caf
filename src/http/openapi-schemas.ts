/**
 * The schemas of the OpenAPI document (openapi.ts): bodies and answers of the HTTP API, as
 * JSON Schema 2020-12. Shapes may grow, so most objects allow more members than they list;
 * what they require is what clients rely on.
 */
import { catalogue } from '../errors.js';
import type { Limits } from '../limits.js';

/** A JSON Schema 2020-12 (the dialect of OpenAPI 3.1). */
export type Schema = { [keyword: string]: unknown };

/** A schema that is a reference to one of the components. */
export const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });

/** The document's schemas, for bodies and answers. */
export function componentSchemas(limits: Limits): Record<string, Schema> {
  const count = { type: 'integer', minimum: 0 };
  const nodeState = { enum: ['starting', 'up', 'joining', 'leaving', 'down', 'stopped'] };
  const moved = {
    type: 'object',
    required: ['partitions', 'keys', 'bytes'],
    properties: { partitions: count, keys: count, bytes: count },
  };
  const nodes = { type: 'array', items: { type: 'integer', minimum: 0, maximum: 65535 } };
  const p99 = { anyOf: [{ type: 'number', minimum: 0 }, { const: 'over' }, { type: 'null' }] };
  return {
    ErrorCode: {
      description: 'Every code of the error catalogue (README, "Errors").',
      enum: Object.keys(catalogue),
    },
    Error: {
      type: 'object',
      required: ['error'],
      additionalProperties: false,
      properties: {
        error: {
          type: 'object',
          required: ['code', 'message'],
          properties: {
            code: ref('ErrorCode'),
            message: { type: 'string' },
            written: { ...count, description: 'POST /kv: pairs stored before the error.' },
            allow: { type: 'string', description: '405: the methods the route answers.' },
            etag: { type: 'string', description: "412: the key's current ETag, when it has a value." },
            applied: {
              type: 'boolean',
              description: 'QUORUM_NOT_MET: false when the write certainly did not happen.',
            },
            answered: { ...count, description: 'QUORUM_NOT_MET: replicas that answered.' },
            needed: { ...count, description: 'QUORUM_NOT_MET: the R or W asked for.' },
            nodes: { type: 'array', items: ref('NodeHealth'), description: '/health: every node.' },
          },
        },
      },
    },
    Key: {
      type: 'string',
      minLength: 1,
      description: `A key: 1 to ${limits.maxKeyBytes} bytes of UTF-8.`,
    },
    BatchObject: {
      type: 'object',
      description: 'A JSON batch: each member is a pair; values are text, stored as their UTF-8 bytes.',
      additionalProperties: { type: 'string' },
    },
    BatchLine: {
      type: 'array',
      description:
        'One NDJSON line: key, value (text, or base64 with ?encoding=base64), and optionally when the key expires (Unix ms).',
      prefixItems: [ref('Key'), { type: 'string' }, { type: 'integer', minimum: 0 }],
      minItems: 2,
      maxItems: 3,
    },
    WatchEvent: {
      type: 'object',
      description:
        'One change of GET /watch (a put, a delete, an expiry) or a progress event (everything up to `version` sent).',
      required: ['type', 'version'],
      properties: {
        type: { enum: ['put', 'delete', 'expire', 'progress'] },
        key: ref('Key'),
        version: { type: 'integer', minimum: 0 },
        size: { type: 'integer', minimum: 0, description: "A put's value, in bytes." },
        value: {
          type: 'string',
          description: "A put's value when it is at most 1024 bytes: UTF-8 text, or base64 (`encoding`).",
        },
        encoding: { enum: ['base64'] },
        expiresAt: { type: 'integer', minimum: 0, description: 'When the value expires, Unix ms.' },
      },
    },
    ExportLine: {
      type: 'array',
      description:
        "One line of GET /export: key, the value's bytes in base64, and when it expires (Unix ms) if it does.",
      prefixItems: [
        ref('Key'),
        { type: 'string', contentEncoding: 'base64' },
        { type: 'integer', minimum: 0 },
      ],
      minItems: 2,
      maxItems: 3,
    },
    BatchResult: {
      type: 'object',
      required: ['written'],
      additionalProperties: false,
      properties: {
        written: count,
        expired: {
          type: 'integer',
          minimum: 1,
          description: 'Pairs skipped because they had expired already.',
        },
        rejected: { ...count, description: 'With ?invalid=skip: pairs skipped.' },
        rejections: {
          type: 'array',
          maxItems: 10,
          description: 'With ?invalid=skip: the first pairs skipped, and why.',
          items: {
            type: 'object',
            required: ['line', 'code', 'message'],
            additionalProperties: false,
            properties: {
              line: { type: 'integer', minimum: 1 },
              code: ref('ErrorCode'),
              message: { type: 'string' },
            },
          },
        },
      },
    },
    MgetRequest: {
      type: 'object',
      required: ['keys'],
      additionalProperties: false,
      properties: {
        keys: {
          type: 'array',
          items: ref('Key'),
          description: `At most ${limits.maxKeysPerRequest} distinct keys.`,
        },
      },
    },
    MgetResult: {
      type: 'object',
      required: ['values'],
      additionalProperties: false,
      properties: { values: { type: 'object', additionalProperties: { type: ['string', 'null'] } } },
    },
    KeyPage: {
      type: 'object',
      required: ['keys', 'next'],
      additionalProperties: false,
      properties: {
        keys: { type: 'array', items: ref('Key') },
        next: { type: ['string', 'null'], description: 'The `after` of the next page; null on the last.' },
      },
    },
    Node: {
      type: 'object',
      required: [
        'id',
        'state',
        'hints',
        'hintsDropped',
        'partitions',
        'partitionsUnderRepair',
        'backlog',
        'backlogPeak',
      ],
      properties: {
        id: count,
        state: nodeState,
        hints: count,
        hintsDropped: count,
        partitions: count,
        partitionsUnderRepair: count,
        backlog: {
          ...count,
          description:
            'Operations sent to the node and not yet answered (a replica behind its storage shows here); a bulk write holds its intake while any node passes 16,384.',
        },
        backlogPeak: { ...count, description: 'The most operations the node has had unanswered at once.' },
        keys: { ...count, description: 'Keys holding a value, expired values too until purged.' },
        expiring: { ...count, description: 'Of those, values that expire.' },
        tombstones: count,
        bytes: count,
        storeBytes: count,
        ops: count,
        heapUsed: count,
        error: { type: 'string', description: 'Set when an up node did not answer for its statistics.' },
      },
    },
    NodeHealth: {
      type: 'object',
      required: ['id', 'state'],
      additionalProperties: false,
      properties: { id: count, state: nodeState, error: { type: 'string' } },
    },
    Transfer: {
      type: 'object',
      required: ['node', 'kind', 'partitions', 'keys', 'bytes', 'sourcesDone', 'sources'],
      properties: {
        node: count,
        kind: { enum: ['refill', 'join', 'leave'] },
        partitions: count,
        keys: count,
        bytes: count,
        sourcesDone: count,
        sources: count,
      },
    },
    AntiEntropy: {
      type: 'object',
      required: ['runs', 'partitionsRepaired', 'recordsCopied', 'running'],
      properties: {
        runs: count,
        partitionsRepaired: count,
        recordsCopied: count,
        running: { type: 'boolean' },
      },
    },
    Cluster: {
      type: 'object',
      required: ['nodes', 'ring', 'coordinator', 'seed', 'faults', 'limits'],
      properties: {
        nodes: { type: 'array', items: ref('Node') },
        ring: {
          type: 'object',
          required: ['hash', 'seed', 'partitions', 'replicas', 'r', 'w'],
          additionalProperties: false,
          properties: {
            hash: { const: 'murmur3-x86-32' },
            seed: count,
            partitions: { type: 'integer', minimum: 1 },
            replicas: { type: 'integer', minimum: 1 },
            r: { type: 'integer', minimum: 1 },
            w: { type: 'integer', minimum: 1 },
          },
        },
        coordinator: {
          type: 'object',
          required: [
            'tombstoneGraceMs',
            'transfers',
            'antiEntropy',
            'readRepairs',
            'readFetches',
            'valuesLostFound',
            'tombstonesAwaitingPurge',
            'tombstonesPurged',
            'expiredAwaitingPurge',
            'expiredPurged',
            'expiredCleared',
          ],
          properties: {
            tombstoneGraceMs: count,
            transfers: { type: 'array', items: ref('Transfer') },
            antiEntropy: ref('AntiEntropy'),
            readRepairs: count,
            readFetches: count,
            valuesLostFound: count,
            tombstonesAwaitingPurge: count,
            tombstonesPurged: count,
            expiredAwaitingPurge: count,
            expiredPurged: count,
            expiredCleared: count,
          },
        },
        seed: count,
        faults: { type: 'array', items: ref('Fault') },
        limits: {
          type: 'object',
          required: Object.keys(limits),
          properties: Object.fromEntries(
            Object.keys(limits).map((name) => [name, { type: 'integer', minimum: 1 }]),
          ),
        },
      },
    },
    Location: {
      type: 'object',
      required: ['key', 'hash', 'partition', 'node', 'replicas', 'states', 'versions'],
      additionalProperties: false,
      properties: {
        key: ref('Key'),
        hash: { type: 'integer', minimum: 0, maximum: 4294967295 },
        partition: count,
        node: { ...count, description: 'The first replica.' },
        replicas: { ...nodes, description: 'The preference list.' },
        states: { type: 'array', items: nodeState },
        versions: {
          type: 'array',
          items: { type: ['integer', 'null'] },
          description: "Each replica's version: 0 absent, negative a tombstone, null no answer.",
        },
      },
    },
    MembershipChange: {
      type: 'object',
      required: ['id', 'moved', 'ms'],
      properties: { id: count, moved, ms: { ...count, description: 'Whole milliseconds the change took.' } },
    },
    Plan: {
      type: 'object',
      required: ['moved'],
      oneOf: [{ required: ['add'] }, { required: ['remove'] }],
      properties: { add: { const: 1 }, remove: count, moved },
    },
    Crashed: {
      type: 'object',
      required: ['id', 'was', 'state'],
      additionalProperties: false,
      properties: { id: count, was: nodeState, state: nodeState },
    },
    Restarted: {
      type: 'object',
      required: ['id', 'state', 'refilled'],
      additionalProperties: false,
      properties: {
        id: count,
        state: nodeState,
        refilled: {
          type: 'object',
          required: ['node', 'partitions', 'hints', 'keys', 'bytes', 'failed', 'ms'],
          properties: {
            node: count,
            partitions: { ...count, description: 'Partitions the node holds a replica of.' },
            hints: { ...count, description: 'Hints replayed before the copy.' },
            keys: {
              ...count,
              description:
                'Records (tombstones too) the node gained from the copy: those newer than what it held. Each replica sends every key, so this is not the records sent.',
            },
            bytes: { ...count, description: 'Key and value bytes of those records.' },
            failed: { ...count, description: 'Copied writes that failed and were copied again.' },
            ms: { ...count, description: 'Whole milliseconds the restart took.' },
          },
        },
      },
    },
    AntiEntropyRun: {
      type: 'object',
      required: ['partitionsRepaired', 'antiEntropy'],
      additionalProperties: false,
      properties: { partitionsRepaired: count, antiEntropy: ref('AntiEntropy') },
    },
    FaultSpec: {
      description: 'A fault of the simulated network, or a pause of nodes. Without `nodes`, every link.',
      oneOf: [
        {
          type: 'object',
          required: ['type'],
          additionalProperties: false,
          properties: { type: { const: 'partition' }, nodes, direction: { enum: ['to', 'from', 'both'] } },
        },
        {
          type: 'object',
          required: ['type', 'ms'],
          additionalProperties: false,
          properties: {
            type: { const: 'latency' },
            nodes,
            ms: { type: 'number', minimum: 0 },
            jitterMs: { type: 'number', minimum: 0 },
            distribution: { enum: ['uniform', 'exponential'] },
          },
        },
        {
          type: 'object',
          required: ['type', 'probability'],
          additionalProperties: false,
          properties: {
            type: { enum: ['loss', 'duplicate'] },
            nodes,
            probability: { type: 'number', minimum: 0, maximum: 1 },
          },
        },
        {
          type: 'object',
          required: ['type', 'nodes', 'ms'],
          additionalProperties: false,
          properties: {
            type: { const: 'pause' },
            nodes,
            ms: { type: 'integer', minimum: 1, maximum: 60000 },
          },
        },
      ],
    },
    Fault: {
      type: 'object',
      required: ['id', 'type'],
      properties: {
        id: { type: 'integer', minimum: 1 },
        type: { enum: ['partition', 'latency', 'loss', 'duplicate', 'pause'] },
        nodes,
      },
    },
    Healed: {
      type: 'object',
      required: ['healed'],
      additionalProperties: false,
      properties: { healed: count },
    },
    LiveState: {
      type: 'object',
      required: [
        'time',
        'nodes',
        'ring',
        'transfers',
        'faults',
        'nodeP99Seconds',
        'answersPerSecond',
        'p99Seconds',
        'check',
      ],
      additionalProperties: false,
      properties: {
        time: { ...count, description: 'Wall-clock ms.' },
        nodes: { type: 'array', items: ref('Node') },
        ring: {
          type: 'object',
          required: ['partitions', 'replicas', 'members', 'preference', 'moving'],
          additionalProperties: false,
          properties: {
            partitions: count,
            replicas: count,
            members: nodes,
            preference: { type: 'array', items: nodes, description: "Each partition's preference list." },
            moving: {
              type: 'array',
              items: count,
              description: 'Partitions being copied by a join or a leave.',
            },
          },
        },
        transfers: { type: 'array', items: ref('Transfer') },
        faults: { type: 'array', items: ref('Fault') },
        nodeP99Seconds: { type: 'object', additionalProperties: p99 },
        answersPerSecond: count,
        p99Seconds: p99,
        check: {
          anyOf: [ref('CheckSummary'), { type: 'null' }],
          description: 'The check under way against the cluster, else the newest one over; null before any.',
        },
      },
    },
  };
}
