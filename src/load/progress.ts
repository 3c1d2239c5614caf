/** Anything with a millisecond clock; `performance` by default, a fake one in tests. */
export interface Clock {
  now(): number;
}

/** Where progress goes: a TTY gets a redrawn bar, anything else periodic plain lines. */
export interface ProgressOutput {
  write(text: string): unknown;
  isTTY?: boolean;
  /** A TTY's width, read at every draw so a resized window is followed. Default 80. */
  columns?: number;
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

/** The bar's widest and narrowest; narrower than the least, it is left out. */
const BAR = 30;
const MIN_BAR = 10;

/** Bytes in MB, or GB from 1 GB on: short enough to leave the bar room on 80 columns. */
function size(bytes: number): string {
  return bytes < 1e9 ? (bytes / 1e6).toFixed(1) + ' MB' : (bytes / 1e9).toFixed(2) + ' GB';
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

  /**
   * The progress text, without line ending. On a TTY it fits in one row short of the width:
   * a text that reaches the last column wraps, and `\r` then returns only to the start of the
   * wrapped part, so each redraw would leave a row behind. The bar shrinks first, then goes.
   */
  line(bytes: number, lines: number): string {
    const seconds = Math.max(this.elapsed(), 1e-3);
    const rate = `${Math.round(lines / seconds).toLocaleString('en-US')} lines/s`;
    const counts = `${lines.toLocaleString('en-US')} lines, ${rate}`;
    if (this.#total <= 0) return this.#fit(`${size(bytes)}, ${counts}`);
    const share = Math.min(1, bytes / this.#total);
    const text = `${(share * 100).toFixed(0).padStart(3)}%  ${size(bytes)} of ${size(this.#total)}, ${counts}`;
    if (!this.#tty) return text;
    const width = Math.min(BAR, this.#width() - text.length - '[] '.length);
    if (width < MIN_BAR) return this.#fit(text);
    const filled = Math.round(share * width);
    return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}`;
  }

  /** Columns a TTY line may use: one less than the terminal's width. */
  #width(): number {
    const columns = this.#out.columns;
    return (columns !== undefined && columns > 0 ? columns : 80) - 1;
  }

  #fit(text: string): string {
    return this.#tty ? text.slice(0, this.#width()) : text;
  }
}
