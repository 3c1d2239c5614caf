import { isUtf8 } from 'node:buffer';
import { BadRequestError, HistoryCompactedError, toThunderError } from '../errors.js';
import type { WatchStats } from '../metrics/http-metrics.js';
import type { Clock } from '../time/clock.js';
import type { Change } from '../watch/change.js';
import {
  HistoryCompacted,
  type ChangeFeed,
  type KeyFilter,
  type Subscription,
} from '../watch/change-feed.js';
import type { RouteContext } from './context.js';
import type { Stoppable } from './in-flight.js';
import { integer, parseQuery, version } from './params.js';
import { isHead, sendError, writeStatus } from './reply.js';
import type { Router } from './router.js';
import type { HttpResponse } from './seam.js';
import { StreamedAnswer } from './stream.js';

/** Server-Sent Events, for browsers and `curl -N`; NDJSON when asked for by Accept. */
export const EVENT_STREAM = 'text/event-stream';
export const NDJSON = 'application/x-ndjson';

/**
 * Events waiting for a watcher that is not taking them, at most: past this it is cut (its
 * connection closed) rather than buffered without bound, and resumes from the last version
 * it took (`since`, or the `Last-Event-ID` an EventSource sends by itself).
 */
export const WATCH_BUFFER_BYTES = 1 << 20;
/** A burst (a batch of writes released in one turn) goes out in pieces of this size. */
const FLUSH_BYTES = 256 * 1024;

/**
 * `?progress=MS`: how often a watcher hears a progress event when nothing else was sent (100
 * ms to 60 s, default 5 s): it says how far the watcher has caught up, and keeps proxies that
 * close idle connections from closing it (uWS itself keeps an idle stream open: 16 s with
 * 30 s progress, tried by hand).
 */
const WATCH_PARAMS = {
  prefix: (_name: string, value: string | undefined) => value,
  key: (_name: string, value: string | undefined) => value,
  since: version(),
  progress: integer({ min: 100, max: 60_000, fallback: 5_000 }),
};

/** One change as a JSON object: the value as text when it is UTF-8, else base64. */
export function changeJson(change: Change): string {
  let json = `{"type":"${change.type}","key":${JSON.stringify(change.key)},"version":${change.version}`;
  if (change.type === 'put') {
    json += `,"size":${change.size}`;
    const value = change.value;
    if (value !== null)
      json += isUtf8(value)
        ? `,"value":${JSON.stringify(value.toString('utf8'))}`
        : `,"value":"${value.toString('base64')}","encoding":"base64"`;
    if (change.expiresAt !== 0) json += `,"expiresAt":${change.expiresAt}`;
  }
  return json + '}';
}

/**
 * The last change made JSON, and its JSON: the feed tells every watcher of a change in turn,
 * so ten watchers of a key serialize it once, not ten times.
 */
let lastChange: Change | null = null;
let lastJson = '';

function jsonOnce(change: Change): string {
  if (change !== lastChange) {
    lastChange = change;
    lastJson = changeJson(change);
  }
  return lastJson;
}

/**
 * One `GET /watch` stream: the changes its filter matches, after `since`, in version order,
 * then each as the feed releases it; a progress event when nothing else went out for the
 * progress interval. Events are queued as they come and written a turn's worth at a time,
 * each write waiting for the client to take the one before (StreamedAnswer), so a watcher
 * that stops reading holds at most {@link WATCH_BUFFER_BYTES} before it is cut.
 */
class WatchStream implements Stoppable {
  readonly #answer: StreamedAnswer;
  readonly #ndjson: boolean;
  readonly #clock: Clock;
  readonly #feed: ChangeFeed;
  readonly #stats: WatchStats;
  readonly #progressMs: number;
  #subscription: Subscription | null = null;
  /** Ended: cut, stopped, or its client gone. */
  #closed = false;
  #queue: string[] = [];
  #queuedBytes = 0;
  /** A flush is due at the end of this turn. */
  #scheduled = false;
  /** The client has not yet taken all that was sent: events wait (and count towards the cut). */
  #draining = false;
  /** The version the client has been told everything up to (the last event queued). */
  #told: number;
  #disarmProgress: (() => void) | null = null;
  #sentSinceProgress = false;

  constructor(answer: StreamedAnswer, ctx: RouteContext, ndjson: boolean, since: number, progressMs: number) {
    this.#answer = answer;
    this.#ndjson = ndjson;
    this.#clock = ctx.clock;
    this.#feed = ctx.cluster.feed;
    this.#stats = ctx.http.watch;
    this.#progressMs = progressMs;
    this.#told = since;
  }

  /** Subscribes and starts; a `since` older than the history kept is answered 410 instead. */
  start(filter: KeyFilter, since: number | undefined): void {
    // Registered before the history is replayed: a replay too large for the client cuts it.
    this.#stats.open++;
    this.#answer.whenOver(() => this.#close());
    this.#answer.inFlight.waiting(this);
    const subscription = this.#feed.subscribe(filter, since, { change: (change) => this.#change(change) });
    if (subscription instanceof HistoryCompacted) {
      this.#close();
      const error = new HistoryCompactedError(
        `changes after version ${since} are no longer kept; the oldest version to watch from is ${subscription.oldest} (read the keys again, then watch from there)`,
      );
      error.details.oldest = subscription.oldest;
      return this.#answer.error(error);
    }
    if (this.#closed) return subscription.close();
    this.#subscription = subscription;
    // The first piece: the status line, and where the stream starts (the feed's position
    // when nothing was asked from the past, or what the history held after `since`).
    if (since === undefined) this.#told = this.#feed.through;
    this.#sendProgress();
    this.#sentSinceProgress = false;
    this.#disarmProgress = this.#clock.setTimer(this.#progressMs, this.#tick);
  }

  /** A shutdown: end the stream cleanly (the client resumes elsewhere, or later, from its last version). */
  stop(): void {
    this.#close();
    void this.#answer.end('');
  }

  #change(change: Change): void {
    if (this.#closed || this.#answer.over) return;
    this.#told = change.version;
    this.#stats.events++;
    const json = jsonOnce(change);
    this.#enqueue(
      this.#ndjson ? json + '\n' : `id: ${change.version}\nevent: ${change.type}\ndata: ${json}\n\n`,
    );
  }

  /** The progress interval is over: a progress event if nothing else went out in it. */
  readonly #tick = (): void => {
    this.#disarmProgress = null;
    if (this.#closed || this.#answer.over) return;
    if (!this.#sentSinceProgress) this.#sendProgress();
    this.#sentSinceProgress = false;
    this.#disarmProgress = this.#clock.setTimer(this.#progressMs, this.#tick);
  };

  /** A progress event: the watcher has every change it wants up to the feed's position. */
  #sendProgress(): void {
    const through = Math.max(this.#told, this.#feed.through);
    this.#told = through;
    const json = `{"type":"progress","version":${through}}`;
    this.#enqueue(this.#ndjson ? json + '\n' : `id: ${through}\nevent: progress\ndata: ${json}\n\n`);
  }

  /**
   * Queues an event. While the client is taking what was sent, events wait, and past
   * {@link WATCH_BUFFER_BYTES} the watcher is cut; otherwise they go out at the end of the
   * turn, or at once every {@link FLUSH_BYTES} of a burst.
   */
  #enqueue(piece: string): void {
    if (this.#closed) return;
    this.#sentSinceProgress = true;
    this.#queue.push(piece);
    this.#queuedBytes += piece.length;
    if (this.#draining) {
      if (this.#queuedBytes <= WATCH_BUFFER_BYTES) return;
      // Too far behind: cut, rather than hold more. The client resumes from its last id.
      this.#stats.cut++;
      this.#close();
      this.#answer.error(new BadRequestError('too slow'));
    } else if (this.#queuedBytes >= FLUSH_BYTES) this.#flush();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      this.#clock.defer(this.#flushLater);
    }
  }

  readonly #flushLater = (): void => {
    this.#scheduled = false;
    if (!this.#draining) this.#flush();
  };

  /** Sends what is queued as one piece; if the client has not taken it all, waits until it has. */
  #flush(): void {
    if (this.#queue.length === 0 || this.#answer.over) return;
    const piece = this.#queue.length === 1 ? this.#queue[0]! : this.#queue.join('');
    this.#queue = [];
    this.#queuedBytes = 0;
    if (this.#answer.offer(piece)) return;
    this.#draining = true;
    void this.#answer.writable().then(() => {
      this.#draining = false;
      this.#flush();
    });
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#subscription?.close();
    this.#subscription = null;
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#stats.open--;
    this.#disarmProgress?.();
    this.#disarmProgress = null;
    this.#answer.inFlight.settled(this);
  }
}

/** The filter a query asks for: `key=K`, or `prefix=P` (default every key), not both. */
function filterOf(query: { key: string | undefined; prefix: string | undefined }): KeyFilter {
  if (query.key !== undefined && query.prefix !== undefined)
    throw new BadRequestError('watch takes key or prefix, not both');
  return query.key !== undefined ? { key: query.key } : { prefix: query.prefix ?? '' };
}

/** The version to resume after: the later of `since` and the Last-Event-ID an EventSource resends. */
function resumeFrom(since: number | undefined, lastEventId: string): number | undefined {
  if (lastEventId === '') return since;
  const last = version()('Last-Event-ID', lastEventId);
  return since === undefined ? last : Math.max(since, last!);
}

/** Registers `GET /watch`: a stream of the acknowledged changes of a key or a prefix. */
export function registerWatchRoute(app: Router, ctx: RouteContext): void {
  app.get('/watch', [...Object.keys(WATCH_PARAMS), 'Last-Event-ID', 'Accept'], (res: HttpResponse, req) => {
    let filter: KeyFilter;
    let since: number | undefined;
    let progress: number;
    const ndjson = req.getHeader('accept').includes(NDJSON);
    try {
      const query = parseQuery(req.getQuery(), WATCH_PARAMS);
      filter = filterOf(query);
      since = resumeFrom(query.since, req.getHeader('last-event-id'));
      progress = query.progress;
    } catch (err) {
      return sendError(res, toThunderError(err));
    }
    if (isHead(res)) {
      writeStatus(res, 200)
        .writeHeader('Content-Type', ndjson ? NDJSON : EVENT_STREAM)
        .endWithoutBody();
      return;
    }
    // A stream is not a heavy request: it holds no more than its buffer, and waits.
    const answer = new StreamedAnswer(res, ctx.inFlight, () => {}, ndjson ? NDJSON : EVENT_STREAM);
    new WatchStream(answer, ctx, ndjson, since ?? 0, progress).start(filter, since);
  });
}
