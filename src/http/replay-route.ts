import { createReadStream, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { TraceNotFoundError, toThunderError } from '../errors.js';
import { PAGE_POLICY, readPage } from '../pages.js';
import type { RouteContext } from './context.js';
import { endWith, endWithLength, isHead, sendError, writeStatus } from './reply.js';
import type { Router } from './router.js';
import { StreamedAnswer } from './stream.js';

/**
 * The names `GET /replay/files/{name}/trace.jsonl` serves: one folder name of letters,
 * digits, `.`, `_` and `-`, starting with a letter or a digit (so never `.` or `..`), at most
 * 100 characters. No separator and no escape gets through, so no name leaves --checks-dir.
 */
export const TRACE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** The media type of a trace: one JSON object a line. */
const TRACE_TYPE = 'application/x-ndjson';

/**
 * Registers `GET /replay`: the replay page (dashboard/replay.html), which steps through a
 * deterministic check's trace chosen from disk or named by `?file=NAME` (the page reads the
 * parameter itself and fetches the trace); and `GET /replay/files/{name}/trace.jsonl`:
 * `--checks-dir`/NAME/trace.jsonl, for a name matching {@link TRACE_NAME}, streamed; any
 * other name, or no such file, is 404 TRACE_NOT_FOUND.
 */
export function registerReplayRoute(app: Router, ctx: RouteContext): void {
  const page = readPage('replay.html');
  const root = resolve(ctx.checksDir);
  app.get('/replay', ['file'], (res) => {
    writeStatus(res, 200)
      .writeHeader('Content-Type', 'text/html; charset=utf-8')
      .writeHeader('Content-Security-Policy', PAGE_POLICY);
    endWith(res, page);
  });
  app.get('/replay/files/:name/trace.jsonl', (res, req) => {
    const name = req.getParameter(0) ?? '';
    const refused = new TraceNotFoundError(`no trace ${JSON.stringify(name)} in the checks folder`);
    if (!TRACE_NAME.test(name)) return sendError(res, refused);
    const path = join(root, name, 'trace.jsonl');
    let bytes: number;
    try {
      const stat = statSync(path);
      if (!stat.isFile()) return sendError(res, refused);
      bytes = stat.size;
    } catch {
      return sendError(res, refused);
    }
    if (isHead(res)) {
      writeStatus(res, 200).writeHeader('Content-Type', TRACE_TYPE);
      return endWithLength(res, bytes);
    }
    const answer = new StreamedAnswer(res, ctx.inFlight, () => {}, TRACE_TYPE);
    void (async () => {
      const stream = createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 20 });
      try {
        for await (const piece of stream as AsyncIterable<string>) {
          if (answer.over) break;
          await answer.write(piece);
        }
        await answer.end('');
      } catch (err) {
        answer.error(toThunderError(err));
      } finally {
        stream.destroy();
      }
    })();
  });
}
