/**
 * What the front end counts of its answers, for `GET /metrics`: per route and method, the
 * answers by status and a latency histogram; and the error answers by catalogue code. The
 * hot path pays two clock reads and a few array increments per request; turning the
 * counts into Prometheus text happens only when something scrapes.
 */

/** Upper bounds of the latency buckets, in seconds (the last, +Inf, is implicit). */
export const LATENCY_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
] as const;

/** The methods counted by name; any other (uWS passes custom ones to `any`) counts as `other`. */
const METHODS = new Set(['get', 'head', 'put', 'post', 'delete', 'patch', 'options', 'connect', 'trace']);

/** One route and method's answers. */
export class RouteMetrics {
  readonly route: string;
  readonly method: string;
  /** Answers by status code. */
  readonly statuses = new Map<number, number>();
  /** Answers per latency bucket (not cumulative; the last is past every bound). */
  readonly buckets = new Float64Array(LATENCY_BUCKETS.length + 1);
  seconds = 0;
  count = 0;
  readonly #errors: Map<string, number>;

  constructor(route: string, method: string, errors: Map<string, number>) {
    this.route = route;
    this.method = method;
    this.#errors = errors;
  }

  /** Counts one answer: its status, and the time from the handler's start to its status line. */
  answered(status: number, ms: number): void {
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
    const seconds = ms / 1000;
    let bucket = 0;
    while (bucket < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[bucket]!) bucket++;
    this.buckets[bucket]!++;
    this.seconds += seconds;
    this.count++;
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

/** Every route's metrics, made when the routes are registered. */
export class HttpMetrics {
  readonly #routes = new Map<string, RouteMetrics>();
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
