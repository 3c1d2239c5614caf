import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { request } from 'node:http';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Rejection } from '../batch/pairs.js';
import { Progress, type ProgressOutput } from './progress.js';
import type { LoadReport } from './report.js';

const READ_CHUNK = 1 << 20;

/** Counts the newlines in a buffer: the client's own line count, for the progress rate. */
function countLines(chunk: Buffer): number {
  let n = 0;
  for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) n++;
  return n;
}

/** What `POST /kv?invalid=skip` answers. */
interface BatchAnswer {
  written: number;
  rejected: number;
  rejections: Rejection[];
}

/**
 * Streams a `key value` file to a running cluster as one `POST /kv?invalid=skip` body
 * (chunked, never read whole), drawing progress as it goes. The server parses, checks and
 * counts; its answer is the report, so the line numbers of rejected lines are the file's.
 */
export async function loadFileOverHttp(url: string, path: string, out?: ProgressOutput): Promise<LoadReport> {
  const total = (await stat(path)).size;
  const progress = out ? new Progress({ total, out }) : null;
  const start = performance.now();
  const target = new URL('/kv?invalid=skip', url);
  let bytes = 0;
  let lines = 0;

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
    req.on('error', reject);
  });
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      lines += countLines(chunk);
      progress?.update(bytes, lines);
      done(null, chunk);
    },
  });
  // The answer can come before the upload ends (an error stops the batch): wait for both,
  // but let an early answer win over the broken upload it causes.
  const upload = pipeline(createReadStream(path, { highWaterMark: READ_CHUNK }), tap, req);
  const { status, body } = await answer;
  await upload.catch(() => {});
  if (status !== 200) {
    let message = body;
    try {
      const { error } = JSON.parse(body) as { error: { code: string; message: string; written?: number } };
      message = `${error.code}: ${error.message}`;
      if (error.written !== undefined) message += ` (${error.written} pairs were stored before it)`;
    } catch {
      // not JSON: show the body as it is
    }
    throw new Error(`the server answered ${status}: ${message}`);
  }
  progress?.finish(bytes, lines);
  const result = JSON.parse(body) as BatchAnswer;
  return {
    loaded: result.written,
    rejected: result.rejected,
    rejections: result.rejections,
    seconds: (performance.now() - start) / 1000,
  };
}
