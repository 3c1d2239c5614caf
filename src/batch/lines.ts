/**
 * Splits a streamed body into lines without holding more than one line. Lines longer than
 * `maxLine` bytes (not counting their `\r\n` or `\n`) are reported and skipped up to their
 * newline, so one bad line costs bounded memory however long it is.
 */
export class LineSplitter {
  readonly #maxLine: number;
  /** What may be held of one line: `maxLine` and the `\r` of a CRLF line end. */
  readonly #maxHeld: number;
  readonly #onLine: (buf: Buffer, start: number, end: number, lineNo: number) => void;
  readonly #onTooLong: (lineNo: number) => void;
  #parts: Buffer[] = [];
  #carried = 0;
  #lineNo = 0;
  #discarding = false;

  /**
   * @param onLine gets each line without its `\n` or `\r\n`; `buf` is valid during the call only.
   * @param onTooLong gets the number of a line longer than `maxLine`.
   */
  constructor(
    maxLine: number,
    onLine: (buf: Buffer, start: number, end: number, lineNo: number) => void,
    onTooLong: (lineNo: number) => void,
  ) {
    this.#maxLine = maxLine;
    this.#maxHeld = maxLine + 1;
    this.#onLine = onLine;
    this.#onTooLong = onTooLong;
  }

  push(chunk: Buffer): void {
    let pos = 0;
    let nl = chunk.indexOf(10);
    if (this.#carried > 0 || this.#discarding) {
      // Finish the line begun in an earlier chunk.
      if (nl < 0) {
        this.#carry(chunk, 0);
        return;
      }
      if (this.#discarding) {
        this.#discarding = false;
      } else if (this.#carried + nl > this.#maxHeld) {
        this.#tooLong();
        this.#discarding = false;
      } else {
        this.#parts.push(chunk.subarray(0, nl));
        const line = Buffer.concat(this.#parts);
        this.#emit(line, 0, line.length);
      }
      this.#parts = [];
      this.#carried = 0;
      pos = nl + 1;
      nl = chunk.indexOf(10, pos);
    }
    while (nl >= 0) {
      if (nl - pos > this.#maxHeld) this.#tooLong();
      else this.#emit(chunk, pos, nl);
      pos = nl + 1;
      nl = chunk.indexOf(10, pos);
    }
    if (pos < chunk.length) this.#carry(chunk, pos);
  }

  end(): void {
    if (this.#carried > 0 && !this.#discarding) {
      const line = Buffer.concat(this.#parts);
      this.#emit(line, 0, line.length);
    }
    this.#parts = [];
    this.#carried = 0;
    this.#discarding = false;
  }

  #carry(chunk: Buffer, from: number): void {
    if (this.#discarding) return;
    this.#carried += chunk.length - from;
    if (this.#carried > this.#maxHeld) {
      this.#tooLong();
      this.#discarding = true;
      this.#parts = [];
      this.#carried = 0;
      return;
    }
    // A copy: the chunk's memory is reused once the call returns.
    this.#parts.push(Buffer.from(chunk.subarray(from)));
  }

  #tooLong(): void {
    this.#onTooLong(++this.#lineNo);
  }

  #emit(buf: Buffer, start: number, end: number): void {
    if (end > start && buf[end - 1] === 13) end--;
    // Only now is it known whether the byte past maxLine was a CRLF's `\r`.
    if (end - start > this.#maxLine) return this.#tooLong();
    this.#lineNo++;
    this.#onLine(buf, start, end, this.#lineNo);
  }
}
