import type { ReadStream } from 'node:fs';
import { request } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { Rejection } from '../batch/pairs.js';
import { connectionFailure, errorOfAnswer } from '../client/errors.js';
import { openLoadFile } from './file.js';
import { Progress, type ProgressOutput } from './progress.js';
import type { LoadReport } from './report.js';

const READ_CHUNK = 1 << 20;
/**
 * Bytes of one unfinished line held back, so that an interrupted upload can end on a line
 * boundary. A longer line is sent on as it comes (the server refuses it anyway: values are
 * at most 1 MiB by default); an interruption then finishes that line before stopping.
 */
const MAX_HELD = 16 << 20;
const NEWLINE = 10;

/** Counts the newlines in a buffer: the client's own line count, for the progress rate. */
function countLines(chunk: Buffer): number {
  let n = 0;
  for (let i = chunk.indexOf(NEWLINE); i >= 0; i = chunk.indexOf(NEWLINE, i + 1)) n++;
  return n;
}

/** What `POST /kv?invalid=skip` answers. */
interface BatchAnswer {
  written: number;
  rejected: number;
  rejections: Rejection[];
}

export interface HttpLoadOptions {
  /** Where progress is drawn; none when absent. */
  out?: ProgressOutput;
  /**
   * Ends the upload early, at the end of the line being sent, and still waits for the
   * server's answer: the report then says exactly what was stored (Ctrl-C in `load`).
   */
  signal?: AbortSignal;
}

/** Upload state shared between the body generator and the report. */
interface Sent {
  bytes: number;
  lines: number;
  stopped: boolean;
}

/**
 * The file's bytes, sent in whole lines: the bytes after a chunk's last newline wait for the
 * next chunk. Once `signal` fires the body ends after the last whole line, so the server
 * sees a complete batch and answers with what it stored.
 */
async function* wholeLines(
  file: ReadStream,
  sent: Sent,
  progress: Progress | null,
  signal?: AbortSignal,
): AsyncGenerator<Buffer> {
  let held: Buffer[] = [];
  let heldBytes = 0;
  // Bytes of an unfinished line were already sent (a line longer than MAX_HELD).
  let midLine = false;
  for await (const chunk of file as AsyncIterable<Buffer>) {
    if (signal?.aborted && !midLine) break;
    sent.bytes += chunk.length;
    progress?.update(sent.bytes, sent.lines);
    // Interrupted in a long line: send up to its end only.
    const cut = midLine && signal?.aborted ? chunk.indexOf(NEWLINE) : chunk.lastIndexOf(NEWLINE);
    if (cut < 0) {
      held.push(chunk);
      heldBytes += chunk.length;
      if (midLine || heldBytes > MAX_HELD) {
        yield* held;
        held = [];
        heldBytes = 0;
        midLine = true;
      }
      continue;
    }
    yield* held;
    const whole = chunk.subarray(0, cut + 1);
    yield whole;
    sent.lines += countLines(whole);
    midLine = false;
    held = cut + 1 < chunk.length ? [chunk.subarray(cut + 1)] : [];
    heldBytes = chunk.length - cut - 1;
    if (signal?.aborted) break;
  }
  if (signal?.aborted) {
    sent.stopped = true;
    file.destroy();
    return;
  }
  // A last line without a newline.
  if (heldBytes > 0) {
    yield* held;
    sent.lines++;
  }
}

/**
 * Streams a `key value` file to a running cluster as one `POST /kv?invalid=skip` body
 * (chunked, never read whole), drawing progress as it goes. The server parses, checks and
 * counts; its answer is the report, so the line numbers of rejected lines are the file's.
 * Rejects as the client does: a ThunderHttpError for an error answer, a
 * ClusterUnreachableError when none comes; a LoadFileError for a file it cannot read.
 */
export async function loadFileOverHttp(
  url: string,
  path: string,
  options: HttpLoadOptions = {},
): Promise<LoadReport> {
  const { stream, size } = await openLoadFile(path, READ_CHUNK);
  const progress = options.out ? new Progress({ total: size, out: options.out }) : null;
  const start = performance.now();
  const target = new URL('/kv?invalid=skip', url);
  const sent: Sent = { bytes: 0, lines: 0, stopped: false };

  const req = request(target, {
    method: 'POST',
    headers: { 'Content-Type': 'text/plain', 'Transfer-Encoding': 'chunked' },
  });
  const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.on('response', (res) => {
      const parts: Buffer[] = [];
      res.on('data', (part: Buffer) => parts.push(part));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString('utf8') }),
      );
      res.on('error', reject);
    });
    // No answer: the same error every client verb gives (exit 3); another (the file's) as it is.
    req.on('error', (err) => reject(connectionFailure(url, err) ?? err));
  });
  // The answer can come before the upload ends (an error stops the batch): let an early
  // answer win over the broken upload it causes. A failed upload destroys the request,
  // which rejects `answer` with the upload's error.
  const upload = pipeline(wholeLines(stream, sent, progress, options.signal), req).catch(() => {});
  let status: number;
  let body: string;
  try {
    ({ status, body } = await answer);
  } finally {
    // An early answer leaves the upload running: end it here and wait until it has ended, so
    // that nothing of this call outlives it (a write still in flight when the server closes
    // the connection later failed with ECONNRESET after the caller had moved on).
    stream.destroy();
    req.destroy();
    await upload;
  }
  // The server's error, as the client verbs get it (with `written`: the pairs stored before it).
  if (status !== 200) throw errorOfAnswer(status, body, new Headers());
  progress?.finish(sent.bytes, sent.lines);
  const result = JSON.parse(body) as BatchAnswer;
  return {
    loaded: result.written,
    rejected: result.rejected,
    rejections: result.rejections,
    seconds: (performance.now() - start) / 1000,
    ...(sent.stopped ? { stoppedAfterLine: sent.lines } : {}),
  };
}
