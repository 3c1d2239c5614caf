import type { LiveChecks } from '../check/live-checks.js';
import type { Cluster } from '../cluster/cluster.js';
import type { Limits } from '../limits.js';
import type { Clock } from '../time/clock.js';
import type { HttpMetrics } from '../metrics/http-metrics.js';
import type { HeavyGate } from './heavy-gate.js';
import type { InFlight } from './in-flight.js';

/** What every route module needs. */
export interface RouteContext {
  cluster: Cluster;
  limits: Limits;
  inFlight: InFlight;
  /** Admits `_mget`, `/snapshot` and listings up to `limits.maxHeavyRequests` at once. */
  heavy: HeavyGate;
  /** What the front end counts of its answers, for `GET /metrics`. */
  http: HttpMetrics;
  /** Where the server reports what no client can be told (e.g. a batch cut off mid-body). */
  log: (line: string) => void;
  /** The checks run against this cluster, or reported to it (`/check`, design.md §14). */
  checks: LiveChecks;
  /** The front end's own time: how long a rendered `/metrics` page is reused (stalled answers take it from `inFlight`). */
  clock: Clock;
  /** The folder of checks' output folders `GET /replay/files/…` reads traces from. */
  checksDir: string;
}
