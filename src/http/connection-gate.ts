import { readdirSync, readFileSync } from 'node:fs';

/** Descriptors kept free beyond the connection limit: the process's own (threads, pipes, a file being loaded) and connections accepted between two checks. */
export const RESERVED_DESCRIPTORS = 256;

/**
 * The soft open-file limit (`ulimit -n`) this process runs under, or null where it cannot be
 * read (no /proc). Node raises the soft limit to the hard one at start-up, so this is the
 * real ceiling.
 */
export function openFileLimit(): number | null {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
    if (soft === 'unlimited') return null;
    const n = Number(soft);
    return Number.isSafeInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

/** The default connection limit: the open-file limit less a reserve, or 10000 (Redis's `maxclients`) where it is unknown. */
export function defaultMaxConnections(): number {
  const limit = openFileLimit();
  return limit === null ? 10_000 : Math.max(1, limit - RESERVED_DESCRIPTORS);
}

/** The number of descriptors this process has open, or null where that cannot be counted. */
export function countOpenDescriptors(): number | null {
  try {
    return readdirSync('/dev/fd').length;
  } catch {
    return null;
  }
}

export interface ConnectionGateOptions {
  /** Connections allowed at once. */
  max: number;
  /** Closes the listening socket: the kernel then refuses new connections at once. */
  stopAccepting: () => void;
  /** Listens again; resolves false when the port could not be taken back. */
  startAccepting: () => Promise<boolean>;
  /** Counts open descriptors; default {@link countOpenDescriptors}. */
  count?: () => number | null;
  /** How often to count, in ms. Default 100. */
  intervalMs?: number;
  /** Where a failure to listen again is reported. Default console.error. */
  log?: (line: string) => void;
}

/**
 * Keeps client connections under a limit, like Redis's `maxclients`. Past the open-file
 * limit, uSockets' accept fails with EMFILE on a listening socket that stays readable, so
 * the main thread spins at 100% CPU and requests time out. uWS 20.30 tells JavaScript
 * nothing when a connection opens or closes, so the gate counts the process's open
 * descriptors instead (connections = open now − open when the server started), and at the
 * limit closes the listening socket: new clients are refused at once by the kernel
 * (ECONNREFUSED) while open connections are served as before. Below 90% of the limit it
 * listens again on the same port.
 */
export class ConnectionGate {
  readonly max: number;
  readonly #options: ConnectionGateOptions;
  readonly #count: () => number | null;
  readonly #baseline: number;
  readonly #timer: NodeJS.Timeout | null = null;
  #accepting = true;
  #busy = false;

  constructor(options: ConnectionGateOptions) {
    if (!Number.isSafeInteger(options.max) || options.max < 1) {
      throw new RangeError(`maxConnections must be a positive integer, got ${options.max}`);
    }
    this.max = options.max;
    this.#options = options;
    this.#count = options.count ?? countOpenDescriptors;
    const baseline = this.#count();
    this.#baseline = baseline ?? 0;
    // Where descriptors cannot be counted, the gate stays open (documented in the README).
    if (baseline === null) return;
    this.#timer = setInterval(() => this.check(), options.intervalMs ?? 100);
    this.#timer.unref();
  }

  /** True while new connections are accepted. */
  get accepting(): boolean {
    return this.#accepting;
  }

  /** Client connections open now (an estimate: descriptors opened since start-up). */
  get connections(): number {
    return Math.max(0, (this.#count() ?? this.#baseline) - this.#baseline);
  }

  /** Counts once and closes or reopens the door. Runs on the timer; exposed for tests. */
  check(): void {
    if (this.#busy) return;
    const open = this.connections;
    if (this.#accepting && open >= this.max) {
      this.#accepting = false;
      this.#options.stopAccepting();
    } else if (!this.#accepting && open < Math.ceil(this.max * 0.9)) {
      this.#busy = true;
      this.#options.startAccepting().then(
        (ok) => {
          this.#busy = false;
          if (ok) this.#accepting = true;
          else
            (this.#options.log ?? console.error)('cannot listen again after the connection limit; retrying');
        },
        () => (this.#busy = false),
      );
    }
  }

  /** Stops counting (the server is closing). */
  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
  }
}
