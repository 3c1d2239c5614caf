import {
  closeSync,
  existsSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { crc32 } from './crc32.js';
import {
  LogOp,
  type Journal,
  type LogOpCode,
  type LogRecord,
  type Recovered,
  type StorageStats,
} from './journal.js';

/** When a write reaches the disk, as Redis's `appendfsync`. */
export type FsyncMode = 'always' | 'everysec' | 'no';
export const FSYNC_MODES: readonly FsyncMode[] = ['always', 'everysec', 'no'];

/**
 * A record, little-endian: crc32 u32 (of everything after it), length u32 (of everything
 * after it), op u8, hash u32 (the key's ring hash), version f64, key length u16, value
 * length u32, key, value.
 */
const PREFIX = 8;
const FIXED = 19;
/** Records waiting for their write are flushed past this, even before a commit. */
const BUFFER_BYTES = 1 << 20;

/** A record in the middle of the log that fails its checksum: start-up stops. */
export class CorruptLogError extends Error {
  override name = 'CorruptLogError';
  constructor(
    readonly file: string,
    readonly offset: number,
  ) {
    super(
      `corrupt record in ${file} at byte offset ${offset}: its checksum does not match, and valid data follows. ` +
        `To start anyway, keeping what comes before it, cut the file there: truncate -s ${offset} ${file} ` +
        `(the records after it are lost from this node; its replicas still hold what they acknowledged).`,
    );
  }
}

const FILE = /^(\d{10})\.log$/;
const fileName = (seq: number) => `${String(seq).padStart(10, '0')}.log`;

/**
 * One node's append-only log (Bitcask's record format, with Redis's fsync policies): every
 * change to the node's data is appended as a checksummed record, and the log is replayed
 * into memory at start. The node keeps every value in memory (the same store as
 * `--storage memory`), so the log is for surviving restarts, not for holding more than
 * memory.
 *
 * Writes are appended to a buffer and written at {@link commit}: with `always`, the
 * acknowledgements of every batch handled in one event-loop turn wait for one fsync (group
 * commit); with `everysec` the file is fsynced once a second; with `no`, when the OS
 * chooses. A {@link merge} rewrites the live data as one file, which then supersedes every
 * older one, so start-up reads each live record once rather than the whole history.
 */
export class Log implements Journal {
  readonly dir: string;
  readonly fsync: FsyncMode;
  #seq: number;
  #fd: number;
  /** Bytes of every log file, as written so far. */
  #bytes: number;
  #buffer = Buffer.allocUnsafeSlow(64 * 1024);
  #used = 0;
  /** Acknowledgements waiting for the next fsync (`always`). */
  #waiting: ((error?: Error) => void)[] = [];
  #dirty = false;
  #timer: ReturnType<typeof setInterval> | null = null;
  private constructor(dir: string, fsync: FsyncMode, seq: number, bytes: number) {
    this.dir = dir;
    this.fsync = fsync;
    this.#seq = seq;
    this.#bytes = bytes;
    this.#fd = openSync(join(dir, fileName(seq)), 'a');
    if (fsync === 'everysec') {
      this.#timer = setInterval(() => this.#sync(), 1000);
      this.#timer.unref();
    }
  }

  /**
   * Opens (creating) the log in `dir` and replays it: `apply` is called with every record,
   * oldest first, from the newest merged file on. A torn last record (cut short, or failing
   * its checksum with nothing but zeros after it, as a crash leaves it) is cut off; a record
   * failing its checksum with data after it throws a {@link CorruptLogError}.
   */
  static open(
    dir: string,
    fsync: FsyncMode,
    apply: (record: LogRecord) => void,
  ): { log: Log; recovered: Recovered } {
    const started = performance.now();
    mkdirSync(dir, { recursive: true });
    // A merge that did not finish left a temporary file: the files it would replace stand.
    for (const name of readdirSync(dir)) if (name.endsWith('.tmp')) rmSync(join(dir, name));
    const seqs = readdirSync(dir)
      .map((name) => FILE.exec(name)?.[1])
      .filter((seq): seq is string => seq !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    const recovered: Recovered = { files: 0, records: 0, bytes: 0, ms: 0 };
    const contents = seqs.map((seq) => ({ seq, bytes: readFileSync(join(dir, fileName(seq))) }));
    // Replay from the newest merged file: what came before it, it holds.
    let from = 0;
    contents.forEach(({ bytes }, i) => {
      if (bytes.length >= PREFIX + FIXED && bytes[PREFIX] === LogOp.Snapshot) from = i;
    });
    let total = 0;
    for (let i = 0; i < contents.length; i++) {
      const { seq, bytes } = contents[i]!;
      total += bytes.length;
      if (i < from) continue;
      const file = join(dir, fileName(seq));
      const end = replayFile(file, bytes, i === contents.length - 1, apply, recovered);
      if (end < bytes.length) {
        // A torn tail: cut it, so appends follow the last good record.
        const fd = openSync(file, 'r+');
        ftruncateSync(fd, end);
        fsyncSync(fd);
        closeSync(fd);
        total -= bytes.length - end;
        recovered.cut = { file, offset: end };
      }
      recovered.files++;
      recovered.bytes += end;
    }
    const last = seqs.at(-1) ?? 1;
    const log = new Log(dir, fsync, last, total);
    recovered.ms = performance.now() - started;
    return { log, recovered };
  }

  /** What `/cluster` shows of the log. */
  stats(recovered: Recovered, recoveredKeys: number): StorageStats {
    return {
      backend: 'log',
      fsync: this.fsync,
      logBytes: this.bytes,
      recoveredRecords: recovered.records,
      recoveredKeys,
      replayMs: Math.round(recovered.ms),
      ...(recovered.cut === undefined ? {} : { cutTornRecordAt: recovered.cut }),
    };
  }

  /** Bytes in every log file, including records not yet written. */
  get bytes(): number {
    return this.#bytes + this.#used;
  }

  /** Appends one record (written at the next {@link commit}). */
  append(
    op: LogOpCode,
    hash: number,
    version: number,
    key: Uint8Array,
    keyStart: number,
    keyLength: number,
    value: Uint8Array | null = null,
    valueStart = 0,
    valueLength = 0,
  ): void {
    const size = PREFIX + FIXED + keyLength + valueLength;
    if (this.#used + size > this.#buffer.length) {
      if (this.#used > 0 && this.#used + size > BUFFER_BYTES) this.#write();
      if (size > this.#buffer.length - this.#used) {
        const grown = Buffer.allocUnsafeSlow(Math.max(this.#buffer.length * 2, this.#used + size));
        this.#buffer.copy(grown, 0, 0, this.#used);
        this.#buffer = grown;
      }
    }
    const buf = this.#buffer;
    const at = this.#used;
    buf.writeUInt32LE(size - PREFIX, at + 4);
    buf[at + 8] = op;
    buf.writeUInt32LE(hash >>> 0, at + 9);
    buf.writeDoubleLE(version, at + 13);
    buf.writeUInt16LE(keyLength, at + 21);
    buf.writeUInt32LE(valueLength, at + 23);
    buf.set(key.subarray(keyStart, keyStart + keyLength), at + PREFIX + FIXED);
    if (value !== null && valueLength > 0) {
      buf.set(value.subarray(valueStart, valueStart + valueLength), at + PREFIX + FIXED + keyLength);
    }
    buf.writeUInt32LE(crc32(buf, at + 4, at + size), at);
    this.#used = at + size;
  }

  /**
   * Writes what was appended, then calls `done` when the configured policy counts it as
   * acknowledged: with `always`, after the fsync shared by every commit of this
   * event-loop turn; otherwise at once (the data is in the OS's hands).
   */
  commit(done: (error?: Error) => void): void {
    if (this.fsync !== 'always') {
      this.#write();
      done();
      return;
    }
    this.#waiting.push(done);
    if (this.#waiting.length === 1) setImmediate(this.#groupCommit);
  }

  readonly #groupCommit = (): void => {
    this.#write();
    this.#sync();
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const done of waiting) done();
  };

  #write(): void {
    if (this.#used === 0) return;
    let at = 0;
    while (at < this.#used) at += writeSync(this.#fd, this.#buffer, at, this.#used - at);
    this.#bytes += this.#used;
    this.#used = 0;
    this.#dirty = true;
  }

  #sync(): void {
    if (!this.#dirty) return;
    fsyncSync(this.#fd);
    this.#dirty = false;
  }

  /**
   * Rewrites the log as one file holding `dump`'s records (the live data), which supersedes
   * every older file: written beside them, fsynced, renamed into place, then the old files
   * are removed. A crash at any point leaves either the old files or the new one in force.
   */
  merge(dump: (append: Log['append']) => void): void {
    this.#write();
    const seq = this.#seq + 1;
    const target = join(this.dir, fileName(seq));
    const temporary = `${target}.tmp`;
    const previous = this.#fd;
    this.#fd = openSync(temporary, 'w');
    this.#bytes = 0;
    this.append(LogOp.Snapshot, 0, 0, Buffer.alloc(0), 0, 0);
    dump((...args) => this.append(...args));
    this.#write();
    fsyncSync(this.#fd);
    renameSync(temporary, target);
    syncDirectory(this.dir);
    closeSync(previous);
    for (const name of readdirSync(this.dir)) {
      const old = FILE.exec(name);
      if (old !== null && Number(old[1]) < seq) rmSync(join(this.dir, name));
    }
    this.#seq = seq;
    this.#dirty = false;
  }

  /** Writes and fsyncs what is pending, answers whoever waits, and closes the file. */
  close(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#write();
    this.#sync();
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const done of waiting) done();
    closeSync(this.#fd);
    return Promise.resolve();
  }
}

/** Makes a rename in `dir` durable. */
/** fsyncs a directory, so a file created or renamed in it survives a crash. */
export function syncDirectory(dir: string): void {
  if (!existsSync(dir)) return;
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Replays one file's records; returns where its good records end (its length, unless a
 * torn tail was found in the last file).
 */
function replayFile(
  file: string,
  bytes: Buffer,
  last: boolean,
  apply: (record: LogRecord) => void,
  recovered: Recovered,
): number {
  let at = 0;
  while (at < bytes.length) {
    const length = at + PREFIX <= bytes.length ? bytes.readUInt32LE(at + 4) : -1;
    const end = at + PREFIX + length;
    const whole = length >= FIXED && end <= bytes.length;
    if (!whole || crc32(bytes, at + 4, end) !== bytes.readUInt32LE(at)) {
      // Cut short, or garbled with only zeros after it: a write the crash tore. Anything
      // else is damage in the middle of the log.
      const torn = !whole || bytes.subarray(end).every((b) => b === 0);
      if (last && torn) return at;
      throw new CorruptLogError(file, at);
    }
    const op = bytes[at + 8] as LogOpCode;
    if (op !== LogOp.Snapshot) {
      const keyLength = bytes.readUInt16LE(at + 21);
      apply({
        op,
        hash: bytes.readUInt32LE(at + 9),
        version: bytes.readDoubleLE(at + 13),
        bytes,
        keyStart: at + PREFIX + FIXED,
        keyLength,
        valueStart: at + PREFIX + FIXED + keyLength,
        valueLength: bytes.readUInt32LE(at + 23),
      });
      recovered.records++;
    }
    at = end;
  }
  return at;
}
