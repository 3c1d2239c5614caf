import type { ThunderError } from '../errors.js';
import type { InFlight } from './in-flight.js';
import { sendError, sendJson, statusLine } from './reply.js';
import type { HttpResponse } from './uws.js';

/**
 * A request that answers after its handler returned. Registers `onAborted` first, as uWS
 * requires, and from then on never touches a response the client has abandoned; every
 * later write is corked.
 */
export class Deferred {
  readonly res: HttpResponse;
  aborted = false;
  done = false;
  readonly #inFlight: InFlight;

  constructor(res: HttpResponse, inFlight: InFlight) {
    this.res = res;
    this.#inFlight = inFlight;
    inFlight.begin();
    res.onAborted(() => {
      this.aborted = true;
      this.onAbort();
      this.#finish();
    });
  }

  /** Hook for subclasses that hold resources while the request lives. */
  protected onAbort(): void {}

  /** True once the response is written or the client is gone: nothing more to do. */
  get over(): boolean {
    return this.done || this.aborted;
  }

  json(status: number, json: string, close = false): void {
    if (this.over) return;
    this.res.cork(() => sendJson(this.res, status, json, close));
    this.#finish();
  }

  /** An error answer; `extra` fields are merged into this answer's body only. */
  error(error: ThunderError, close = false, extra?: Record<string, unknown>): void {
    if (this.over) return;
    this.res.cork(() => sendError(this.res, error, close, extra));
    this.#finish();
  }

  /** An empty response with a status. A 204 carries no Content-Length, as RFC 9110 asks. */
  empty(status: number): void {
    if (this.over) return;
    this.res.cork(() => {
      this.res.writeStatus(statusLine(status));
      if (status === 204) this.res.endWithoutBody();
      else this.res.end();
    });
    this.#finish();
  }

  /** A byte-string body, e.g. a value. */
  bytes(body: Buffer, contentType: string): void {
    if (this.over) return;
    this.res.cork(() => this.res.writeHeader('Content-Type', contentType).end(body));
    this.#finish();
  }

  /** A bodiless answer reporting a length, for HEAD. */
  head(status: number, length: number): void {
    if (this.over) return;
    this.res.cork(() => {
      this.res.writeStatus(statusLine(status));
      if (length >= 0) this.res.endWithoutBody(length);
      else this.res.endWithoutBody();
    });
    this.#finish();
  }

  #finish(): void {
    if (this.done) return;
    this.done = true;
    this.#inFlight.end();
  }
}
