import type { Cluster } from '../cluster/cluster.js';
import { toThunderError } from '../errors.js';
import { hasExpired } from '../expiry.js';
import { HASH_SPACE } from '../ring/murmur3.js';
import { forEachRecord } from '../wire/slices.js';
import type { RouteContext } from './context.js';
import { parseQuery, text } from './params.js';
import { isHead, sendError, writeStatus } from './reply.js';
import type { Router } from './router.js';
import { StreamedAnswer } from './stream.js';

/** Records one export slice carries: the node gathers at most this plus one record per message. */
export const EXPORT_SLICE_BYTES = 256 * 1024;

const EXPORT_PARAMS = { prefix: text() };

/** The media type of a dump: one JSON array per line. */
export const DUMP_TYPE = 'application/x-ndjson';

/**
 * Streams every live key with `prefix` as a dump, one NDJSON line per key:
 * `["key","<value as base64>"]`, or `["key","<base64>",EXPIRES_AT]` for a value that
 * expires (Unix ms). Values are base64 so every byte comes back exactly, binary or not;
 * `POST /kv?encoding=base64` takes the same lines back. Each key once, from the first
 * replica up of its partition; node by node, slice by slice, the next slice asked for only
 * once the client has taken the last, so memory is one slice however much the store holds.
 * Not a point-in-time view: a key written during the export may appear with its old or new
 * value, or not at all; a key untouched throughout appears exactly once.
 */
async function streamExport(answer: StreamedAnswer, cluster: Cluster, prefix: string): Promise<void> {
  const wanted = Buffer.from(prefix, 'utf8');
  try {
    for (const node of cluster.ring.members) {
      for (let from = 0; from < HASH_SPACE && !answer.over;) {
        const slice = await cluster.primaryRecordSlice(node, from, EXPORT_SLICE_BYTES);
        from = slice.next;
        const now = cluster.wall();
        let lines = '';
        forEachRecord(slice.records, (key, _hash, version, value, expiresAt) => {
          if (version < 0 || hasExpired(expiresAt, now)) return;
          if (key.length < wanted.length || wanted.compare(key, 0, wanted.length) !== 0) return;
          lines +=
            '[' +
            JSON.stringify(key.toString('utf8')) +
            ',"' +
            value!.toString('base64') +
            (expiresAt === 0 ? '"]\n' : `",${expiresAt}]\n`);
        });
        if (lines.length > 0) await answer.write(lines);
      }
    }
    await answer.end('');
  } catch (err) {
    answer.error(toThunderError(err));
  }
}

/** Registers `GET /export?prefix=P`: every key and every byte, as a dump `POST /kv` imports. */
export function registerExportRoute(app: Router, ctx: RouteContext): void {
  const { cluster, inFlight } = ctx;
  app.get('/export', Object.keys(EXPORT_PARAMS), (res, req) => {
    let prefix: string;
    try {
      prefix = parseQuery(req.getQuery(), EXPORT_PARAMS).prefix;
    } catch (err) {
      return sendError(res, toThunderError(err));
    }
    if (isHead(res)) {
      // The GET's status and type; its length is known only once every node is walked.
      writeStatus(res, 200).writeHeader('Content-Type', DUMP_TYPE).endWithoutBody();
      return;
    }
    const busy = ctx.heavy.enter();
    if (busy) return sendError(res, busy);
    const answer = new StreamedAnswer(res, inFlight, () => ctx.heavy.leave(), DUMP_TYPE);
    void streamExport(answer, cluster, prefix);
  });
}
