import type { Argv } from 'yargs';
import { ClusterUnreachableError, DEFAULT_URL, ThunderClient, ThunderHttpError } from '../client/index.js';

/**
 * What the verbs that drive a running cluster share: `--url` and `--json`, one line of error
 * on stderr, and exit codes a script can rely on.
 */

/** Exit codes of the client verbs (README "Command line", and `--help`'s epilogue). */
export const EXIT = {
  ok: 0,
  /** The key is absent (get, del, mget), or a condition (`--if-match`, `--if-absent`) failed. */
  absent: 1,
  /** Bad usage or input, or a request the server refused (4xx). */
  refused: 2,
  /** The cluster is not reachable, or it failed (5xx). */
  unreachable: 3,
} as const;

export const EXIT_CODES_HELP =
  'Exit codes of the verbs that talk to a cluster: 0 ok; 1 key absent or a condition failed; ' +
  '2 bad usage or input, or a request the server refused (4xx); 3 cluster not reachable or a server error (5xx); ' +
  '141 standard output closed early.';

/** The options every client verb takes. */
export interface ClientArgs {
  url: string;
  json: boolean;
}

/** Adds `--url` and `--json`. */
export function clientOptions<T>(y: Argv<T>): Argv<T & ClientArgs> {
  return y
    .epilogue(EXIT_CODES_HELP)
    .option('url', { type: 'string', default: DEFAULT_URL, describe: 'The cluster' })
    .option('json', {
      type: 'boolean',
      default: false,
      describe: 'Print one JSON document (on failure {"error": {code, message, …}})',
    });
}

/** The exit code for a failure. */
export function exitCodeOf(err: unknown): number {
  if (err instanceof ThunderHttpError) {
    if (err.code === 'KEY_NOT_FOUND' || err.code === 'PRECONDITION_FAILED') return EXIT.absent;
    return err.status < 500 ? EXIT.refused : EXIT.unreachable;
  }
  if (err instanceof ClusterUnreachableError) return EXIT.unreachable;
  return EXIT.refused;
}

/** The one line a failure prints, after `thunderdb: `. */
export function messageOf(err: unknown): string {
  if (err instanceof ThunderHttpError) {
    const written = err.details.written;
    return `${err.code}: ${err.message}${typeof written === 'number' ? ` (${written} pairs were stored before it)` : ''}`;
  }
  if (err instanceof ClusterUnreachableError && err.reason === 'connection refused') {
    return `${err.message}; is the cluster running? start one with: npm run cluster`;
  }
  return err instanceof Error ? err.message : String(err);
}

/** A failure as the JSON document `--json` prints. */
function jsonOf(err: unknown): unknown {
  if (err instanceof ThunderHttpError) {
    return { error: { code: err.code, message: err.message, status: err.status, ...err.details } };
  }
  if (err instanceof ClusterUnreachableError) {
    return { error: { code: err.code, message: err.message, url: err.url, reason: err.reason } };
  }
  return { error: { code: 'BAD_INPUT', message: messageOf(err) } };
}

/** Prints a JSON document on stdout, one line. */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + '\n');
}

/**
 * A verb's handler: runs `verb` with a client of `--url` (a number it resolves to is the exit
 * code, anything else is 0); a failure prints one line on
 * stderr (and its JSON on stdout with `--json`) and sets the exit code. The process is left
 * to end by itself, so output still being written to a pipe is not cut off.
 */
export function clientVerb<A extends ClientArgs>(
  verb: (client: ThunderClient, args: A) => Promise<unknown>,
): (args: A) => Promise<void> {
  return async (args) => {
    try {
      const code = await verb(new ThunderClient(args.url), args);
      process.exitCode = typeof code === 'number' ? code : EXIT.ok;
    } catch (err) {
      if (args.json) printJson(jsonOf(err));
      process.stderr.write(`thunderdb: ${messageOf(err)}\n`);
      process.exitCode = exitCodeOf(err);
    }
  };
}
