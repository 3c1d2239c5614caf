/**
 * Versions of writes: a hybrid logical clock (Kulkarni et al., 2014) packed into one safe
 * integer, so a version is compared with `>` and crosses the wire as one f64.
 *
 *   version = (ticks × 16) + origin,   ticks = wall ms since 2020-01-01 × 256 + counter
 *
 * 41 bits of milliseconds (until 2089), 8 of counter, 4 of origin: 2^53 in all. The counter
 * orders writes within one millisecond; past 256 in one millisecond it carries into the
 * millisecond, so under a bulk load versions run ahead of the wall clock for a while (about
 * 4 ms per 1,000 writes above 256 per ms) and fall back behind it once the load stops, as
 * an HLC's logical part does. The origin breaks ties between coordinators: two versions
 * from different origins never compare equal.
 */

/** The version of nothing: older than every write. */
export const NO_VERSION = 0;

const EPOCH_MS = Date.UTC(2020, 0, 1);
const COUNTER = 256;
/** How many coordinators can stamp versions without ties. */
export const ORIGINS = 16;

/** A version's parts, for people: its wall time, counter and origin. */
export interface VersionParts {
  /** Milliseconds since the Unix epoch. */
  wall: number;
  counter: number;
  origin: number;
}

export function versionParts(version: number): VersionParts {
  const ticks = Math.floor(version / ORIGINS);
  return {
    wall: Math.floor(ticks / COUNTER) + EPOCH_MS,
    counter: ticks % COUNTER,
    origin: version % ORIGINS,
  };
}

/** A version's wall time, Unix ms: no earlier than the coordinator's clock when it stamped it. */
export function versionWall(version: number): number {
  return Math.floor(Math.floor(version / ORIGINS) / COUNTER) + EPOCH_MS;
}

/**
 * Stamps writes at one coordinator. Each version is greater than every version this clock
 * issued or {@link observe}d before, and no older than the wall clock.
 */
export class HybridClock {
  readonly #wall: () => number;
  readonly #origin: number;
  #ticks = 0;

  /**
   * @param wall milliseconds since the Unix epoch (a {@link Clock}'s `wall`).
   * @param origin this coordinator's tie-breaker, 0 to 15. Default 0.
   */
  constructor(wall: () => number, origin = 0) {
    if (!Number.isInteger(origin) || origin < 0 || origin >= ORIGINS) {
      throw new RangeError(`origin must be an integer from 0 to ${ORIGINS - 1}, got ${origin}`);
    }
    this.#wall = wall;
    this.#origin = origin;
  }

  /** A new version for a write. */
  next(): number {
    const physical = Math.max(0, Math.floor(this.#wall()) - EPOCH_MS) * COUNTER;
    this.#ticks = Math.max(physical, this.#ticks + 1);
    return this.#ticks * ORIGINS + this.#origin;
  }

  /** The newest version issued or observed so far; {@link NO_VERSION} before any. */
  get newest(): number {
    return this.#ticks === 0 ? NO_VERSION : this.#ticks * ORIGINS + this.#origin;
  }

  /** Takes in a version seen elsewhere, so the next one issued is newer. */
  observe(version: number): void {
    this.#ticks = Math.max(this.#ticks, Math.floor(version / ORIGINS));
  }
}
