/**
 * Seeded randomness. Nothing the simulator drives draws from `Math.random`: every random
 * choice comes from a seed, split into one sub-seed per subsystem, so a run can be repeated.
 *
 * Messages between threads arrive in a different interleaving on every run (design.md §7),
 * so a message's fate is not drawn from a generator in arrival order: it is a hash of (seed,
 * link, that link's sequence number, which draw), the same however the threads interleave.
 */

/** murmur3's 32-bit finaliser: a bijection that spreads every input bit over the output. */
export function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** A subsystem's own seed, from the run's seed and the subsystem's name. */
export function subSeed(seed: number, name: string): number {
  let h = mix32(seed >>> 0);
  for (let i = 0; i < name.length; i++) h = mix32(h ^ name.charCodeAt(i));
  return h;
}

/** A number in [0, 1) fixed by (seed, link, sequence number, draw). */
export function fate(seed: number, link: number, seq: number, draw = 0): number {
  const h = mix32(
    mix32(mix32(seed ^ Math.imul(link + 1, 0x9e3779b1)) ^ seq) ^ Math.imul(draw + 1, 0x27d4eb2f),
  );
  return h / 2 ** 32;
}

/** A fresh seed for a run that was given none: printed, so the run can be repeated. */
export function newSeed(): number {
  return (Date.now() ^ (process.pid << 16)) >>> 0;
}

/** A seeded stream of numbers (mulberry32): for one subsystem's choices, drawn in one order. */
export class Rng {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A number in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
}
