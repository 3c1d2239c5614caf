import { collectDefaultMetrics, Registry, type Metric } from 'prom-client';
import type { Cluster, NodeInfo } from '../cluster/cluster.js';
import type { HttpMetrics } from './http-metrics.js';
import type { Clock } from '../time/clock.js';
import { LATENCY_BUCKETS, type LatencyHistogram } from '../time/latency-histogram.js';

/** A sample: labels and value (a histogram's series name its own metric). */
interface Sample {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

/** What prom-client's registry asks of a metric: its name, help, type, and its samples on demand. */
interface CollectedMetric {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  aggregator: 'sum';
  get(): Promise<{ name: string; help: string; type: string; aggregator: 'sum'; values: Sample[] }>;
}

/** A histogram's series: cumulative buckets, sum and count (none while it is empty). */
function histogramSamples(
  name: string,
  labels: Record<string, string | number>,
  histogram: LatencyHistogram,
): Sample[] {
  if (histogram.count === 0) return [];
  let cumulative = 0;
  return [
    ...LATENCY_BUCKETS.map((le, i) => ({
      labels: { ...labels, le },
      value: (cumulative += histogram.buckets[i]!),
      metricName: `${name}_bucket`,
    })),
    { labels: { ...labels, le: '+Inf' }, value: histogram.count, metricName: `${name}_bucket` },
    { labels, value: histogram.seconds, metricName: `${name}_sum` },
    { labels, value: histogram.count, metricName: `${name}_count` },
  ];
}

/**
 * The node states a node can be in, each a `thunderdb_node_state{node,state}` series (1 for
 * the state it is in): a fixed set, so no series appears or vanishes as states change.
 */
const NODE_STATES = ['starting', 'up', 'joining', 'leaving', 'down', 'stopped'] as const;

/**
 * How long a rendered page answers every scrape, ms. A rendering costs the main thread a few
 * milliseconds and each node a statistics call, on the threads that serve the data path; 4
 * clients scraping in a loop cut PUT throughput to a quarter (bench/RESULTS.md, "Metrics").
 * Reused, any number of scrapers cost one rendering a second, and a page is at most this
 * old: Prometheus's own guidance allows caching a collector that is expensive, said in its
 * HELP (here `thunderdb_metrics_renders_total`'s).
 */
export const METRICS_REUSE_MS = 1000;

/**
 * `GET /metrics` for a running cluster and its front end, in Prometheus text. The counts
 * live where they are made (the front end's {@link HttpMetrics}, the cluster's own
 * counters, each node's statistics, asked once per rendering); this only reads them, so
 * nothing is paid on the hot path beyond the counting itself. Names follow Prometheus
 * conventions: a `thunderdb_` prefix, base units (seconds, bytes), `_total` counters, and no
 * label that takes a key or any other unbounded value. Node.js's own process metrics
 * (CPU, memory, event-loop lag) come from prom-client under the same prefix.
 */
export class ClusterMetrics {
  readonly registry = new Registry();
  readonly #cluster: Cluster;
  readonly #clock: Clock;
  readonly #reuseMs: number;
  /** The nodes' statistics for the rendering under way: asked once, read by every node metric. */
  #nodes: Promise<NodeInfo[]> | null = null;
  /** The last page, or the one being rendered; null before the first or after a failure. */
  #page: Promise<Buffer> | null = null;
  /** When `#page` was rendered, on the clock; null while it is being rendered. */
  #renderedAt: number | null = null;
  #renders = 0;

  /** `reuseMs`: how long a page answers every scrape; default {@link METRICS_REUSE_MS}. */
  constructor(cluster: Cluster, http: HttpMetrics, clock: Clock, reuseMs = METRICS_REUSE_MS) {
    this.#cluster = cluster;
    this.#clock = clock;
    this.#reuseMs = reuseMs;
    collectDefaultMetrics({ register: this.registry, prefix: 'thunderdb_' });
    const add = (
      name: string,
      help: string,
      type: CollectedMetric['type'],
      collect: () => Promise<Sample[]>,
    ) => {
      const metric: CollectedMetric = {
        name,
        help,
        type,
        aggregator: 'sum',
        get: async () => ({ name, help, type, aggregator: 'sum', values: await collect() }),
      };
      // prom-client types registerMetric for its own classes, but reads only what
      // CollectedMetric has (get() and name): a collector that counts nothing itself.
      this.registry.registerMetric(metric as unknown as Metric);
    };
    const now = async (samples: Sample[]) => samples;

    add(
      'thunderdb_metrics_renders_total',
      `Times this page was rendered. A page is reused for ${reuseMs / 1000} s: scrapes while it renders wait for it, scrapes within ${reuseMs / 1000} s after get the same page, so any number of scrapers cost one rendering per ${reuseMs / 1000} s and every value here may be up to ${reuseMs / 1000} s old.`,
      'counter',
      () => now([{ labels: {}, value: this.#renders }]),
    );

    add(
      'thunderdb_http_requests_total',
      'HTTP answers by route pattern, method and status code.',
      'counter',
      () =>
        now(
          [...http.routes].flatMap((r) =>
            [...r.statuses].map(([code, value]) => ({
              labels: { route: r.route, method: r.method, code },
              value,
            })),
          ),
        ),
    );
    add(
      'thunderdb_http_request_duration_seconds',
      'Time from the start of a request’s handler to its status line (to the first byte of a streamed answer).',
      'histogram',
      () =>
        now(
          [...http.routes].flatMap((r) =>
            histogramSamples(
              'thunderdb_http_request_duration_seconds',
              { route: r.route, method: r.method },
              r,
            ),
          ),
        ),
    );
    add(
      'thunderdb_node_round_trip_seconds',
      'How long the node’s batches took, sent to answered: both hops, its queue and its work.',
      'histogram',
      async () =>
        (await this.#nodeInfo()).flatMap((node) => {
          const trips = cluster.roundTripsOf(node.id);
          return trips === undefined
            ? []
            : histogramSamples('thunderdb_node_round_trip_seconds', { node: node.id }, trips);
        }),
    );
    add(
      'thunderdb_http_errors_total',
      'Error answers by catalogue code (QUORUM_NOT_MET: a quorum failure; NODE_TIMEOUT; BAD_REQUEST…).',
      'counter',
      () => now([...http.errors].map(([code, value]) => ({ labels: { code }, value }))),
    );

    add('thunderdb_watchers', 'GET /watch streams open now.', 'gauge', () =>
      now([{ labels: {}, value: http.watch.open }]),
    );
    add(
      'thunderdb_watch_events_total',
      'Change events written to GET /watch streams, all streams together.',
      'counter',
      () => now([{ labels: {}, value: http.watch.events }]),
    );
    add(
      'thunderdb_watchers_cut_total',
      'Watch streams closed for falling more than 1 MiB behind (they resume from their last version).',
      'counter',
      () => now([{ labels: {}, value: http.watch.cut }]),
    );
    add(
      'thunderdb_changes_total',
      'Acknowledged changes (puts, deletes, expiries) released to watchers, in version order.',
      'counter',
      () => now([{ labels: {}, value: cluster.feed.released }]),
    );

    const perNode = (
      name: string,
      help: string,
      type: CollectedMetric['type'],
      pick: (node: NodeInfo) => number | undefined,
    ) =>
      add(name, help, type, async () =>
        (await this.#nodeInfo()).flatMap((node) => {
          const value = pick(node);
          return value === undefined ? [] : [{ labels: { node: node.id }, value }];
        }),
      );
    perNode('thunderdb_node_up', 'Whether the node is up and serving (1), or not (0).', 'gauge', (n) =>
      n.state === 'up' ? 1 : 0,
    );
    add(
      'thunderdb_node_state',
      'The node’s state: 1 for the state it is in, 0 for the others.',
      'gauge',
      async () =>
        (await this.#nodeInfo()).flatMap((node) =>
          NODE_STATES.map((state) => ({
            labels: { node: node.id, state },
            value: node.state === state ? 1 : 0,
          })),
        ),
    );
    perNode(
      'thunderdb_node_keys',
      'Keys holding a value on the node (each replica counts).',
      'gauge',
      (n) => n.keys,
    );
    perNode(
      'thunderdb_node_expiring_keys',
      'Keys whose value expires, expired ones too until purged (each replica counts).',
      'gauge',
      (n) => n.expiring,
    );
    perNode(
      'thunderdb_node_tombstones',
      'Deleted keys whose tombstones the node keeps until purged.',
      'gauge',
      (n) => n.tombstones,
    );
    perNode('thunderdb_node_data_bytes', 'Bytes of keys and values the node holds.', 'gauge', (n) => n.bytes);
    perNode(
      'thunderdb_node_store_bytes',
      'Memory the node’s store holds outside the JS heap.',
      'gauge',
      (n) => n.storeBytes,
    );
    perNode(
      'thunderdb_node_heap_used_bytes',
      'V8 heap used by the node’s thread.',
      'gauge',
      (n) => n.heapUsed,
    );
    perNode(
      'thunderdb_node_operations_total',
      'Operations the node applied since its thread started.',
      'counter',
      (n) => n.ops,
    );
    perNode(
      'thunderdb_node_partitions',
      'Ring partitions the node owns (first of their preference list).',
      'gauge',
      (n) => n.partitions,
    );
    perNode(
      'thunderdb_node_partitions_under_repair',
      'Partitions being copied to or from the node right now.',
      'gauge',
      (n) => n.partitionsUnderRepair,
    );
    perNode(
      'thunderdb_node_backlog',
      'Operations sent to the node and not yet answered: a replica behind its storage shows here.',
      'gauge',
      (n) => n.backlog,
    );
    perNode(
      'thunderdb_hints_pending',
      'Writes kept for the node while it was down, not yet replayed.',
      'gauge',
      (n) => n.hints,
    );
    perNode(
      'thunderdb_hints_dropped_total',
      'Hints for the node dropped past the hint budget.',
      'counter',
      (n) => n.hintsDropped,
    );

    const coordinator = () => cluster.coordinatorStats();
    add('thunderdb_transfers', 'Partition copies under way (refills, joins, leaves).', 'gauge', () =>
      now([{ labels: {}, value: coordinator().transfers.length }]),
    );
    add('thunderdb_read_repairs_total', 'Read repairs sent to stale replicas.', 'counter', () =>
      now([{ labels: {}, value: coordinator().readRepairs }]),
    );
    add(
      'thunderdb_read_fetches_total',
      'Records a read fetched after a digest showed a newer version than the record it was sent.',
      'counter',
      () => now([{ labels: {}, value: coordinator().readFetches }]),
    );
    add(
      'thunderdb_values_lost_found_total',
      'Replica answers that the storage backend lost the value of the version the replica holds.',
      'counter',
      () => now([{ labels: {}, value: coordinator().valuesLostFound }]),
    );
    add('thunderdb_anti_entropy_runs_total', 'Anti-entropy rounds run.', 'counter', () =>
      now([{ labels: {}, value: coordinator().antiEntropy.runs }]),
    );
    add(
      'thunderdb_anti_entropy_partitions_repaired_total',
      'Partitions anti-entropy found different between replicas and copied.',
      'counter',
      () => now([{ labels: {}, value: coordinator().antiEntropy.partitionsRepaired }]),
    );
    add(
      'thunderdb_tombstones_purged_total',
      'Tombstones purged after every replica held them for the grace period.',
      'counter',
      () => now([{ labels: {}, value: coordinator().tombstonesPurged }]),
    );
    add(
      'thunderdb_expired_purged_total',
      'Expired values purged from every replica once the grace period had passed.',
      'counter',
      () => now([{ labels: {}, value: coordinator().expiredPurged }]),
    );
    add('thunderdb_faults_active', 'Faults in force, by type.', 'gauge', () => {
      const counts = new Map<string, number>([
        ['partition', 0],
        ['latency', 0],
        ['loss', 0],
        ['duplicate', 0],
        ['pause', 0],
      ]);
      for (const fault of cluster.faults()) counts.set(fault.type, (counts.get(fault.type) ?? 0) + 1);
      return now([...counts].map(([type, value]) => ({ labels: { type }, value })));
    });
  }

  /**
   * The metrics as Prometheus text (UTF-8), rendered at most once per `reuseMs`: a call
   * while a rendering runs gets that rendering, a call within `reuseMs` of its end gets it
   * too. A failed rendering is not reused.
   */
  page(): Promise<Buffer> {
    const at = this.#renderedAt;
    if (this.#page === null || (at !== null && this.#clock.now() - at >= this.#reuseMs)) {
      const page = this.#render();
      this.#page = page;
      this.#renderedAt = null;
      page.then(
        () => {
          if (this.#page === page) this.#renderedAt = this.#clock.now();
        },
        () => {
          if (this.#page === page) this.#page = null;
        },
      );
    }
    return this.#page;
  }

  /** Renders the page: the nodes are asked for their statistics once. */
  async #render(): Promise<Buffer> {
    this.#renders++;
    this.#nodes = this.#cluster.nodes();
    try {
      return Buffer.from(await this.registry.metrics());
    } finally {
      this.#nodes = null;
    }
  }

  #nodeInfo(): Promise<NodeInfo[]> {
    return this.#nodes ?? this.#cluster.nodes();
  }
}
