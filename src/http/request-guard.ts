import { isIP } from 'node:net';
import {
  BadRequestError,
  ForbiddenHostError,
  ForbiddenOriginError,
  NotImplementedError,
  UnsupportedMediaTypeError,
  type ThunderError,
} from '../errors.js';
import { checkQuery } from './params.js';
import type { HttpRequest } from './seam.js';

/** Who may talk to the server beyond curl-style clients on this machine. */
export interface GuardOptions {
  /** The address the server listens on: a loopback address turns the `Host` check on. */
  bindHost: string;
  /**
   * Host names accepted in `Host` besides IP addresses, `localhost` and `*.localhost`;
   * `*` accepts any. When given, the check applies on any address, not only loopback.
   * Default none.
   */
  allowHosts?: readonly string[];
  /** Origins (`scheme://host[:port]`, or `null`) accepted besides the server's own; `*` accepts any. Default none. */
  allowOrigins?: readonly string[];
}

/** True when `host` (a listen address) is reachable from this machine only. */
export function isLoopback(host: string): boolean {
  const name = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (name === 'localhost' || name === '::1') return true;
  const v4 = name.startsWith('::ffff:') ? name.slice(7) : name;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

/** The name part of a `Host` header (no port, no brackets), lower-cased. */
function hostName(header: string): string {
  const host = header.toLowerCase();
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end < 0 ? host : host.slice(1, end);
  }
  const colon = host.indexOf(':');
  return colon < 0 ? host : host.slice(0, colon);
}

const ORIGIN = /^[a-z][a-z0-9+.-]*:\/\/[^/?#\s]+$/;

/** A checked, normalised allow-list; a TypeError names the option and the bad entry. */
function checkList(
  option: string,
  values: readonly string[],
  valid: (v: string) => boolean,
  expected: string,
): Set<string> {
  const set = new Set<string>();
  for (const raw of values) {
    const value = raw.trim().toLowerCase().replace(/\/$/, '');
    if (!valid(value)) throw new TypeError(`${option}: ${JSON.stringify(raw)} is not ${expected}`);
    set.add(value);
  }
  return set;
}

/**
 * What the headers (and query) of one request said, collected in one pass over them
 * (`req.forEach`): one native call per header, cheaper than a `getHeader` per name looked
 * for, and read again by the route instead of asking uWS twice. One scratch object serves
 * every request, since handlers run one at a time: it holds the request being handled
 * from {@link RequestGuard.scan} until its handler returns, and nothing after.
 */
export interface RequestHead {
  /** How many `Host` headers, and the last one's value. */
  hosts: number;
  host: string;
  origin: string;
  site: string;
  /** The conditional headers present, spelled as routes name them. */
  conditionals: readonly string[];
  /** `If-None-Match` and `If-Match`, '' when absent. */
  ifNoneMatch: string;
  ifMatch: string;
  encoding: string;
  /** How many `Content-Length` and `Transfer-Encoding` headers, and the last `Content-Length` ('' when none). */
  lengths: number;
  codings: number;
  contentLength: string;
  /** The query string, '' when there is none. */
  query: string;
}

/** The conditional headers of the request being scanned, in {@link RequestHead.conditionals}. */
const seenConditionals: string[] = [];

const head: RequestHead = {
  hosts: 0,
  host: '',
  origin: '',
  site: '',
  conditionals: seenConditionals,
  ifNoneMatch: '',
  ifMatch: '',
  encoding: '',
  lengths: 0,
  codings: 0,
  contentLength: '',
  query: '',
};

/** The head scanned for the request being handled (see {@link RequestHead}). */
export const requestHead: Readonly<RequestHead> = head;

/** The conditional headers a route can honour, as routes name them in what they take. */
export const CONDITIONAL_HEADERS: readonly string[] = ['If-Match', 'If-None-Match'];

/**
 * Field lines of one name form one comma-separated list (RFC 9110 §5.3), so a condition
 * sent as two `If-Match` lines keeps both (uWS's `getHeader` gave only the first); an empty
 * line adds nothing to it.
 */
function joined(list: string, value: string): string {
  if (value.trim() === '') return list;
  return list === '' ? value : `${list}, ${value}`;
}

function visit(name: string, value: string): void {
  switch (name) {
    case 'host':
      head.hosts++;
      head.host = value;
      break;
    case 'origin':
      head.origin = value;
      break;
    case 'sec-fetch-site':
      head.site = value;
      break;
    case 'if-match':
      seenConditionals.push('If-Match');
      head.ifMatch = joined(head.ifMatch, value);
      break;
    case 'if-none-match':
      seenConditionals.push('If-None-Match');
      head.ifNoneMatch = joined(head.ifNoneMatch, value);
      break;
    case 'if-unmodified-since':
      seenConditionals.push('If-Unmodified-Since');
      break;
    case 'content-encoding':
      head.encoding = value;
      break;
    case 'transfer-encoding':
      head.codings++;
      break;
    case 'content-length':
      head.lengths++;
      head.contentLength = value;
  }
}

/** How many distinct `Host` values keep their verdict: a client sends the same one every time. */
const HOST_VERDICTS = 64;

/**
 * Refuses, before any route runs, the requests that must not reach one:
 * - a `Host` name that is not expected when the server listens on loopback (DNS rebinding:
 *   a web page whose name resolves to 127.0.0.1 would otherwise talk to us as its own origin);
 * - a browser request from another origin (`Origin` not ours, or `Sec-Fetch-Site` saying
 *   cross-site): a web page could otherwise write with a "simple" POST, or start heavy
 *   reads with an `<img>`;
 * - conditional headers and query parameters the route does not take, which would otherwise
 *   be silently ignored (501 NOT_IMPLEMENTED for a conditional header).
 * Requests from curl and other non-browser clients carry no `Origin` and pass.
 */
export class RequestGuard {
  readonly #checkHost: boolean;
  readonly #anyHost: boolean;
  readonly #hosts: Set<string>;
  readonly #anyOrigin: boolean;
  readonly #origins: Set<string>;
  readonly #hostVerdicts = new Map<string, boolean>();

  constructor(options: GuardOptions) {
    const { bindHost, allowHosts = [], allowOrigins = [] } = options;
    this.#hosts = checkList(
      'allow-host',
      allowHosts,
      (h) => h === '*' || /^[a-z0-9_.-]+$/.test(h),
      'a host name (no scheme, no port) or *',
    );
    this.#origins = checkList(
      'allow-origin',
      allowOrigins,
      (o) => o === '*' || o === 'null' || ORIGIN.test(o),
      'an origin (scheme://host[:port]), null or *',
    );
    this.#anyHost = this.#hosts.has('*');
    this.#anyOrigin = this.#origins.has('*');
    this.#checkHost = !this.#anyHost && (isLoopback(bindHost) || this.#hosts.size > 0);
  }

  /** Reads the request's headers and query once, into {@link requestHead}. */
  scan(req: HttpRequest): Readonly<RequestHead> {
    head.hosts = 0;
    head.host = head.origin = head.site = head.encoding = head.ifNoneMatch = head.ifMatch = '';
    seenConditionals.length = 0;
    head.lengths = head.codings = 0;
    head.contentLength = '';
    req.forEach(visit);
    head.query = req.getQuery() ?? '';
    return head;
  }

  /**
   * The error that refuses this request, or null. `params` are the query parameters its
   * route takes, `conditionals` the conditional headers it honours.
   */
  check(
    req: HttpRequest,
    params: readonly string[],
    conditionals: readonly string[] = [],
  ): ThunderError | null {
    return this.refusal(this.scan(req), params, conditionals);
  }

  /** {@link check} of a request already scanned. */
  refusal(
    seen: Readonly<RequestHead>,
    params: readonly string[],
    conditionals: readonly string[] = [],
  ): ThunderError | null {
    // RFC 9112 §3.2: a request with more than one Host is answered 400.
    if (seen.hosts > 1) return new BadRequestError('the request has more than one Host header');
    // No Host at all: HTTP/1.0 (ab), never a browser, which always names the host it asked for.
    if (this.#checkHost && seen.hosts === 1 && !this.#hostHeaderAllowed(seen.host)) {
      return new ForbiddenHostError(
        `Host ${JSON.stringify(seen.host)} is not allowed; start the server with --allow-host NAME to accept it`,
      );
    }
    if (!this.#originAllowed(seen.origin, seen.site, seen.host)) {
      return new ForbiddenOriginError(
        seen.origin === ''
          ? `a ${seen.site} request from a web page is not allowed`
          : `requests from origin ${JSON.stringify(seen.origin)} are not allowed; start the server with --allow-origin ORIGIN to accept them`,
      );
    }
    const unsupported = seen.conditionals.find((name) => !conditionals.includes(name));
    if (unsupported !== undefined) {
      return new NotImplementedError(
        conditionals.length === 0
          ? `${unsupported} (conditional requests) is not supported on this route; nothing was done`
          : `${unsupported} is not supported on this route (it honours ${conditionals.join(' and ')}); nothing was done`,
      );
    }
    if (seen.encoding !== '') {
      const encoding = seen.encoding.trim().toLowerCase();
      if (encoding !== '' && encoding !== 'identity') {
        return new UnsupportedMediaTypeError(
          `Content-Encoding ${JSON.stringify(seen.encoding)} is not supported; send the body unencoded`,
        );
      }
    }
    try {
      checkQuery(seen.query, params);
    } catch (err) {
      return err as ThunderError;
    }
    return null;
  }

  /**
   * Whether a `Host` header names a host we answer to, remembered per value: parsing it
   * (lower case, IP address or name) cost more than the rest of the guard, and a client
   * sends the same one every time.
   */
  #hostHeaderAllowed(header: string): boolean {
    const known = this.#hostVerdicts.get(header);
    if (known !== undefined) return known;
    const allowed = this.#hostAllowed(hostName(header));
    if (this.#hostVerdicts.size >= HOST_VERDICTS) this.#hostVerdicts.clear();
    this.#hostVerdicts.set(header, allowed);
    return allowed;
  }

  #hostAllowed(name: string): boolean {
    // A DNS-rebinding page reaches us under its own name, never under an IP address.
    return isIP(name) !== 0 || name === 'localhost' || name.endsWith('.localhost') || this.#hosts.has(name);
  }

  #originAllowed(origin: string, site: string, host: string): boolean {
    if (this.#anyOrigin) return true;
    // No Origin: curl and the like, or a browser GET; `<img>` and other no-cors loads from
    // another site carry no Origin but do carry Sec-Fetch-Site.
    if (origin === '') return site !== 'cross-site' && site !== 'same-site';
    const o = origin.toLowerCase();
    if (this.#origins.has(o) || site === 'same-origin') return true;
    // Browsers without Sec-Fetch-*: the page's origin names the authority it was served from.
    const h = host.toLowerCase();
    return o === `http://${h}` || o === `https://${h}`;
  }
}
