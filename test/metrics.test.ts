import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { METRICS_REUSE_MS } from '../src/metrics/prometheus.js';
import { systemClock, type Clock } from '../src/time/clock.js';
import { LatencyHistogram, p99Of } from '../src/time/latency-histogram.js';
import { FRONT_ENDS, startRunning, TIMEOUT } from './helpers.js';

/** The system clock, but its monotonic time stands still until the test moves it. */
function stillClock(): Clock & { advance(ms: number): void } {
  let now = 0;
  return { ...systemClock, now: () => now, advance: (ms) => void (now += ms) };
}

/** Prometheus text as `name{labels}` → value, and each metric family's TYPE. */
function parse(text: string): { samples: Map<string, number>; types: Map<string, string> } {
  const samples = new Map<string, number>();
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return { samples, types };
}

for (const frontEnd of FRONT_ENDS)
  describe(`on ${frontEnd}`, () => {
    test(
      'GET /metrics counts a known workload as the cluster really is: answers, latencies, errors, nodes, hints, faults',
      TIMEOUT,
      async (t) => {
        const clock = stillClock();
        const run = await startRunning({ http: frontEnd, nodes: 3, antiEntropyMs: 0, serverClock: clock });
        t.after(() => run.stop());
        const { url } = run;
        for (let i = 0; i < 20; i++) await fetch(`${url}/kv/k${i}`, { method: 'PUT', body: `v${i}` });
        assert.equal(await (await fetch(`${url}/kv/k1`)).text(), 'v1');
        assert.equal((await fetch(`${url}/kv/absent`)).status, 404);
        assert.equal((await fetch(`${url}/kv/k0`, { method: 'DELETE' })).status, 204);
        await fetch(`${url}/cluster/nodes/1/crash`, { method: 'POST' });
        // Every key has a replica on node 1 (3 nodes, 3 replicas): each of these leaves a hint.
        for (let i = 0; i < 5; i++) await fetch(`${url}/kv/after${i}`, { method: 'PUT', body: 'x' });
        const quorum = await fetch(`${url}/kv/k2?w=3`, { method: 'PUT', body: 'needs all three' });
        assert.equal(quorum.status, 503);
        await fetch(`${url}/cluster/faults`, {
          method: 'POST',
          body: JSON.stringify({ type: 'latency', nodes: [2], ms: 1 }),
        });

        const answer = await fetch(`${url}/metrics`);
        assert.equal(answer.status, 200);
        assert.match(answer.headers.get('content-type')!, /^text\/plain; version=0\.0\.4/);
        const { samples, types } = parse(await answer.text());
        const value = (series: string) => {
          assert.ok(samples.has(series), `${series} is missing`);
          return samples.get(series);
        };

        const kv = (method: string, code: number) =>
          value(`thunderdb_http_requests_total{route="/kv/*",method="${method}",code="${code}"}`);
        assert.deepEqual(
          [kv('put', 204), kv('get', 200), kv('get', 404), kv('delete', 204), kv('put', 503)],
          [25, 1, 1, 1, 1],
        );
        assert.equal(
          value('thunderdb_http_requests_total{route="/cluster/nodes/:id/crash",method="post",code="200"}'),
          1,
        );
        const put = (suffix: string) => value(`thunderdb_http_request_duration_seconds_${suffix}`);
        assert.equal(put('count{route="/kv/*",method="put"}'), 26);
        assert.equal(put('bucket{route="/kv/*",method="put",le="+Inf"}'), 26);
        assert.ok(put('sum{route="/kv/*",method="put"}')! > 0);
        const buckets = [...samples]
          .filter(([series]) =>
            series.startsWith('thunderdb_http_request_duration_seconds_bucket{route="/kv/*",method="put"'),
          )
          .map(([, count]) => count);
        assert.deepEqual(
          buckets,
          [...buckets].sort((a, b) => a - b),
          'buckets are cumulative',
        );
        assert.equal(value('thunderdb_http_errors_total{code="KEY_NOT_FOUND"}'), 1);
        assert.equal(value('thunderdb_http_errors_total{code="QUORUM_NOT_MET"}'), 1);

        assert.deepEqual(
          [0, 1, 2].map((node) => value(`thunderdb_node_up{node="${node}"}`)),
          [1, 0, 1],
        );
        assert.equal(value('thunderdb_node_state{node="1",state="down"}'), 1);
        assert.equal(value('thunderdb_node_state{node="1",state="up"}'), 0);
        // 20 written, 1 deleted, 5 more: 24 keys and 1 tombstone on every node that is up.
        assert.equal(value('thunderdb_node_keys{node="0"}'), 24);
        assert.equal(value('thunderdb_node_tombstones{node="2"}'), 1);
        assert.equal(
          samples.has('thunderdb_node_keys{node="1"}'),
          false,
          'a down node reports no statistics',
        );
        assert.equal(value('thunderdb_hints_pending{node="1"}'), 5);
        assert.equal(value('thunderdb_hints_pending{node="0"}'), 0);
        assert.ok(value('thunderdb_node_operations_total{node="0"}')! >= 27);
        assert.equal(
          [0, 1, 2].reduce((n, node) => n + value(`thunderdb_node_partitions{node="${node}"}`)!, 0),
          1024,
        );
        assert.equal(value('thunderdb_faults_active{type="latency"}'), 1);
        assert.equal(value('thunderdb_faults_active{type="partition"}'), 0);
        const cluster = (await (await fetch(`${url}/cluster`)).json()) as {
          nodes: { id: number; bytes?: number }[];
        };
        assert.equal(
          value('thunderdb_node_data_bytes{node="2"}'),
          cluster.nodes.find((n) => n.id === 2)!.bytes,
        );
        assert.ok(samples.has('thunderdb_nodejs_eventloop_lag_seconds'), 'the front end’s event-loop lag');
        // Node 0 answered a batch for every write and read it took part in: at least 27 round trips.
        const trips = value('thunderdb_node_round_trip_seconds_count{node="0"}')!;
        assert.ok(trips >= 27, `${trips} round trips`);
        assert.equal(value('thunderdb_node_round_trip_seconds_bucket{node="0",le="+Inf"}'), trips);

        for (const [name, type] of types) {
          assert.match(name, /^thunderdb_[a-z0-9_]+$/, name);
          if (type === 'counter') assert.match(name, /_total$/, `${name} is a counter`);
        }
        for (const series of samples.keys()) assert.doesNotMatch(series, /\bkey=/, 'no label takes a key');
        // The scrape itself is counted by the next page.
        clock.advance(METRICS_REUSE_MS);
        const again = parse(await (await fetch(`${url}/metrics`)).text());
        assert.equal(
          again.samples.get('thunderdb_http_requests_total{route="/metrics",method="get",code="200"}'),
          1,
        );
      },
    );

    test('GET /metrics renders one page per second whoever asks: concurrent scrapes share a rendering, later ones reuse it until the clock moves past it', async (t) => {
      const clock = stillClock();
      const run = await startRunning({ http: frontEnd, nodes: 3, antiEntropyMs: 0, serverClock: clock });
      t.after(() => run.stop());
      const scrape = async () => {
        const answer = await fetch(`${run.url}/metrics`);
        assert.equal(answer.status, 200);
        return answer.text();
      };
      const renders = (page: string) => parse(page).samples.get('thunderdb_metrics_renders_total');
      const puts = (page: string) =>
        parse(page).samples.get('thunderdb_http_requests_total{route="/kv/*",method="put",code="204"}');

      const pages = await Promise.all(Array.from({ length: 8 }, scrape));
      assert.equal(renders(pages[0]!), 1, 'eight scrapes at once, one rendering');
      assert.equal(new Set(pages).size, 1, 'all eight got the same page');
      assert.match(pages[0]!, /^# HELP thunderdb_metrics_renders_total .*reused for 1 s/m);

      assert.equal((await fetch(`${run.url}/kv/k`, { method: 'PUT', body: 'v' })).status, 204);
      clock.advance(METRICS_REUSE_MS - 1);
      assert.ok((await scrape()) === pages[0], 'within a second of the rendering, the same page');
      clock.advance(1);
      const fresh = await scrape();
      assert.equal(renders(fresh), 2);
      assert.equal(puts(fresh), 1, 'a new page shows what happened since');
      assert.equal(puts(pages[0]!), undefined);
    });

    test('p99Of() names the bucket holding the 99th percentile: its upper bound, Infinity past 10 s, null for none', () => {
      const histogram = new LatencyHistogram();
      assert.equal(p99Of(histogram.buckets), null);
      for (let i = 0; i < 99; i++) histogram.observe(0.2); // ≤ 0.25 ms
      histogram.observe(30); // ≤ 50 ms
      assert.equal(p99Of(histogram.buckets), 0.00025, '99 of 100 in the first bucket that holds them');
      histogram.observe(40);
      assert.equal(p99Of(histogram.buckets), 0.05, 'now the 99th of 101 is in the 50 ms bucket');
      const slow = new LatencyHistogram();
      slow.observe(20_000);
      assert.equal(p99Of(slow.buckets), Infinity);
      assert.equal(slow.count, 1);
      assert.equal(slow.seconds, 20);
    });
  });
