/** Upper bounds of the latency buckets, in seconds (the last, +Inf, is implicit). */
export const LATENCY_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
] as const;

/**
 * Latencies counted into fixed buckets, as a Prometheus histogram reads them: a few array
 * increments per observation, no allocation, so the hot path can afford one per answer.
 */
export class LatencyHistogram {
  /** Observations per bucket (not cumulative; the last is past every bound). */
  readonly buckets = new Float64Array(LATENCY_BUCKETS.length + 1);
  seconds = 0;
  count = 0;

  /** Counts one latency, given in milliseconds. */
  observe(ms: number): void {
    const seconds = ms / 1000;
    let bucket = 0;
    while (bucket < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[bucket]!) bucket++;
    this.buckets[bucket]!++;
    this.seconds += seconds;
    this.count++;
  }
}

/**
 * The 99th percentile of the observations counted in `buckets` (per bucket, not cumulative)
 * as the upper bound of the bucket that holds it: Infinity past the last bound; null for none.
 */
export function p99Of(buckets: ArrayLike<number>): number | null {
  let total = 0;
  for (let i = 0; i < buckets.length; i++) total += buckets[i]!;
  if (total === 0) return null;
  let seen = 0;
  let bucket = 0;
  while (bucket < buckets.length - 1 && (seen += buckets[bucket]!) < 0.99 * total) bucket++;
  return bucket < LATENCY_BUCKETS.length ? LATENCY_BUCKETS[bucket]! : Infinity;
}
