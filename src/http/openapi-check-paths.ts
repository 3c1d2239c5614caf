/**
 * The OpenAPI paths of the checks run against the cluster (design.md §14, src/http/check-routes.ts),
 * and their schemas.
 */
import type { PathItem } from './openapi-parts.js';
import { answers, json, jsonBody, METHOD_NOT_ALLOWED, pageResponse, readable } from './openapi-parts.js';
import { ref, type Schema } from './openapi-schemas.js';

const idParameter = {
  name: 'id',
  in: 'path' as const,
  required: true,
  description: 'A check kept by the server (the newest 10); any other is 404 CHECK_NOT_FOUND.',
  schema: { type: 'string', pattern: '^[A-Za-z0-9-]{1,80}$' },
};

/** `/check` and its children. */
export function checkPaths(): Record<string, PathItem> {
  return {
    '/check': {
      ...readable({
        operationId: 'listChecks',
        summary: 'The checks kept, oldest first',
        tags: ['check'],
        responses: answers({
          '200': {
            description: 'The checks.',
            content: json({
              type: 'object',
              required: ['checks'],
              additionalProperties: false,
              properties: { checks: { type: 'array', items: ref('CheckSummary') } },
            }),
          },
        }),
      }),
      post: {
        operationId: 'startCheck',
        summary: 'Starts a check: a seeded workload under seeded faults, judged as it runs',
        description:
          '`"mode": "threads"` (the default) checks this cluster through its own URL, as `thunderdb check --url` does, from a thread of the server; `"deterministic"` checks a simulated cluster of `nodes` nodes in that thread, replayed exactly by its seed. One check at a time: 409 CHECK_RUNNING while one runs (started here or reported by the CLI). Its files go to `--checks-dir`/{id}/.',
        tags: ['check'],
        requestBody: jsonBody(
          "thunderdb check's options, camel-cased; any left out take the command's defaults.",
          ref('CheckRequest'),
        ),
        responses: answers({ '201': { description: 'Started.', content: json(ref('CheckSummary')) } }, [
          'BAD_REQUEST',
          'INVALID_JSON',
          'BODY_TOO_LARGE',
          'CHECK_RUNNING',
        ]),
      },
      'x-other-methods': METHOD_NOT_ALLOWED,
    },
    '/check/{id}': {
      ...readable({
        operationId: 'getCheck',
        summary:
          'How a check goes: counts, outcomes per second, faults, each key’s verdict so far; the verdict once judged',
        tags: ['check'],
        parameters: [idParameter],
        responses: answers({ '200': { description: 'The check.', content: json(ref('CheckSummary')) } }, [
          'CHECK_NOT_FOUND',
        ]),
      }),
      put: {
        operationId: 'reportCheck',
        summary: 'How `thunderdb check --url` reports a check it runs, so the dashboard shows it',
        description:
          'The first report registers the check (409 CHECK_RUNNING while another runs). The answer says whether someone asked it to stop. A reported check that says nothing for 15 s fails.',
        tags: ['check'],
        parameters: [idParameter],
        requestBody: jsonBody('The check\'s summary, with "source": "cli".', ref('CheckSummary')),
        responses: answers(
          {
            '200': {
              description: 'Taken.',
              content: json({
                type: 'object',
                required: ['stop'],
                additionalProperties: false,
                properties: {
                  stop: { type: 'boolean', description: 'DELETE /check/{id} asked it to stop.' },
                },
              }),
            },
          },
          ['BAD_REQUEST', 'INVALID_JSON', 'BODY_TOO_LARGE', 'CHECK_RUNNING'],
        ),
      },
      delete: {
        operationId: 'stopCheck',
        summary: 'Stops a check: its workload ends, its faults heal, and what ran is judged',
        tags: ['check'],
        parameters: [idParameter],
        responses: answers(
          {
            '202': {
              description: 'Asked to stop (a check already over stays as it was).',
              content: json(ref('CheckSummary')),
            },
          },
          ['CHECK_NOT_FOUND'],
        ),
      },
      'x-other-methods': METHOD_NOT_ALLOWED,
    },
    '/check/{id}/report': {
      ...readable({
        operationId: 'checkReport',
        summary: "A check's report.html, once it is judged",
        tags: ['check'],
        parameters: [idParameter],
        responses: answers({ '200': pageResponse('The report.') }, ['CHECK_NOT_FOUND', 'NOT_FOUND']),
      }),
      'x-other-methods': METHOD_NOT_ALLOWED,
    },
  };
}

/** The schemas the paths above use. */
export function checkSchemas(): Record<string, Schema> {
  const count = { type: 'integer', minimum: 0 };
  const positive = { type: 'integer', minimum: 1 };
  return {
    CheckRequest: {
      type: 'object',
      additionalProperties: false,
      properties: {
        mode: { enum: ['threads', 'deterministic'] },
        nodes: { ...positive, description: 'deterministic: nodes of the simulated cluster (default 3).' },
        replicas: { ...positive, description: 'deterministic: copies of each key.' },
        seed: { type: 'integer', minimum: 0, maximum: 0xffffffff, description: 'Default: a fresh one.' },
        r: positive,
        w: positive,
        repair: { enum: ['sync', 'async'] },
        faults: {
          anyOf: [
            { type: 'string', description: 'Comma-separated kinds, or none.' },
            { type: 'array', items: { enum: ['crash', 'partition', 'latency', 'loss', 'pause'] } },
          ],
        },
        clients: positive,
        keys: positive,
        ops: positive,
        timeLimit: { type: 'number', exclusiveMinimum: 0, maximum: 3600 },
        thinkMs: count,
        valueBytes: count,
        timeoutMs: positive,
        convergeMs: count,
      },
    },
    CheckSummary: {
      type: 'object',
      required: [
        'id',
        'source',
        'parameters',
        'state',
        'startedAt',
        'elapsedMs',
        'counts',
        'perSecond',
        'faults',
        'keys',
        'witnesses',
        'verdict',
        'findings',
        'reproduce',
        'report',
      ],
      additionalProperties: false,
      properties: {
        id: { type: 'string' },
        source: { enum: ['dashboard', 'cli'] },
        parameters: {
          type: 'object',
          description: "Every option of the check, as results.json's parameters.",
        },
        state: {
          enum: ['starting', 'running', 'healing', 'final reads', 'judging', 'done', 'stopped', 'failed'],
        },
        startedAt: { type: 'number', description: 'Wall-clock ms of the run’s start.' },
        elapsedMs: { type: 'number', minimum: 0 },
        counts: {
          type: 'object',
          required: ['invoked', 'ok', 'fail', 'info'],
          additionalProperties: false,
          properties: { invoked: count, ok: count, fail: count, info: count },
        },
        perSecond: {
          type: 'array',
          items: { type: 'array', prefixItems: [count, count, count, count], items: false },
          description: '[second of the run, ok, fail, info] outcomes in it.',
        },
        faults: { type: 'array', items: { type: 'object' }, description: 'Fault windows, in ms of the run.' },
        keys: {
          type: 'array',
          items: {
            type: 'object',
            required: ['key', 'ops', 'checked', 'verdict'],
            additionalProperties: false,
            properties: {
              key: { type: 'string' },
              ops: count,
              checked: { ...count, description: 'Operations the verdict covers (its last quiescent point).' },
              verdict: { enum: ['pending', 'valid', 'invalid', 'unknown'] },
            },
          },
        },
        witnesses: {
          type: 'object',
          additionalProperties: { type: 'object' },
          description:
            'For a key found not linearizable: its smallest failing sub-history, the write that made the read stale, the faults then.',
        },
        verdict: { enum: [true, false, 'unknown', null] },
        findings: { type: 'array', items: { type: 'string' } },
        reproduce: { type: 'string' },
        report: {
          type: ['string', 'null'],
          description: 'This server’s path to report.html, or for a CLI check the file on its machine.',
        },
        error: { type: 'string' },
      },
    },
  };
}
