import type { IncomingMessage } from 'node:http';
import type { HttpRequest } from '../seam.js';

/** Lower-case spellings of the methods node:http's parser accepts, so each request need not allocate one. */
const LOWER = new Map<string, string>();

/**
 * The path and query of a request target. An absolute-form target
 * (`GET http://host/path HTTP/1.1`, RFC 9112 §3.2.2) counts by its path, as servers must
 * accept it; an asterisk-form one (`OPTIONS *`) is the path `*`, which no route matches.
 */
export function splitTarget(target: string): { path: string; query: string | undefined } {
  let start = 0;
  if (target.charCodeAt(0) !== 47 /* / */ && target !== '*') {
    const authority = target.indexOf('//');
    const path = authority < 0 ? -1 : target.indexOf('/', authority + 2);
    if (path < 0) {
      const question = target.indexOf('?', authority + 2);
      return { path: '/', query: question < 0 ? undefined : target.slice(question + 1) };
    }
    start = path;
  }
  const question = target.indexOf('?', start);
  return question < 0
    ? { path: start === 0 ? target : target.slice(start), query: undefined }
    : { path: target.slice(start, question), query: target.slice(question + 1) };
}

/**
 * A node:http request as the seam's HttpRequest. Headers are read from `rawHeaders`, as
 * sent, so a repeated header is seen each time (the Host check counts them) and `getHeader`
 * returns the first, as uWS does; node's parser gives header values as latin1 text.
 */
export class NodeRequest implements HttpRequest {
  readonly #req: IncomingMessage;
  readonly #path: string;
  readonly #query: string | undefined;
  readonly #params: string[];

  constructor(req: IncomingMessage, path: string, query: string | undefined, params: string[]) {
    this.#req = req;
    this.#path = path;
    this.#query = query;
    this.#params = params;
  }

  getUrl(): string {
    return this.#path;
  }

  getQuery(): string | undefined {
    return this.#query;
  }

  getHeader(lowerCaseName: string): string {
    const at = this.#find(lowerCaseName);
    return at < 0 ? '' : this.#req.rawHeaders[at + 1]!;
  }

  /** True when the request carries the header, empty or not. */
  hasHeader(lowerCaseName: string): boolean {
    return this.#find(lowerCaseName) >= 0;
  }

  /** The index of the header's name in `rawHeaders`, or -1. */
  #find(lowerCaseName: string): number {
    const raw = this.#req.rawHeaders;
    const length = lowerCaseName.length;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!;
      if (name.length === length && name.toLowerCase() === lowerCaseName) return i;
    }
    return -1;
  }

  getMethod(): string {
    const method = this.#req.method!;
    let lower = LOWER.get(method);
    if (lower === undefined) LOWER.set(method, (lower = method.toLowerCase()));
    return lower;
  }

  getCaseSensitiveMethod(): string {
    return this.#req.method!;
  }

  getParameter(index: number): string | undefined {
    return this.#params[index];
  }

  forEach(visit: (name: string, value: string) => void): void {
    const raw = this.#req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) visit(raw[i]!.toLowerCase(), raw[i + 1]!);
  }
}
