import { toThunderError } from '../errors.js';
import type { ClusterMetrics } from '../metrics/prometheus.js';
import type { RouteContext } from './context.js';
import { Deferred } from './deferred.js';
import type { Router } from './router.js';

/**
 * Registers `GET /metrics`: the cluster's and the front end's metrics in Prometheus text
 * (see src/metrics/prometheus.ts): one page, rendered at most once a second however many
 * scrape (`METRICS_REUSE_MS` there). The collectors, and prom-client's process metrics
 * with their event-loop monitor, start at the first scrape: a server nobody scrapes pays
 * only for the front end's own counting.
 */
export function registerMetricsRoute(app: Router, ctx: RouteContext): void {
  let metrics: Promise<ClusterMetrics> | null = null;
  app.get('/metrics', (res) => {
    const deferred = new Deferred(res, ctx.inFlight);
    metrics ??= import('../metrics/prometheus.js').then(
      ({ ClusterMetrics }) => new ClusterMetrics(ctx.cluster, ctx.http, ctx.clock),
      (err: unknown) => {
        metrics = null; // the next scrape tries again
        throw err;
      },
    );
    metrics
      .then(async (collector) => deferred.bytes(await collector.page(), collector.registry.contentType))
      .catch((err: unknown) => deferred.error(toThunderError(err)));
  });
}
