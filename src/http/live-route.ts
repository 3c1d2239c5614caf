import { systemClock, type Clock } from '../time/clock.js';
import { LATENCY_BUCKETS, p99Of } from '../time/latency-histogram.js';
import type { CheckSummary } from '../check/live-tracker.js';
import type { Ring } from '../ring/ring.js';
import type { RouteContext } from './context.js';
import type { RequestGuard } from './request-guard.js';
import { ShuttingDownError } from '../errors.js';
import { sendError } from './reply.js';
import type { App, WebSocket } from './seam.js';

const TOPIC = 'live';
/** How often the dashboard's state is pushed: Riak Control polled once a second; this pushes as often. */
export const LIVE_INTERVAL_MS = 1000;
/** How often the ring is looked at for a change to push at once. */
const RING_WATCH_MS = 100;

/** A p99 in seconds (the upper bound of its bucket), "over" past the last bound (10 s), or null for none. */
type P99 = number | 'over' | null;

/** A p99 as JSON carries it: JSON has no Infinity. */
const wire = (p99: number | null): P99 => (p99 === Infinity ? 'over' : p99);

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
  nodeP99Seconds: Record<number, P99>;
  /** Answers per second over the last interval, all routes, and their p99 (seconds; null: none). */
  answersPerSecond: number;
  p99Seconds: P99;
  /** The check under way against this cluster, else the newest one over (null: none yet). */
  check: CheckSummary | null;
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
  app: App,
  ctx: RouteContext,
  guard: RequestGuard,
  clock: Clock = systemClock,
): () => void {
  const sockets = new Set<WebSocket<{ open: boolean }>>();
  let previous = { count: 0, buckets: new Float64Array(LATENCY_BUCKETS.length + 1), at: clock.now() };
  /** Each node's round-trip buckets at the last tick. */
  const previousTrips = new Map<number, Float64Array>();
  /** The rates of the last tick: pushes between ticks (a new listener, a change) repeat them. */
  let rates: Pick<LiveState, 'answersPerSecond' | 'p99Seconds' | 'nodeP99Seconds'> = {
    answersPerSecond: 0,
    p99Seconds: null,
    nodeP99Seconds: {},
  };

  /** Answers per second since the last tick, all routes but /live, and their p99; the same per node. */
  const measure = (ids: number[]): typeof rates => {
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
    const nodeP99 = (id: number) => {
      const trips = ctx.cluster.roundTripsOf(id);
      if (trips === undefined) return null;
      const before = previousTrips.get(id) ?? new Float64Array(trips.buckets.length);
      previousTrips.set(id, trips.buckets.slice());
      return wire(p99Of(trips.buckets.map((n, i) => n - before[i]!)));
    };
    return {
      answersPerSecond: Math.round(perSecond),
      p99Seconds: wire(p99Of(delta)),
      nodeP99Seconds: Object.fromEntries(ids.map((id) => [id, nodeP99(id)])),
    };
  };

  /** Pushes are numbered as begun: one that ends after a later one is not sent. */
  let begun = 0;
  let sent = 0;
  /** Builds the state; `tick`: this is the once-a-second push, which measures the rates. */
  const state = async (tick: boolean): Promise<string | null> => {
    const number = ++begun;
    const { cluster } = ctx;
    // The ring as it is now: the nodes' statistics can take a while to come (a slow node).
    const ring = cluster.ring;
    const moving = movingPartitions(ring, cluster.nextRing);
    const nodes = await cluster.nodes();
    if (tick) rates = measure(nodes.map((node) => node.id));
    if (number < sent) return null;
    sent = number;
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
      ...rates,
      check: ctx.checks.current,
    };
    return JSON.stringify(live);
  };
  const publish = (json: string | null) => {
    if (json !== null && !stopped) app.publish(TOPIC, json);
  };

  let stopped = false;
  let disarm: () => void = () => {};
  const tick = () => {
    if (stopped) return;
    const push = app.numSubscribers(TOPIC) > 0 ? state(true).then(publish) : Promise.resolve();
    // The next push is timed from this one's end: a slow cluster.nodes() never piles pushes up.
    void push
      .catch(() => {})
      .then(() => {
        if (!stopped) disarm = clock.setTimer(LIVE_INTERVAL_MS, tick);
      });
  };
  // A change of the ring (a join or a leave begun or ended) or of a node's state is pushed
  // at once, not at the next tick: a join can be over within a second.
  const signature = () => {
    const { cluster } = ctx;
    const ids = [...new Set([...cluster.ring.members, ...(cluster.nextRing?.members ?? [])])];
    return ids.map((id) => `${id}:${cluster.stateOf(id)}`).join(',');
  };
  let seenRing = ctx.cluster.ring;
  let seenNext = ctx.cluster.nextRing;
  let seenStates = signature();
  let disarmWatch: () => void = () => {};
  const watch = () => {
    if (stopped) return;
    const { ring, nextRing } = ctx.cluster;
    const states = signature();
    if (ring !== seenRing || nextRing !== seenNext || states !== seenStates) {
      if (app.numSubscribers(TOPIC) > 0) void state(false).then(publish, () => {});
    }
    seenRing = ring;
    seenNext = nextRing;
    seenStates = states;
    disarmWatch = clock.setTimer(RING_WATCH_MS, watch);
  };

  app.ws<{ open: boolean }>('/live', {
    idleTimeout: 60,
    sendPingsAutomatically: true,
    maxPayloadLength: 1024,
    upgrade: (res, req, context) => {
      // Once the server is closing, no new listener: it would hold the process open.
      if (stopped || ctx.inFlight.draining) return sendError(res, new ShuttingDownError(), true);
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
      if (stopped) return void ws.end(1001, 'server stopping');
      sockets.add(ws);
      ws.subscribe(TOPIC);
      state(false).then(
        (json) => void (json !== null && ws.getUserData().open && ws.send(json)),
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
  // Only now: numSubscribers on an app without a WebSocket route crashes the process.
  disarm = clock.setTimer(LIVE_INTERVAL_MS, tick);
  disarmWatch = clock.setTimer(RING_WATCH_MS, watch);

  return () => {
    stopped = true;
    disarm();
    disarmWatch();
    for (const ws of sockets) if (ws.getUserData().open) ws.end(1001, 'server stopping');
    sockets.clear();
  };
}
