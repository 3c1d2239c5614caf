import type { catalogue } from '../errors.js';

/** A code of the server's error catalogue (README "Errors"), e.g. `KEY_NOT_FOUND`. */
export type CatalogueCode = keyof typeof catalogue;

/**
 * The server answered with an error: `code` is its catalogue code (`KEY_NOT_FOUND`,
 * `PRECONDITION_FAILED`, `QUORUM_NOT_MET`, …), `status` the HTTP status, `details` every
 * other field of the error body (`written` for a batch that stopped part-way, `applied` for
 * a write refused before any replica saw it, `etag` for a failed precondition, …).
 *
 * An answer that is not a catalogue error (a proxy's HTML page, say) has the code
 * `UNEXPECTED_RESPONSE`, never a catalogue code.
 */
export class ThunderHttpError extends Error {
  override name = 'ThunderHttpError';
  /** The catalogue code, or `UNEXPECTED_RESPONSE`. */
  readonly code: CatalogueCode | 'UNEXPECTED_RESPONSE';
  /** The HTTP status. */
  readonly status: number;
  /** The error body's other fields; empty when there are none. */
  readonly details: Readonly<Record<string, unknown>>;
  /** Seconds the server asked to wait before retrying (`Retry-After`), when it did. */
  readonly retryAfterSeconds?: number;

  constructor(
    code: CatalogueCode | 'UNEXPECTED_RESPONSE',
    status: number,
    message: string,
    details: Record<string, unknown> = {},
    retryAfterSeconds?: number,
  ) {
    super(message);
    this.code = code;
    this.status = status;
    this.details = details;
    if (retryAfterSeconds !== undefined) this.retryAfterSeconds = retryAfterSeconds;
  }
}

/**
 * No answer came from the cluster at `url`: the connection was refused or reset, the host
 * name did not resolve, the connection timed out. `reason` says which, in words; `cause`
 * is the underlying error. Whether a write sent before the failure was applied is unknown.
 */
export class ClusterUnreachableError extends Error {
  override name = 'ClusterUnreachableError';
  readonly code = 'CLUSTER_UNREACHABLE';
  /** The cluster's base URL, as the client was given it. */
  readonly url: string;
  /** What went wrong, e.g. `connection refused`. */
  readonly reason: string;

  constructor(url: string, reason: string, cause?: unknown) {
    super(`cannot reach ${url} (${reason})`, { cause });
    this.url = url;
    this.reason = reason;
  }
}

/** Words for the system error codes a failed connection carries. */
const REASONS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection closed',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  UND_ERR_SOCKET: 'connection closed',
  UND_ERR_CLOSED: 'connection closed',
};

/**
 * The connection failure `err` is, or carries (a system error code of a failed connection),
 * as a ClusterUnreachableError; null when it is some other error (a file that cannot be
 * read, say). Node's fetch rejects with `TypeError: fetch failed` and hides the system
 * error in `cause` (sometimes an AggregateError of one per address tried).
 */
export function connectionFailure(url: string, err: unknown): ClusterUnreachableError | null {
  let cause: unknown = err;
  for (let depth = 0; depth < 4 && cause instanceof Error; depth++) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string' && code in REASONS)
      return new ClusterUnreachableError(url, REASONS[code]!, err);
    const inner: unknown = cause instanceof AggregateError ? cause.errors[0] : cause.cause;
    cause = inner;
  }
  return null;
}

/** What a rejected `fetch` means: {@link connectionFailure}, or unreachable for a reason in words. */
export function unreachable(url: string, err: unknown): ClusterUnreachableError {
  const failure = connectionFailure(url, err);
  if (failure !== null) return failure;
  const message =
    err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
  return new ClusterUnreachableError(url, message, err);
}

/** The error an answer with a status of 400 or more carries. */
export function errorOfAnswer(status: number, text: string, headers: Headers): ThunderHttpError {
  const retryAfter = Number(headers.get('retry-after') ?? NaN);
  const wait = Number.isFinite(retryAfter) ? retryAfter : undefined;
  try {
    const { error } = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    if (error && typeof error.code === 'string' && typeof error.message === 'string') {
      const { code, message, ...details } = error as { code: CatalogueCode; message: string };
      return new ThunderHttpError(code, status, message, details, wait);
    }
  } catch {
    // not JSON: below
  }
  // A HEAD answer has no body: its status is all there is.
  const shown = text === '' ? '' : `: ${text.slice(0, 200)}`;
  return new ThunderHttpError(
    'UNEXPECTED_RESPONSE',
    status,
    `the server answered ${status}${shown}`,
    {},
    wait,
  );
}
