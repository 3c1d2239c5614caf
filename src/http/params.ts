import { BadRequestError, NotImplementedError, UnknownParameterError } from '../errors.js';

/**
 * Strict query parameters. Every route says which parameters it takes; any other name is
 * refused, never ignored, so a client relying on a feature ThunderDB lacks (a TTL, a
 * compare-and-swap) finds out at once instead of losing an update. Values are parsed by one
 * strict parser per kind: integers are plain decimal digits (no `Number()` looseness: `""`,
 * `1e2`, `0x10`, `+1`, ` 1` are all refused), enums are one of their words, text is
 * percent-decoded UTF-8 and refused when it is not.
 */

/** Turns one parameter's decoded value (undefined when absent) into what the route uses. */
export type Param<T> = (name: string, value: string | undefined) => T;

/** A route's parameters: name → parser. */
export type ParamSpec = Readonly<Record<string, Param<unknown>>>;

/** What `parseQuery` returns for a spec. */
export type ParamValues<S extends ParamSpec> = { [K in keyof S]: ReturnType<S[K]> };

/**
 * Parameters other stores (etcd, Consul, Riak, Redis) take for features ThunderDB does not
 * have yet, with the feature's name: these answer 501 NOT_IMPLEMENTED rather than 400, so
 * the client learns that the feature, not its spelling, is missing.
 */
const NOT_YET: Readonly<Record<string, string>> = {
  lease: 'expiring keys by lease (use ?ttl=SECONDS)',
  cas: 'compare-and-swap',
  prevValue: 'compare-and-swap',
  prevIndex: 'compare-and-swap',
  prevExist: 'conditional writes (use If-Match or If-None-Match)',
  dw: 'durable-write quorums',
  pw: 'quorums of primary replicas',
  pr: 'quorums of primary replicas',
};

/** Only characters that percent-decoding or form-decoding changes send a piece to the slow path. */
const ENCODED = /[%+]/;

/**
 * A query piece, decoded: `+` is a space (form encoding, as URLSearchParams reads it) and
 * `%XX` escapes must spell UTF-8. uWS hands the query over already decoded from UTF-8 with
 * invalid bytes turned into U+FFFD, so a raw U+FFFD is refused too: it cannot be told apart
 * from bytes that were not UTF-8 (percent-encode it as `%EF%BF%BD`).
 */
function decode(piece: string, what: string): string {
  if (piece.includes('\uFFFD')) {
    throw new BadRequestError(
      `${what} has raw bytes that are not UTF-8, or a raw U+FFFD (percent-encode it as %EF%BF%BD)`,
    );
  }
  if (!ENCODED.test(piece)) return piece;
  try {
    return decodeURIComponent(piece.replaceAll('+', ' '));
  } catch {
    throw new BadRequestError(`${what} has malformed percent-encoding, or it is not UTF-8`);
  }
}

/** The decoded `[name, value]` pairs of a query string, in order; empty pieces (`a=1&&b=2`) are skipped. */
export function queryPairs(query: string | undefined): [string, string][] {
  const pairs: [string, string][] = [];
  if (!query) return pairs;
  for (const piece of query.split('&')) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    const name = decode(eq < 0 ? piece : piece.slice(0, eq), 'a query parameter name');
    pairs.push([name, eq < 0 ? '' : decode(piece.slice(eq + 1), `query parameter ${name}`)]);
  }
  return pairs;
}

/**
 * Refuses a parameter the route does not take (501 NOT_IMPLEMENTED for a known feature
 * ThunderDB lacks, 400 UNKNOWN_PARAMETER otherwise) and a parameter given twice.
 */
function checkNames(pairs: [string, string][], allowed: readonly string[]): void {
  const seen = new Set<string>();
  for (const [name] of pairs) {
    if (!allowed.includes(name)) {
      const feature = Object.hasOwn(NOT_YET, name) ? NOT_YET[name] : undefined;
      if (feature !== undefined) {
        throw new NotImplementedError(
          `?${name}= asks for ${feature}, which ThunderDB does not support yet; nothing was done`,
        );
      }
      const takes = allowed.length === 0 ? 'no parameters' : allowed.join(', ');
      throw new UnknownParameterError(
        `unknown query parameter ${JSON.stringify(name)}; this route takes ${takes}`,
      );
    }
    if (seen.has(name)) throw new BadRequestError(`query parameter ${name} is given more than once`);
    seen.add(name);
  }
}

/** Checks a query against the parameter names a route takes, without reading the values. */
export function checkQuery(query: string | undefined, allowed: readonly string[]): void {
  if (query) checkNames(queryPairs(query), allowed);
}

/** Parses a query by a route's spec: every name must be in it, once; every value must parse. */
export function parseQuery<S extends ParamSpec>(query: string | undefined, spec: S): ParamValues<S> {
  const pairs = queryPairs(query);
  checkNames(pairs, Object.keys(spec));
  const given = new Map(pairs);
  const values: Record<string, unknown> = {};
  for (const [name, param] of Object.entries(spec)) values[name] = param(name, given.get(name));
  return values as ParamValues<S>;
}

/** Text (a prefix, a key), `fallback` when absent. */
export function text(fallback = ''): Param<string> {
  return (_name, value) => value ?? fallback;
}

/** One of a few words, `fallback` when absent. */
export function oneOf<const T extends string>(words: readonly T[], fallback: T): Param<T> {
  return (name, value) => {
    if (value === undefined) return fallback;
    if ((words as readonly string[]).includes(value)) return value as T;
    throw new BadRequestError(
      `${name} must be ${words.map((w) => JSON.stringify(w)).join(' or ')}, got ${JSON.stringify(value)}`,
    );
  };
}

/** Seconds as plain decimal digits with at most three decimal places (milliseconds). */
const SECONDS = /^(?:0|[1-9][0-9]{0,8})(?:\.[0-9]{1,3})?$/;

/**
 * A duration in seconds, above 0 and at most `max`, with at most three decimal places;
 * answered in milliseconds; undefined when absent.
 */
export function seconds(max: number): Param<number | undefined> {
  return (name, value) => {
    if (value === undefined) return undefined;
    const ms = SECONDS.test(value) ? Math.round(Number(value) * 1000) : NaN;
    if (!(ms >= 1 && ms <= max * 1000)) {
      throw new BadRequestError(
        `${name} must be a number of seconds above 0 and at most ${max}, with at most three decimal places, got ${JSON.stringify(value)}`,
      );
    }
    return ms;
  };
}

/** Plain decimal digits, no sign, no leading zero; at most 15 digits, so always a safe integer. */
const DECIMAL = /^(?:0|[1-9][0-9]{0,14})$/;

/** A version: plain decimal digits, no sign, no leading zero, at most 2^53 − 1 (16 digits). */
const VERSION = /^(?:0|[1-9][0-9]{0,15})$/;

/** A version (`since`, `index`, `Last-Event-ID`); undefined when absent. */
export function version(): Param<number | undefined> {
  return (name, value) => {
    if (value === undefined) return undefined;
    const n = VERSION.test(value) ? Number(value) : NaN;
    if (!Number.isSafeInteger(n))
      throw new BadRequestError(
        `${name} must be a version: a decimal integer from 0 to 2^53 − 1, got ${JSON.stringify(value)}`,
      );
    return n;
  };
}

/** An integer range; `fallback` is the value when the parameter is absent. */
export interface IntegerRange {
  min: number;
  /** Default Number.MAX_SAFE_INTEGER. */
  max?: number;
}

/** A decimal integer within a range; undefined when absent. */
export function integer(range: IntegerRange): Param<number | undefined>;
/** A decimal integer within a range; `fallback` when absent. */
export function integer(range: IntegerRange & { fallback: number }): Param<number>;
export function integer(range: IntegerRange & { fallback?: number }): Param<number | undefined> {
  const { min, max = Number.MAX_SAFE_INTEGER, fallback } = range;
  return (name, value) => {
    if (value === undefined) return fallback;
    const n = DECIMAL.test(value) ? Number(value) : NaN;
    if (!(n >= min && n <= max)) {
      const span = max === Number.MAX_SAFE_INTEGER ? `${min} or more` : `from ${min} to ${max}`;
      throw new BadRequestError(`${name} must be a decimal integer ${span}, got ${JSON.stringify(value)}`);
    }
    return n;
  };
}
