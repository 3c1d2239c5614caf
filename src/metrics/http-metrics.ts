/**
 * What the front end counts of its answers, for `GET /metrics`: per route and method, the
 * answers by status and a latency histogram; and the error answers by catalogue code. The
 * hot path pays two clock reads and a few array increments per request; turning the
 * counts into Prometheus text happens only when something scrapes.
 */
import { LatencyHistogram } from '../time/latency-histogram.js';

/** The methods counted by name; any other (uWS passes custom ones to `any`) counts as `other`. */
const METHODS = new Set(['get', 'head', 'put', 'post', 'delete', 'patch', 'options', 'connect', 'trace']);

/** One route and method's answers: by status, and their latencies. */
export class RouteMetrics extends LatencyHistogram {
  readonly route: string;
  readonly method: string;
  /** Answers by status code. */
  readonly statuses = new Map<number, number>();
  readonly #errors: Map<string, number>;

  constructor(route: string, method: string, errors: Map<string, number>) {
    super();
    this.route = route;
    this.method = method;
    this.#errors = errors;
  }

  /** Counts one answer: its status, and the time from the handler's start to its status line. */
  answered(status: number, ms: number): void {
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
    this.observe(ms);
  }

  /** Counts an error answer by its catalogue code. */
  failed(code: string): void {
    this.#errors.set(code, (this.#errors.get(code) ?? 0) + 1);
  }
}

/**
 * The request being answered: its route's metrics, and when its handler began. Handlers and
 * late answers run one at a time on the main thread, so one slot serves: the router fills
 * it around each handler, a late answer (src/http/deferred.ts, stream.ts) around its write,
 * and the writers of src/http/reply.ts count what they write against it. A slot rather
 * than a property on each uWS response: setting one cost about a tenth of GET throughput.
 */
export const answering: { route: RouteMetrics | null; started: number } = { route: null, started: 0 };

/** Runs `write` as the answer of `route`, begun at `started`; restores the slot after. */
export function answerAs(route: RouteMetrics | null, started: number, write: () => void): void {
  const outerRoute = answering.route;
  const outerStarted = answering.started;
  answering.route = route;
  answering.started = started;
  try {
    write();
  } finally {
    answering.route = outerRoute;
    answering.started = outerStarted;
  }
}

/** What `GET /watch` streams count. */
export class WatchStats {
  /** Watch streams open now. */
  open = 0;
  /** Change events written to watchers, all streams together. */
  events = 0;
  /** Watchers cut for falling behind by more than their buffer (src/http/watch-route.ts). */
  cut = 0;
}

/** Every route's metrics, made when the routes are registered. */
export class HttpMetrics {
  readonly #routes = new Map<string, RouteMetrics>();
  readonly watch = new WatchStats();
  /** Error answers by catalogue code, all routes together. */
  readonly errors = new Map<string, number>();

  /** The metrics of `route` answered to `method` (lower case), made on first use. */
  route(route: string, method: string): RouteMetrics {
    const name = METHODS.has(method) ? method : 'other';
    const key = `${name} ${route}`;
    let metrics = this.#routes.get(key);
    if (metrics === undefined) this.#routes.set(key, (metrics = new RouteMetrics(route, name, this.errors)));
    return metrics;
  }

  get routes(): Iterable<RouteMetrics> {
    return this.#routes.values();
  }
}
