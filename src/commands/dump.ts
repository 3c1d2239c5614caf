import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { CommandModule } from 'yargs';
import type { ExportRecord, ThunderClient } from '../client/index.js';
import { lineOfRecord, linesOf, recordOfLine } from '../client/ndjson.js';
import { Progress } from '../load/progress.js';
import { formatStored } from '../load/report.js';
import { DASH, literal } from './dash-arg.js';
import { clientOptions, clientVerb, printJson, type ClientArgs } from './verb.js';

/**
 * `export` and `import`: every key of a prefix as NDJSON, one `["key","<base64>"]` line each
 * (a third element, the expiry in Unix ms, for a key that expires), and back. Progress goes
 * to stderr, as `thunderdb load` draws it.
 */

/** A bar on stderr when it is a terminal or `--progress` asks; null otherwise. */
function progressOf(asked: boolean, total: number): Progress | null {
  return asked || process.stderr.isTTY ? new Progress({ total, out: process.stderr }) : null;
}

interface ExportArgs extends ClientArgs {
  prefix: string;
  out?: string;
  progress: boolean;
}

const exportCommand: CommandModule<object, ExportArgs> = {
  command: 'export [prefix]',
  describe: 'Dump the keys starting with a prefix as NDJSON ["key","<base64>"(,EXPIRES_AT_MS)] lines',
  builder: (y) =>
    clientOptions(y)
      .positional('prefix', { type: 'string', default: '', coerce: literal, describe: 'Default: every key' })
      .option('out', { type: 'string', describe: 'Write to this file (default: stdout)' })
      .option('progress', {
        type: 'boolean',
        default: false,
        describe: 'Show progress on stderr even when it is not a terminal',
      }),
  handler: clientVerb(async (client: ThunderClient, args: ExportArgs) => {
    if (args.json && args.out === undefined) {
      throw new RangeError('export --json needs --out FILE: stdout carries the dump');
    }
    // Opened before the export starts: a path that cannot be written is one line and exit 2,
    // not an error event nobody listens to while the first answer is awaited.
    const file = args.out === undefined ? null : await open(args.out, 'w');
    const out = file === null ? process.stdout : file.createWriteStream();
    const progress = progressOf(args.progress, 0);
    let keys = 0;
    let bytes = 0;
    async function* lines(): AsyncGenerator<string> {
      for await (const record of client.export(args.prefix)) {
        const line = lineOfRecord(record) + '\n';
        keys++;
        bytes += Buffer.byteLength(line);
        progress?.update(bytes, keys);
        yield line;
      }
    }
    // A pipeline: backpressure, and a write error (a full disk) ends the export with it.
    await pipeline(Readable.from(lines()), out, { end: file !== null });
    progress?.finish(bytes, keys);
    if (args.json) printJson({ exported: keys, bytes, out: args.out });
    else if (args.out !== undefined)
      process.stderr.write(`exported ${keys.toLocaleString('en-US')} keys to ${args.out}\n`);
  }),
};

interface ImportArgs extends ClientArgs {
  file: string;
  progress: boolean;
}

/** The records of an export file, read as the upload asks for them, with progress. */
/** One line's record; a bad line's error says that what came before it may be stored. */
function recordOf(line: string, where: string): ExportRecord {
  try {
    return recordOfLine(line, where);
  } catch (err) {
    // The import streams: what was sent before this line may be stored already.
    (err as Error).message +=
      '; lines before it may already be stored (importing again after the fix is safe: it writes the same values)';
    throw err;
  }
}

async function* recordsOf(file: string, progress: Progress | null): AsyncGenerator<ExportRecord> {
  const input = file === DASH ? process.stdin : createReadStream(file);
  let bytes = 0;
  let lines = 0;
  async function* counted(): AsyncGenerator<Uint8Array> {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      yield chunk;
    }
  }
  const name = file === DASH ? 'stdin' : file;
  for await (const line of linesOf(counted())) {
    lines++;
    if (line !== '') yield recordOf(line, `${name} line ${lines}`);
    progress?.update(bytes, lines);
  }
  progress?.finish(bytes, lines);
}

const importCommand: CommandModule<object, ImportArgs> = {
  command: 'import <file>',
  describe: 'Load what export wrote (a file, or - for stdin), expiries included',
  builder: (y) =>
    clientOptions(y)
      .positional('file', { type: 'string', demandOption: true, describe: 'An export file, or -' })
      .option('progress', {
        type: 'boolean',
        default: false,
        describe: 'Show progress on stderr even when it is not a terminal',
      }),
  handler: clientVerb(async (client: ThunderClient, args: ImportArgs) => {
    const start = performance.now();
    const total = args.file === DASH ? 0 : (await stat(args.file)).size;
    const result = await client.import(recordsOf(args.file, progressOf(args.progress, total)));
    const seconds = (performance.now() - start) / 1000;
    const expired = result.expired ?? 0;
    if (args.json) printJson({ written: result.written, expired });
    else {
      const skipped = expired > 0 ? `; ${expired.toLocaleString('en-US')} already expired, skipped` : '';
      const name = args.file === DASH ? 'stdin' : args.file;
      process.stdout.write(`imported ${formatStored(result.written, name, seconds)}${skipped}\n`);
    }
  }),
};

/** `export` and `import`, for `yargs.command()`. */
export const dumpCommands = [exportCommand, importCommand] as CommandModule<object, never>[];
