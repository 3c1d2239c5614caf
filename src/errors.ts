/**
 * The error catalogue: every failure a client can cause has one class here, with a stable
 * machine-readable `code` and the HTTP status it maps to. Codes never change once shipped;
 * the README's "Errors" section lists them (a test checks it does).
 */

/** Base of every client-visible error. */
export class ThunderError extends Error {
  override name = 'ThunderError';
  /** Stable machine-readable code, e.g. `KEY_NOT_FOUND`. */
  readonly code: string = 'INTERNAL';
  /** HTTP status the front end answers with. */
  readonly status: number = 500;
  /** Extra fields merged into the JSON error body (e.g. `written` for a failed batch). */
  details: Record<string, unknown> = {};
  /** Sent as a `Retry-After` header when set: the client may try again after this many seconds. */
  readonly retryAfterSeconds?: number;

  toJSON(): { error: { code: string; message: string } & Record<string, unknown> } {
    return { error: { code: this.code, message: this.message, ...this.details } };
  }
}

/** Defines a catalogue entry: a subclass with a fixed code, status and default message. */
function kind(code: string, status: number, defaultMessage: string) {
  return class extends ThunderError {
    override name = code;
    override readonly code = code;
    override readonly status = status;
    constructor(message: string = defaultMessage) {
      super(message);
    }
  };
}

export class KeyNotFoundError extends kind('KEY_NOT_FOUND', 404, 'key not found') {}
export class InvalidKeyError extends kind('INVALID_KEY', 400, 'invalid key') {}
export class KeyTooLargeError extends kind('KEY_TOO_LARGE', 413, 'key too large') {}
export class ValueTooLargeError extends kind('VALUE_TOO_LARGE', 413, 'value too large') {}
export class BodyTooLargeError extends kind('BODY_TOO_LARGE', 413, 'request body too large') {}
export class InvalidJsonError extends kind('INVALID_JSON', 400, 'invalid JSON') {}
export class BadRequestError extends kind('BAD_REQUEST', 400, 'bad request') {}
export class UnsupportedMediaTypeError extends kind(
  'UNSUPPORTED_MEDIA_TYPE',
  415,
  'unsupported Content-Type',
) {}
export class MethodNotAllowedError extends kind('METHOD_NOT_ALLOWED', 405, 'method not allowed') {}
export class NotFoundError extends kind('NOT_FOUND', 404, 'no such route') {}
export class NodeUnavailableError extends kind('NODE_UNAVAILABLE', 503, 'node unavailable') {}
export class NodeTimeoutError extends kind('NODE_TIMEOUT', 504, 'the node did not answer in time') {}
export class ShuttingDownError extends kind('SHUTTING_DOWN', 503, 'the server is shutting down') {}
export class ServerBusyError extends kind('SERVER_BUSY', 503, 'too many heavy requests at once') {
  override readonly retryAfterSeconds = 1;
}
export class TooManyKeysError extends kind('TOO_MANY_KEYS', 413, 'too many keys in one request') {}
export class InternalError extends kind('INTERNAL', 500, 'internal error') {}
export class UnknownParameterError extends kind('UNKNOWN_PARAMETER', 400, 'unknown query parameter') {}
export class NotImplementedError extends kind('NOT_IMPLEMENTED', 501, 'not implemented yet') {}
export class ForbiddenHostError extends kind('FORBIDDEN_HOST', 403, 'this Host name is not allowed') {}
export class ForbiddenOriginError extends kind(
  'FORBIDDEN_ORIGIN',
  403,
  'cross-origin requests are not allowed',
) {}
export class UnsupportedTransferEncodingError extends kind(
  'UNSUPPORTED_TRANSFER_ENCODING',
  501,
  'only Transfer-Encoding: chunked is supported',
) {}
export class BodyBudgetExceededError extends kind(
  'BODY_BUDGET_EXCEEDED',
  503,
  'the server holds too many request bodies; retry later',
) {}

export class QuorumNotMetError extends kind(
  'QUORUM_NOT_MET',
  503,
  'fewer replicas answered than the request needs',
) {}
export class PreconditionFailedError extends kind(
  'PRECONDITION_FAILED',
  412,
  "the key does not match the request's If-Match or If-None-Match",
) {}

export class ConflictError extends kind('CONFLICT', 409, "the request conflicts with the cluster's state") {}
export class OutOfMemoryError extends kind(
  'OUT_OF_MEMORY',
  507,
  "the key's nodes hold as much as --max-memory allows; reads and deletes go on",
) {}
export class ValueLostError extends kind(
  'VALUE_LOST',
  410,
  "the key's newest value is gone from the storage backend on every replica that holds it",
) {}

export class HistoryCompactedError extends kind(
  'HISTORY_COMPACTED',
  410,
  'the changes after that version are no longer kept; read again, then watch from the oldest version kept',
) {}

export class CheckRunningError extends kind(
  'CHECK_RUNNING',
  409,
  'a check is already running against this cluster; stop it or wait for its verdict',
) {}
export class CheckNotFoundError extends kind('CHECK_NOT_FOUND', 404, 'no such check') {}
export class TraceNotFoundError extends kind(
  'TRACE_NOT_FOUND',
  404,
  "no trace of that name in the server's --checks-dir",
) {}

/** Every catalogue class, keyed by code. */
export const catalogue = {
  KEY_NOT_FOUND: KeyNotFoundError,
  INVALID_KEY: InvalidKeyError,
  KEY_TOO_LARGE: KeyTooLargeError,
  VALUE_TOO_LARGE: ValueTooLargeError,
  BODY_TOO_LARGE: BodyTooLargeError,
  INVALID_JSON: InvalidJsonError,
  BAD_REQUEST: BadRequestError,
  UNSUPPORTED_MEDIA_TYPE: UnsupportedMediaTypeError,
  METHOD_NOT_ALLOWED: MethodNotAllowedError,
  NOT_FOUND: NotFoundError,
  NODE_UNAVAILABLE: NodeUnavailableError,
  NODE_TIMEOUT: NodeTimeoutError,
  SHUTTING_DOWN: ShuttingDownError,
  SERVER_BUSY: ServerBusyError,
  TOO_MANY_KEYS: TooManyKeysError,
  INTERNAL: InternalError,
  UNKNOWN_PARAMETER: UnknownParameterError,
  NOT_IMPLEMENTED: NotImplementedError,
  FORBIDDEN_HOST: ForbiddenHostError,
  FORBIDDEN_ORIGIN: ForbiddenOriginError,
  UNSUPPORTED_TRANSFER_ENCODING: UnsupportedTransferEncodingError,
  BODY_BUDGET_EXCEEDED: BodyBudgetExceededError,
  QUORUM_NOT_MET: QuorumNotMetError,
  CHECK_RUNNING: CheckRunningError,
  CHECK_NOT_FOUND: CheckNotFoundError,
  PRECONDITION_FAILED: PreconditionFailedError,
  CONFLICT: ConflictError,
  VALUE_LOST: ValueLostError,
  HISTORY_COMPACTED: HistoryCompactedError,
  OUT_OF_MEMORY: OutOfMemoryError,
  TRACE_NOT_FOUND: TraceNotFoundError,
} as const;

/** An error as data, to cross a MessagePort (which keeps no classes). */
export function errorToWire(err: unknown): { code: string; message: string } {
  const error = toThunderError(err);
  return { code: error.code, message: error.message };
}

/** Rebuilds a catalogue error from its wire form; an unknown code becomes INTERNAL. */
export function errorFromWire(wire: { code: string; message: string }): ThunderError {
  const Kind = (catalogue as Record<string, new (message?: string) => ThunderError>)[wire.code];
  return Kind ? new Kind(wire.message) : new InternalError(`${wire.code}: ${wire.message}`);
}

/** Wraps anything thrown into a catalogue error, so a bug answers 500 instead of crashing. */
export function toThunderError(err: unknown): ThunderError {
  if (err instanceof ThunderError) return err;
  return new InternalError(err instanceof Error ? err.message : String(err));
}
