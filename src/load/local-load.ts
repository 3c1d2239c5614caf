import type { ReplySink } from '../transport/batcher.js';
import { RejectionLog, type PairSink } from '../batch/pairs.js';
import { TextPairParser } from '../batch/text.js';
import type { Cluster } from '../cluster/cluster.js';
import type { ThunderError } from '../errors.js';
import type { Limits } from '../limits.js';
import { Op } from '../wire/protocol.js';
import { openLoadFile } from './file.js';
import { Progress, type ProgressOutput } from './progress.js';
import type { LoadReport } from './report.js';

/** Pairs sent and not yet acknowledged before reading pauses: bounds memory. */
const HIGH_WATER = 65_536;
const READ_CHUNK = 1 << 20;

export interface LocalLoadOptions {
  /** Where progress is drawn; none when absent. */
  out?: ProgressOutput;
  /**
   * Stops reading at the next chunk; the unfinished last line is dropped, every pair sent
   * is still awaited, and the report says where the load stopped (Ctrl-C in `--load`).
   */
  signal?: AbortSignal;
}

/**
 * Loads a `key value` file straight into a cluster in this process, as `--load` does at
 * start: the file is streamed, never read whole, and each pair goes to its node in the
 * same per-turn batches the HTTP front end uses. Bad lines are skipped and reported.
 * Resolves once every loaded pair is acknowledged by its node; rejects if any node fails a
 * pair, even after everything else was acknowledged.
 */
export async function loadFile(
  cluster: Cluster,
  path: string,
  limits: Limits,
  options: LocalLoadOptions = {},
): Promise<LoadReport> {
  const { out, signal } = options;
  const { stream, size } = await openLoadFile(path, READ_CHUNK);
  const start = performance.now();
  const progress = out ? new Progress({ total: size, out }) : null;
  const rejections = new RejectionLog();
  let sent = 0;
  let acked = 0;
  let lines = 0;
  let failure: ThunderError | null = null;
  let wake: (() => void) | null = null;

  const acks: ReplySink = {
    settle() {
      acked++;
      wake?.();
    },
    fail(_tag, error) {
      failure ??= error;
      sent--;
      wake?.();
    },
  };
  const pairs: PairSink = {
    pair(key, value, line) {
      lines = line;
      sent++;
      cluster.submit(acks, 0, Op.Put, key, value);
    },
    reject(line, error) {
      lines = line;
      rejections.add(line, error);
    },
  };
  const settled = (limit: number) =>
    new Promise<void>((resolve) => {
      wake = () => {
        if (sent - acked <= limit || failure) {
          wake = null;
          resolve();
        }
      };
      wake();
    });

  const parser = new TextPairParser(pairs, limits);
  let bytes = 0;
  let stopped = false;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (signal?.aborted) {
        stopped = true;
        break;
      }
      parser.push(chunk);
      bytes += chunk.length;
      progress?.update(bytes, lines);
      if (sent - acked > HIGH_WATER) await settled(HIGH_WATER / 4);
      if (failure) throw failure;
    }
  } finally {
    stream.destroy();
  }
  // Interrupted: the parser's unfinished line is dropped, not stored as a pair.
  if (!stopped) parser.end();
  await settled(0);
  if (failure) throw failure;
  progress?.finish(bytes, lines);
  return {
    loaded: acked,
    rejected: rejections.count,
    rejections: rejections.first,
    seconds: (performance.now() - start) / 1000,
    ...(stopped ? { stoppedAfterLine: lines } : {}),
  };
}
