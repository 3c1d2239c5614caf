import { systemClock, type Clock } from '../clock.js';
import { LATENCY_BUCKETS, p99Of } from '../metrics/latency-histogram.js';
import type { Ring } from '../ring.js';
import type { RouteContext } from './context.js';
import type { RequestGuard } from './request-guard.js';
import { sendError } from './reply.js';
import type { TemplatedApp, WebSocket } from './uws.js';

const TOPIC = 'live';
/** How often the dashboard's state is pushed: Riak Control polled once a second; this pushes as often. */
export const LIVE_INTERVAL_MS = 1000;
/** How often the ring is looked at for a change to push at once. */
const RING_WATCH_MS = 100;

/** What one push says (the dashboard's whole model; see dashboard/index.html). */
export interface LiveState {
  /** Wall-clock ms of this state. */
  time: number;
  nodes: unknown[];
  ring: {
    partitions: number;
    replicas: number;
    members: readonly number[];
    preference: number[][];
    /** During a join or a leave, the partitions whose replicas change: they are being copied. */
    moving: number[];
  };
  transfers: unknown[];
  faults: unknown[];
  /** Each node's batch round trip p99 over the last interval, by node id (seconds; null: none). */
  nodeP99Seconds: Record<number, number | null>;
  /** Answers per second over the last interval, all routes, and their p99 (seconds; null: none). */
  answersPerSecond: number;
  p99Seconds: number | null;
}

/** The partitions whose preference lists differ between `ring` and `next`. */
function movingPartitions(ring: Ring, next: Ring | null): number[] {
  if (next === null) return [];
  const moving: number[] = [];
  for (let p = 0; p < ring.partitions; p++) {
    const before = ring.preferenceList(p);
    const after = next.preferenceList(p);
    if (before.length !== after.length || before.some((node, i) => node !== after[i])) moving.push(p);
  }
  return moving;
}

/**
 * `GET /live`, a WebSocket the dashboard listens on: every second, while anyone listens,
 * one message with the nodes' state and statistics, the ring's preference lists, the
 * copies under way, the faults in force, and the front end's answers per second and p99
 * over the last second. A new listener gets the state at once, and so does every listener
 * when a join or a leave begins or ends. The upgrade is refused for
 * the Hosts and Origins the HTTP routes refuse, so a foreign page cannot listen. Returns
 * the function that stops the feed and closes every listener (for the server's close).
 */
export function registerLiveRoute(
  app: TemplatedApp,
  ctx: RouteContext,
  guard: RequestGuard,
  clock: Clock = systemClock,
): () => void {
  const sockets = new Set<WebSocket<{ open: boolean }>>();
  let previous = { count: 0, buckets: new Float64Array(LATENCY_BUCKETS.length + 1), at: clock.now() };
  /** Each node's round-trip buckets at the last push. */
  const previousTrips = new Map<number, Float64Array>();

  /** Answers per second since the last call, all routes but /live, and their p99. */
  const throughput = (): { perSecond: number; p99: number | null } => {
    const buckets = new Float64Array(LATENCY_BUCKETS.length + 1);
    let count = 0;
    for (const route of ctx.http.routes) {
      if (route.route === '/live') continue;
      count += route.count;
      for (let i = 0; i < buckets.length; i++) buckets[i]! += route.buckets[i]!;
    }
    const now = clock.now();
    const seconds = Math.max((now - previous.at) / 1000, 1e-3);
    const delta = buckets.map((n, i) => n - previous.buckets[i]!);
    const perSecond = (count - previous.count) / seconds;
    previous = { count, buckets, at: now };
    return { perSecond, p99: p99Of(delta) };
  };

  /** Node `id`'s round-trip p99 since the last call. */
  const nodeP99 = (id: number): number | null => {
    const trips = ctx.cluster.roundTripsOf(id);
    if (trips === undefined) return null;
    const before = previousTrips.get(id) ?? new Float64Array(trips.buckets.length);
    previousTrips.set(id, trips.buckets.slice());
    return p99Of(trips.buckets.map((n, i) => n - before[i]!));
  };

  const state = async (): Promise<string> => {
    const { cluster } = ctx;
    // The ring as it is now: the nodes' statistics can take a while to come (a slow node).
    const ring = cluster.ring;
    const moving = movingPartitions(ring, cluster.nextRing);
    const nodes = await cluster.nodes();
    const { perSecond, p99 } = throughput();
    const live: LiveState = {
      time: clock.wall(),
      nodes,
      ring: {
        partitions: ring.partitions,
        replicas: ring.replicas,
        members: ring.members,
        preference: Array.from({ length: ring.partitions }, (_, p) => ring.preferenceList(p)),
        moving,
      },
      transfers: cluster.coordinatorStats().transfers,
      faults: cluster.faults(),
      nodeP99Seconds: Object.fromEntries(nodes.map((node) => [node.id, nodeP99(node.id)])),
      answersPerSecond: Math.round(perSecond),
      p99Seconds: p99,
    };
    return JSON.stringify(live);
  };

  let stopped = false;
  let disarm: () => void = () => {};
  const tick = () => {
    if (stopped) return;
    const push =
      app.numSubscribers(TOPIC) > 0
        ? state().then((json) => void (stopped || app.publish(TOPIC, json)))
        : Promise.resolve();
    // The next push is timed from this one's end: a slow cluster.nodes() never piles pushes up.
    void push.catch(() => {}).then(() => (disarm = clock.setTimer(LIVE_INTERVAL_MS, tick)));
  };
  disarm = clock.setTimer(LIVE_INTERVAL_MS, tick);
  // A ring change (a join or a leave starting or ending) is pushed at once, not at the next
  // tick: a join can be over within a second.
  let seenRing = ctx.cluster.ring;
  let seenNext = ctx.cluster.nextRing;
  let disarmWatch: () => void = () => {};
  const watch = () => {
    if (stopped) return;
    const { ring, nextRing } = ctx.cluster;
    if ((ring !== seenRing || nextRing !== seenNext) && app.numSubscribers(TOPIC) > 0) {
      void state().then(
        (json) => void (stopped || app.publish(TOPIC, json)),
        () => {},
      );
    }
    seenRing = ring;
    seenNext = nextRing;
    disarmWatch = clock.setTimer(RING_WATCH_MS, watch);
  };
  disarmWatch = clock.setTimer(RING_WATCH_MS, watch);

  app.ws<{ open: boolean }>('/live', {
    idleTimeout: 60,
    sendPingsAutomatically: true,
    maxPayloadLength: 1024,
    upgrade: (res, req, context) => {
      const refused = guard.check(req, []);
      if (refused) return sendError(res, refused, true);
      res.upgrade(
        { open: true },
        req.getHeader('sec-websocket-key'),
        req.getHeader('sec-websocket-protocol'),
        req.getHeader('sec-websocket-extensions'),
        context,
      );
    },
    open: (ws) => {
      sockets.add(ws);
      ws.subscribe(TOPIC);
      state().then(
        (json) => void (ws.getUserData().open && ws.send(json)),
        () => {},
      );
    },
    // The dashboard acts through the HTTP routes, as a script would: it says nothing here.
    message: () => {},
    close: (ws) => {
      ws.getUserData().open = false;
      sockets.delete(ws);
    },
  });

  return () => {
    stopped = true;
    disarm();
    disarmWatch();
    for (const ws of sockets) if (ws.getUserData().open) ws.end(1001, 'server stopping');
    sockets.clear();
  };
}
