import type { Argv, CommandModule } from 'yargs';
import { ThunderHttpError, type ThunderClient } from '../client/index.js';
import { DASH, literal } from './dash-arg.js';
import { clientOptions, clientVerb, EXIT, printJson, type ClientArgs } from './verb.js';
import { numberArg } from './number-arg.js';

/**
 * `get`, `put`, `del`, `ls`, `mget`: keys of a running cluster from a terminal. (yargs types a
 * builder's options by their dashed names; the handlers get them camel-cased, hence the casts.)
 */

// ignoreBOM: a value's leading EF BB BF is three of its bytes, not a marker to drop.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The error a CLI verb reports for an absent key: the server's own, for one shape everywhere. */
function notFound(key: string): ThunderHttpError {
  return new ThunderHttpError('KEY_NOT_FOUND', 404, `key ${JSON.stringify(key)} not found`);
}

/** Writes bytes to stdout, waiting until a pipe took them. */
function writeOut(bytes: Uint8Array | string): Promise<void> {
  return new Promise((resolve, reject) =>
    process.stdout.write(bytes, (err) => (err ? reject(err) : resolve())),
  );
}

/** stdin's bytes, exactly. */
async function readStdin(): Promise<Uint8Array> {
  const parts: Buffer[] = [];
  for await (const part of process.stdin) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

const keyPositional = <T>(y: Argv<T>) =>
  clientOptions(y).positional('key', {
    type: 'string',
    demandOption: true,
    coerce: literal,
    describe: 'The key (UTF-8 text)',
  });

interface GetArgs extends ClientArgs {
  key: string;
  r?: number;
}

const get: CommandModule<object, GetArgs> = {
  command: 'get <key>',
  describe: "Print a key's value, its bytes exactly; exit 1 when absent",
  builder: (y) =>
    keyPositional(y).option('r', {
      coerce: numberArg('-r'),
      describe: "Replicas that must answer (default the cluster's)",
    }),
  handler: clientVerb(async (client: ThunderClient, args: GetArgs) => {
    const entry = await client.get(args.key, { r: args.r });
    if (entry === null) throw notFound(args.key);
    if (!args.json) return writeOut(entry.value);
    let text: string | null = null;
    try {
      text = utf8.decode(entry.value);
    } catch {
      // not UTF-8: base64 only
    }
    printJson({
      key: args.key,
      value: Buffer.from(entry.value).toString('base64'),
      text,
      etag: entry.etag,
      version: entry.version,
      ttl: entry.ttl ?? null,
    });
  }),
};

interface PutArgs extends ClientArgs {
  key: string;
  value: string;
  ttl?: number;
  ifMatch?: string;
  ifAbsent?: boolean;
  w?: number;
}

const put: CommandModule<object, PutArgs> = {
  command: 'put <key> <value>',
  describe: 'Write a value (- reads the bytes of stdin)',
  builder: (y) =>
    keyPositional(y)
      .positional('value', { type: 'string', demandOption: true, describe: 'The value, or - for stdin' })
      .option('ttl', {
        coerce: numberArg('--ttl'),
        describe: 'Seconds until the key expires (default: never)',
      })
      .option('if-match', {
        type: 'string',
        describe: 'Write only over this version (an ETag, "123" or 123) or * (any value); else exit 1',
      })
      .option('if-absent', {
        type: 'boolean',
        describe: 'Write only if the key is absent; else exit 1',
      })
      .option('w', {
        coerce: numberArg('-w'),
        describe: "Replicas that must apply it (default the cluster's)",
      })
      .conflicts('if-match', 'if-absent') as unknown as Argv<PutArgs>,
  handler: clientVerb(async (client: ThunderClient, args: PutArgs) => {
    const value = args.value === DASH ? await readStdin() : args.value;
    const written = await client.put(args.key, value, {
      ttl: args.ttl,
      ifMatch: args.ifMatch,
      ifAbsent: args.ifAbsent,
      w: args.w,
    });
    if (args.json) printJson({ key: args.key, ...written });
  }),
};

interface DelArgs extends ClientArgs {
  key: string;
  ifMatch?: string;
  w?: number;
}

const del: CommandModule<object, DelArgs> = {
  command: 'del <key>',
  describe: 'Delete a key; exit 1 when it was absent',
  builder: (y) =>
    keyPositional(y)
      .option('if-match', {
        type: 'string',
        describe: 'Delete only this version (an ETag, "123" or 123) or * (any value); else exit 1',
      })
      .option('w', {
        coerce: numberArg('-w'),
        describe: "Replicas that must apply it (default the cluster's)",
      }) as unknown as Argv<DelArgs>,
  handler: clientVerb(async (client: ThunderClient, args: DelArgs) => {
    if (!(await client.delete(args.key, { ifMatch: args.ifMatch, w: args.w }))) throw notFound(args.key);
    if (args.json) printJson({ key: args.key, deleted: true });
  }),
};

interface LsArgs extends ClientArgs {
  prefix: string;
}

const ls: CommandModule<object, LsArgs> = {
  command: 'ls [prefix]',
  describe: 'List the keys starting with a prefix, one per line, in UTF-8 byte order',
  builder: (y) =>
    clientOptions(y).positional('prefix', {
      type: 'string',
      default: '',
      coerce: literal,
      describe: 'Default: every key',
    }),
  handler: clientVerb(async (client: ThunderClient, args: LsArgs) => {
    const keys: string[] = [];
    for await (const key of client.list(args.prefix)) {
      if (args.json) keys.push(key);
      else await writeOut(key + '\n');
    }
    if (args.json) printJson({ keys });
  }),
};

interface MgetArgs extends ClientArgs {
  keys: string[];
}

const mget: CommandModule<object, MgetArgs> = {
  command: 'mget <keys..>',
  describe: 'Print "key value" for each key found, values as UTF-8 text; exit 1 if any is absent',
  builder: (y) =>
    clientOptions(y).positional('keys', {
      type: 'string',
      array: true,
      demandOption: true,
      coerce: (keys: string[]) => keys.map(literal),
      describe: 'Keys',
    }),
  handler: clientVerb(async (client: ThunderClient, args: MgetArgs) => {
    const values = await client.mget(args.keys);
    const absent = [...values].filter(([, value]) => value === null).map(([key]) => key);
    if (args.json) printJson({ values: Object.fromEntries(values) });
    else {
      for (const [key, value] of values) if (value !== null) await writeOut(`${key} ${value}\n`);
    }
    if (absent.length === 0) return EXIT.ok;
    process.stderr.write(
      `thunderdb: ${absent.length} of ${values.size} keys not found: ${absent.join(', ')}\n`,
    );
    return EXIT.absent;
  }),
};

/** The key verbs, for `yargs.command()`. */
export const kvCommands = [get, put, del, ls, mget] as CommandModule<object, never>[];
