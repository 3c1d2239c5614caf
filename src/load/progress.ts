/** Anything with a millisecond clock; `performance` by default, a fake one in tests. */
export interface Clock {
  now(): number;
}

/** Where progress goes: a TTY gets a redrawn bar, anything else periodic plain lines. */
export interface ProgressOutput {
  write(text: string): unknown;
  isTTY?: boolean;
}

export interface ProgressOptions {
  /** Bytes expected in all; 0 when unknown. */
  total: number;
  out: ProgressOutput;
  /** Default `performance`. */
  clock?: Clock;
  /** Least time between two redraws on a TTY. Default 100 ms. */
  redrawMs?: number;
  /** Least time between two plain lines elsewhere. Default 2000 ms. */
  lineMs?: number;
}

const BAR = 30;

function megabytes(bytes: number): string {
  return (bytes / 1e6).toFixed(1) + ' MB';
}

/** Reports a load's progress: share done, bytes, lines and rate. */
export class Progress {
  readonly #total: number;
  readonly #out: ProgressOutput;
  readonly #clock: Clock;
  readonly #interval: number;
  readonly #tty: boolean;
  readonly #start: number;
  #last = -Infinity;

  constructor(options: ProgressOptions) {
    const clock = options.clock ?? performance;
    if (typeof clock.now !== 'function') throw new TypeError('clock must have a now() method');
    this.#total = options.total;
    this.#out = options.out;
    this.#clock = clock;
    this.#tty = options.out.isTTY === true;
    this.#interval = this.#tty ? (options.redrawMs ?? 100) : (options.lineMs ?? 2000);
    this.#start = clock.now();
  }

  /** Seconds since the start. */
  elapsed(): number {
    return (this.#clock.now() - this.#start) / 1000;
  }

  /** Notes `bytes` read and `lines` seen so far; draws if enough time has passed. */
  update(bytes: number, lines: number): void {
    const now = this.#clock.now();
    if (now - this.#last < this.#interval) return;
    this.#last = now;
    // On a TTY: back to the line's start, redraw, and clear whatever the last draw left beyond it.
    this.#out.write(this.#tty ? '\r' + this.line(bytes, lines) + '\x1b[K' : this.line(bytes, lines) + '\n');
  }

  /** Ends a TTY bar's line so what follows starts on its own. */
  finish(bytes: number, lines: number): void {
    if (this.#tty) this.#out.write('\r' + this.line(bytes, lines) + '\x1b[K\n');
  }

  /** The progress text, without line ending. */
  line(bytes: number, lines: number): string {
    const seconds = Math.max(this.elapsed(), 1e-3);
    const rate = `${Math.round(lines / seconds).toLocaleString('en-US')} lines/s`;
    if (this.#total <= 0) return `${megabytes(bytes)}, ${lines.toLocaleString('en-US')} lines, ${rate}`;
    const share = Math.min(1, bytes / this.#total);
    const filled = Math.round(share * BAR);
    const bar = this.#tty ? `[${'#'.repeat(filled)}${'.'.repeat(BAR - filled)}] ` : '';
    return `${bar}${(share * 100).toFixed(0).padStart(3)}%  ${megabytes(bytes)} of ${megabytes(this.#total)}, ${lines.toLocaleString('en-US')} lines, ${rate}`;
  }
}
