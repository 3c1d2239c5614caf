/**
 * The OpenAPI paths of the cluster (nodes, ring, membership, faults) and of operations
 * (health, metrics, the dashboard, the document itself).
 */
import { ref } from './openapi-schemas.js';
import { TRACE_NAME } from './replay-route.js';
import {
  type ErrorCode,
  type Parameter,
  type Operation,
  type PathItem,
  type ApiSettings,
  KEY,
  NODES,
  WHOLE_BODY,
  json,
  answers,
  readable,
  METHOD_NOT_ALLOWED,
  NO_SUCH_ROUTE,
  queryInteger,
  keyParameter,
  nodeParameter,
  jsonBody,
  pageResponse,
} from './openapi-parts.js';

/** Cluster state, membership and faults. */
export function clusterPaths(settings: ApiSettings): Record<string, PathItem> {
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
export function operationsPaths(): Record<string, PathItem> {
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
      responses: answers({ '200': pageResponse('The page.') }),
    }),
    '/replay': readable({
      operationId: 'replay',
      summary: "The replay page: steps through a deterministic check's trace, event by event",
      description:
        'One self-contained page. It opens a trace.jsonl chosen from disk (file chooser or drag and drop) or, given file=NAME, fetches /replay/files/NAME/trace.jsonl.',
      tags: ['operations'],
      parameters: [
        {
          name: 'file',
          in: 'query',
          description: "A check folder in the server's --checks-dir whose trace the page opens.",
          schema: { type: 'string', pattern: TRACE_NAME.source },
        },
      ],
      responses: answers({ '200': pageResponse('The page.') }),
    }),
    '/replay/files/{name}/trace.jsonl': readable({
      operationId: 'replayTrace',
      summary: "A deterministic check's trace, from the server's --checks-dir",
      description:
        'The file --checks-dir/NAME/trace.jsonl as `thunderdb check --mode deterministic --out DIR/NAME` wrote it: a header line, then one event a line. A name that does not match the pattern, or names no trace, is 404 TRACE_NOT_FOUND.',
      tags: ['operations'],
      parameters: [
        {
          name: 'name',
          in: 'path',
          required: true,
          description: 'The check folder.',
          schema: { type: 'string', pattern: TRACE_NAME.source },
        },
      ],
      responses: answers(
        {
          '200': {
            description: 'The trace.',
            content: { 'application/x-ndjson': { schema: { type: 'string' } } },
          },
        },
        ['TRACE_NOT_FOUND'],
      ),
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
