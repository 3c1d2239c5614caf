import type { Cluster } from '../cluster.js';
import type { Limits } from '../limits.js';
import type { InFlight } from './in-flight.js';

/** What every route module needs. */
export interface RouteContext {
  cluster: Cluster;
  limits: Limits;
  inFlight: InFlight;
  /** Where the server reports what no client can be told (e.g. a batch cut off mid-body). */
  log: (line: string) => void;
}
