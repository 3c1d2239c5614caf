import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { STATUS_CODES } from 'node:http';
import { describe, test } from 'node:test';
import { statusLine } from '../src/http/reply.js';
import {
  BadRequestError,
  BodyBudgetExceededError,
  ConflictError,
  ValueLostError,
  OutOfMemoryError,
  TraceNotFoundError,
  CheckRunningError,
  CheckNotFoundError,
  PreconditionFailedError,
  QuorumNotMetError,
  BodyTooLargeError,
  catalogue,
  InternalError,
  InvalidJsonError,
  InvalidKeyError,
  KeyNotFoundError,
  KeyTooLargeError,
  MethodNotAllowedError,
  NodeTimeoutError,
  NodeUnavailableError,
  NotFoundError,
  ServerBusyError,
  ShuttingDownError,
  ThunderError,
  toThunderError,
  TooManyKeysError,
  UnsupportedMediaTypeError,
  UnsupportedTransferEncodingError,
  ValueTooLargeError,
  UnknownParameterError,
  NotImplementedError,
  ForbiddenHostError,
  ForbiddenOriginError,
  HistoryCompactedError,
} from '../src/errors.js';

describe('error catalogue', () => {
  const table: [new (message?: string) => ThunderError, string, number][] = [
    [KeyNotFoundError, 'KEY_NOT_FOUND', 404],
    [InvalidKeyError, 'INVALID_KEY', 400],
    [KeyTooLargeError, 'KEY_TOO_LARGE', 413],
    [ValueTooLargeError, 'VALUE_TOO_LARGE', 413],
    [BodyTooLargeError, 'BODY_TOO_LARGE', 413],
    [InvalidJsonError, 'INVALID_JSON', 400],
    [BadRequestError, 'BAD_REQUEST', 400],
    [UnsupportedMediaTypeError, 'UNSUPPORTED_MEDIA_TYPE', 415],
    [MethodNotAllowedError, 'METHOD_NOT_ALLOWED', 405],
    [NotFoundError, 'NOT_FOUND', 404],
    [NodeUnavailableError, 'NODE_UNAVAILABLE', 503],
    [NodeTimeoutError, 'NODE_TIMEOUT', 504],
    [ShuttingDownError, 'SHUTTING_DOWN', 503],
    [ServerBusyError, 'SERVER_BUSY', 503],
    [TooManyKeysError, 'TOO_MANY_KEYS', 413],
    [InternalError, 'INTERNAL', 500],
    [UnknownParameterError, 'UNKNOWN_PARAMETER', 400],
    [NotImplementedError, 'NOT_IMPLEMENTED', 501],
    [ForbiddenHostError, 'FORBIDDEN_HOST', 403],
    [ForbiddenOriginError, 'FORBIDDEN_ORIGIN', 403],
    [UnsupportedTransferEncodingError, 'UNSUPPORTED_TRANSFER_ENCODING', 501],
    [BodyBudgetExceededError, 'BODY_BUDGET_EXCEEDED', 503],
    [QuorumNotMetError, 'QUORUM_NOT_MET', 503],
    [PreconditionFailedError, 'PRECONDITION_FAILED', 412],
    [ConflictError, 'CONFLICT', 409],
    [ValueLostError, 'VALUE_LOST', 410],
    [HistoryCompactedError, 'HISTORY_COMPACTED', 410],
    [OutOfMemoryError, 'OUT_OF_MEMORY', 507],
    [TraceNotFoundError, 'TRACE_NOT_FOUND', 404],
    [CheckRunningError, 'CHECK_RUNNING', 409],
    [CheckNotFoundError, 'CHECK_NOT_FOUND', 404],
  ];

  test("every catalogue status answers with its reason phrase, not 'Unknown'", () => {
    for (const [, , status] of table) assert.equal(statusLine(status), `${status} ${STATUS_CODES[status]}`);
    assert.equal(statusLine(304), '304 Not Modified');
  });

  test('every code in the catalogue has a row here', () => {
    assert.deepEqual(Object.keys(catalogue).sort(), table.map(([, code]) => code).sort());
  });

  for (const [Kind, code, status] of table) {
    test(`${code} answers ${status} and has a default message`, () => {
      const err = new Kind();
      assert.ok(err instanceof ThunderError);
      assert.equal(err.code, code);
      assert.equal(err.name, code);
      assert.equal(err.status, status);
      assert.ok(err.message.length > 0);
      assert.equal(catalogue[code as keyof typeof catalogue], Kind);
    });
  }

  test('toJSON() gives the error body, with details merged in', () => {
    const err = new BadRequestError('nope');
    err.details.written = 3;
    assert.deepEqual(err.toJSON(), { error: { code: 'BAD_REQUEST', message: 'nope', written: 3 } });
  });

  test("the README's Errors table lists exactly the catalogue's codes, with their statuses", async () => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('### Errors'));
    const rows = [...section.matchAll(/^\| `([A-Z_]+)` +\| (\d{3}) /gm)].map((m) => [m[1]!, Number(m[2])]);
    const documented = new Map(rows as [string, number][]);
    assert.equal(documented.size, rows.length, 'no code documented twice');
    assert.deepEqual([...documented.keys()].sort(), Object.keys(catalogue).sort());
    for (const [code, Kind] of Object.entries(catalogue)) {
      assert.equal(documented.get(code), new Kind().status, `${code}'s status in the README`);
    }
  });

  test('toThunderError() keeps catalogue errors and wraps anything else as INTERNAL', () => {
    const known = new KeyNotFoundError();
    assert.equal(toThunderError(known), known);
    assert.equal(toThunderError(new Error('boom')).code, 'INTERNAL');
    assert.equal(toThunderError('boom').message, 'boom');
  });
});
