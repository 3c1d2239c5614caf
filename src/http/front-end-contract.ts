import type { App } from './seam.js';

/**
 * What every HTTP front end is (src/http/uws/, src/http/node/): its name, where it differs
 * from the other (TRAITS), and how it listens. Choosing one is front-ends.ts's.
 */

/** The HTTP front ends: uWebSockets.js, and Node's own `node:http`. */
export const FRONT_END_NAMES = ['uws', 'node'] as const;
export type FrontEndName = (typeof FRONT_END_NAMES)[number];

/**
 * Where the two front ends behave differently: every difference, in one place. Both serve
 * every route and `/live` with the same answers otherwise (the test suite runs on both);
 * each row is tested as stated (test/front-ends.test.ts and the tests it names), and the
 * README's "Which front end" shows this table.
 */
export interface FrontEndTraits {
  /** The front end's name, as the start-up line says it. */
  title: string;
  /**
   * Answers HTTP/1.0 requests (`ab`, `curl --http1.0`, nginx's default upstream protocol).
   * uWS 20.30 never does: the connection is released by its idle timeout after about 10 s.
   */
  http10: boolean;
  /**
   * Answers requests pipelined behind one that answers later, in request order. uWS closes
   * the connection instead, answering none of them (uWebSockets.js issue 277).
   */
  pipelining: boolean;
  /**
   * Answers malformed requests (49 or more headers, an absolute-form target, a missing Host,
   * bare-LF line ends, framing its parser rejects) with a JSON error, or serves them where
   * HTTP allows (many headers, absolute form). uWS never hands them over: no answer, the
   * connection released after its idle timeout.
   */
  answersMalformed: boolean;
  /**
   * Raw (not percent-encoded) bytes above 0x7F in the path: uWS decodes them as UTF-8 (a
   * key `café` sent raw is that key); node:http refuses them, 400 BAD_REQUEST, as a URL may
   * not carry them (RFC 3986). Percent-encoded keys, as every client sends, work on both.
   */
  rawUtf8Paths: boolean;
  /**
   * A request whose framing could hide a second one is refused once the packet is parsed
   * (uWS runs a hidden request behind an answer given at once; it must find this one still
   * pending); node:http stops reading at an answer that closes the connection, so it refuses
   * at once.
   */
  refusesFramingAfterParse: boolean;
  /**
   * What a client past `--max-connections` meets. `refused`: uWS closes its listening socket
   * (new clients get ECONNREFUSED) and opens it again below 90%, counting the process's
   * descriptors every 100 ms. `closed`: node:http counts connections exactly and closes each
   * one over the limit as it is accepted.
   */
  overConnectionLimit: 'refused' | 'closed';
  /**
   * Slow clients: uWS closes a connection whose body arrives slower than 16 KiB/s over 10 s,
   * and any idle for 10 s; node:http closes one on which nothing moved for 10 s while a body
   * is arriving or an answer waits to be taken, one whose headers take over 10 s, and an idle
   * kept-alive one after 10 s.
   */
  slowClients: string;
}

/** The differences, by front end. */
export const TRAITS: Readonly<Record<FrontEndName, FrontEndTraits>> = {
  uws: {
    title: 'uWebSockets.js',
    http10: false,
    pipelining: false,
    answersMalformed: false,
    rawUtf8Paths: true,
    refusesFramingAfterParse: true,
    overConnectionLimit: 'refused',
    slowClients: 'body slower than 16 KiB/s over 10 s, or 10 s idle: closed',
  },
  node: {
    title: 'node:http',
    http10: true,
    pipelining: true,
    answersMalformed: true,
    rawUtf8Paths: false,
    refusesFramingAfterParse: false,
    overConnectionLimit: 'closed',
    slowClients: 'headers over 10 s, or 10 s with nothing moving mid-body or mid-answer: closed',
  },
};

/** Options of {@link FrontEnd.listen}. */
export interface ListenOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Client connections allowed at once. */
  maxConnections: number;
  /** Where the front end reports what it cannot tell a client. */
  log: (line: string) => void;
}

/** A front end that listens. */
export interface Listening {
  /** The real port, also when 0 was asked for. */
  readonly port: number;
  /** Stops accepting connections; open ones are served on. */
  stopAccepting(): void;
  /** Closes whatever is still open (after the server's own drain). */
  closeAll(): void;
}

/** One HTTP front end: the app routes register on, and how it listens. */
export interface FrontEnd {
  readonly name: FrontEndName;
  readonly traits: FrontEndTraits;
  readonly app: App;
  /** Listens exclusively: a taken port fails with an Error that says so. */
  listen(options: ListenOptions): Promise<Listening>;
}
