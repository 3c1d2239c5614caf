import type { CommandModule } from 'yargs';
import type { Fault, FaultSpec, ThunderClient } from '../client/index.js';
import { clientOptions, clientVerb, printJson, type ClientArgs } from './verb.js';
import { numberArg } from './number-arg.js';

/**
 * `thunderdb fault list | add TYPE | heal [ID]`: the faults of a running cluster. The server
 * checks every fault; what it answers, or its error, is what the verb prints. `list` prints a
 * table (`--json`: the server's JSON); `add` and `heal` print the server's JSON, `--json` or not.
 */

interface FaultArgs extends ClientArgs {
  action: 'list' | 'add' | 'heal';
  what?: string;
  nodes?: string;
  ms?: number;
  jitterMs?: number;
  distribution?: 'uniform' | 'exponential';
  probability?: number;
  direction?: 'both' | 'to' | 'from';
}

/** Node ids and fault ids: plain decimal digits. */
const ID = /^(0|[1-9][0-9]{0,8})$/;

/** The fault `fault add TYPE` describes: the options given, as the server names them. */
function specOf(type: string, args: FaultArgs): FaultSpec {
  const spec: Record<string, unknown> = { type };
  if (args.nodes !== undefined) {
    const ids = String(args.nodes)
      .split(',')
      .map((n) => n.trim());
    if (!ids.every((n) => ID.test(n)))
      throw new RangeError(`--nodes takes node ids, comma-separated, got ${JSON.stringify(args.nodes)}`);
    spec.nodes = ids.map(Number);
  }
  for (const name of ['ms', 'jitterMs', 'distribution', 'probability', 'direction'] as const) {
    if (args[name] !== undefined) spec[name] = args[name];
  }
  // The server checks the type and every field, and names what is wrong.
  return spec as FaultSpec;
}

/** A probability as a percentage, to 0.1 (0.07 is "7%", not "7.000000000000001%"). */
const percent = (probability: number) => `${Math.round(probability * 1000) / 10}%`;

/** What a fault does, in words: the fields beside its id, type and nodes. */
function effectOf(fault: Fault): string {
  switch (fault.type) {
    case 'partition':
      return fault.direction === 'to' || fault.direction === 'from'
        ? `messages ${fault.direction} the nodes dropped`
        : 'messages both ways dropped';
    case 'latency': {
      const jitter = fault.jitterMs ?? 0;
      const extra =
        jitter === 0
          ? ''
          : fault.distribution === 'exponential'
            ? ` + exponential, mean ${jitter} ms`
            : ` + up to ${jitter} ms`;
      return `${fault.ms} ms${extra} each way`;
    }
    case 'loss':
      return `${percent(fault.probability)} of messages dropped`;
    case 'duplicate':
      return `${percent(fault.probability)} of messages delivered twice`;
    case 'pause':
      return `paused for ${fault.ms} ms`;
  }
}

/** The faults in force as a table, as `nodes` shows the nodes: one row each, columns aligned. */
export function formatFaultsTable(faults: readonly Fault[]): string {
  if (faults.length === 0) return 'no faults in force\n';
  const rows = [
    ['ID', 'TYPE', 'NODES', 'EFFECT'],
    ...faults.map((f) => [String(f.id), f.type, f.nodes?.join(',') ?? 'all', effectOf(f)]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return (
    rows
      .map((row) =>
        row
          .map((cell, i) => cell.padEnd(widths[i]!))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

async function runFault(client: ThunderClient, args: FaultArgs): Promise<void> {
  if (args.action === 'list') {
    const faults = await client.faults();
    if (args.json) printJson({ faults });
    else process.stdout.write(formatFaultsTable(faults));
    return;
  }
  if (args.action === 'add') {
    if (args.what === undefined)
      throw new RangeError('fault add needs a type: partition, latency, loss, duplicate or pause');
    return printJson(await client.addFault(specOf(args.what, args)));
  }
  if (args.what === undefined) return printJson({ healed: await client.clearFaults() });
  if (!ID.test(args.what)) throw new RangeError(`fault ids are integers, got ${JSON.stringify(args.what)}`);
  await client.clearFault(Number(args.what));
  printJson({ healed: 1 });
}

export const faultCommand = {
  command: 'fault <action> [what]',
  describe:
    'List, add or heal faults of a running cluster: fault list | fault add TYPE [options] | fault heal [ID]',
  builder: (y) =>
    clientOptions(y)
      .positional('action', { choices: ['list', 'add', 'heal'] as const, demandOption: true })
      .positional('what', {
        type: 'string',
        describe: 'add: partition, latency, loss, duplicate or pause; heal: a fault id (default: all)',
      })
      .option('nodes', {
        type: 'string',
        describe: 'Nodes the fault acts on, comma-separated (default: every node)',
      })
      .option('ms', {
        coerce: numberArg('--ms'),
        describe: 'latency: delay of each message; pause: how long',
      })
      .option('jitter-ms', {
        coerce: numberArg('--jitter-ms'),
        describe: 'latency: up to this much more, at random (seeded)',
      })
      .option('distribution', {
        choices: ['uniform', 'exponential'] as const,
        describe: 'latency: jitter uniform up to --jitter-ms, or exponential with it as the mean',
      })
      .option('probability', {
        coerce: numberArg('--probability'),
        describe: 'loss, duplicate: share of messages, 0 to 1',
      })
      .option('direction', {
        choices: ['both', 'to', 'from'] as const,
        describe: 'partition: one way only',
      }),
  handler: clientVerb(runFault),
} as CommandModule<object, FaultArgs> as CommandModule<object, never>;
