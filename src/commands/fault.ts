import type { CommandModule } from 'yargs';
import type { FaultSpec, ThunderClient } from '../client/index.js';
import { clientOptions, clientVerb, printJson, type ClientArgs } from './verb.js';

/**
 * `thunderdb fault list | add TYPE | heal [ID]`: the faults of a running cluster. The server
 * checks every fault; what it answers, or its error, is what the verb prints. Each prints
 * the server's JSON, `--json` or not.
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

/** The fault `fault add TYPE` describes: the options given, as the server names them. */
function specOf(type: string, args: FaultArgs): FaultSpec {
  const spec: Record<string, unknown> = { type };
  if (args.nodes !== undefined) spec.nodes = args.nodes.split(',').map((n) => Number(n.trim()));
  for (const name of ['ms', 'jitterMs', 'distribution', 'probability', 'direction'] as const) {
    if (args[name] !== undefined) spec[name] = args[name];
  }
  // The server checks the type and every field, and names what is wrong.
  return spec as FaultSpec;
}

async function runFault(client: ThunderClient, args: FaultArgs): Promise<void> {
  if (args.action === 'list') return printJson({ faults: await client.faults() });
  if (args.action === 'add') {
    if (args.what === undefined)
      throw new RangeError('fault add needs a type: partition, latency, loss, duplicate or pause');
    return printJson(await client.addFault(specOf(args.what, args)));
  }
  if (args.what === undefined) return printJson({ healed: await client.clearFaults() });
  const id = Number(args.what);
  if (!Number.isSafeInteger(id)) throw new RangeError(`fault ids are integers, got ${args.what}`);
  await client.clearFault(id);
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
      .option('ms', { type: 'number', describe: 'latency: delay of each message; pause: how long' })
      .option('jitter-ms', {
        type: 'number',
        describe: 'latency: up to this much more, at random (seeded)',
      })
      .option('distribution', {
        choices: ['uniform', 'exponential'] as const,
        describe: 'latency: jitter uniform up to --jitter-ms, or exponential with it as the mean',
      })
      .option('probability', { type: 'number', describe: 'loss, duplicate: share of messages, 0 to 1' })
      .option('direction', {
        choices: ['both', 'to', 'from'] as const,
        describe: 'partition: one way only',
      }),
  handler: clientVerb(runFault),
} as CommandModule<object, FaultArgs> as CommandModule<object, never>;
