import type { CommandModule } from 'yargs';
import type { ThunderClient, WatchEvent } from '../client/index.js';
import { literal } from './dash-arg.js';
import { numberArg } from './number-arg.js';
import { clientOptions, clientVerb, type ClientArgs } from './verb.js';

interface WatchArgs extends ClientArgs {
  prefix: string;
  key?: string;
  since?: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** A value as a line shows it: its text when it is UTF-8 without line breaks, else its size. */
function shown(event: WatchEvent): string {
  if (event.value !== undefined) {
    try {
      const text = utf8.decode(event.value);
      if (!/[\r\n]/.test(text)) return text;
    } catch {
      // not UTF-8: shown by its size
    }
  }
  return `<${event.size ?? 0} bytes>`;
}

/** One event as a line: `put KEY VERSION VALUE`, `delete KEY VERSION`, `expire KEY VERSION`. */
export function lineOfEvent(event: WatchEvent, json: boolean): string {
  if (json) {
    const { value, ...rest } = event;
    return JSON.stringify(
      value === undefined ? rest : { ...rest, value: Buffer.from(value).toString('base64') },
    );
  }
  const head = `${event.type} ${event.key} ${event.version}`;
  return event.type === 'put' ? `${head} ${shown(event)}` : head;
}

/** Writes a line to stdout, waiting until a pipe took it. */
function writeLine(line: string): Promise<void> {
  return new Promise((resolve, reject) =>
    process.stdout.write(line + '\n', (err) => (err ? reject(err) : resolve())),
  );
}

const watch: CommandModule<object, WatchArgs> = {
  command: 'watch [prefix]',
  describe:
    'Print each acknowledged change of the keys under a prefix as it happens, in version order, until Ctrl-C; a dropped connection resumes where it was',
  builder: (y) =>
    clientOptions(y)
      .positional('prefix', { type: 'string', default: '', coerce: literal, describe: 'Default: every key' })
      .option('key', { type: 'string', coerce: literal, describe: 'Watch one key instead' })
      .option('since', {
        coerce: numberArg('--since'),
        describe: 'Start right after this version (default: now); older than the cluster keeps: exit 2',
      })
      .epilogue(
        'Lines: "put KEY VERSION VALUE" (the value as text, or <N bytes>), "delete KEY VERSION", "expire KEY VERSION"; with --json one JSON object per line, values in base64.',
      ),
  handler: clientVerb(async (client: ThunderClient, args: WatchArgs) => {
    const stop = new AbortController();
    const interrupted = () => stop.abort();
    process.once('SIGINT', interrupted);
    try {
      const options = {
        signal: stop.signal,
        ...(args.key === undefined ? {} : { key: args.key }),
        ...(args.since === undefined ? {} : { since: args.since }),
      };
      for await (const event of client.watch(args.prefix, options))
        await writeLine(lineOfEvent(event, args.json));
    } finally {
      process.off('SIGINT', interrupted);
    }
  }),
};

/** `thunderdb watch`, for `yargs.command()`. */
export const watchCommands = [watch] as CommandModule<object, never>[];
