import type { Argv, CommandModule } from 'yargs';
import type { ThunderClient } from '../client/index.js';
import { formatBytes, formatMoved, formatNodesTable } from './nodes-table.js';
import { withRefillProgress } from './refill-progress.js';
import { clientOptions, clientVerb, printJson, type ClientArgs } from './verb.js';
import { numberArg } from './number-arg.js';

/** `nodes` and `node add|remove|crash|restart|plan`: the membership of a running cluster. */

/** Prints the answer as JSON with `--json`, else the line `human` makes of it. */
function show<T>(args: ClientArgs, answer: T, human: (answer: T) => string): void {
  if (args.json) printJson(answer);
  else process.stdout.write(human(answer) + '\n');
}

const nodes: CommandModule<object, ClientArgs> = {
  command: 'nodes',
  describe: 'Show the nodes as a table: id, state, keys, bytes, hints, ops (--json: all of GET /cluster)',
  builder: (y) => clientOptions(y),
  handler: clientVerb(async (client: ThunderClient, args: ClientArgs) => {
    const status = await client.cluster();
    if (args.json) printJson(status);
    else process.stdout.write(formatNodesTable(status));
  }),
};

interface IdArgs extends ClientArgs {
  id: number;
}

const withId = <T>(y: Argv<T>) =>
  clientOptions(y).positional('id', {
    coerce: numberArg('the node id'),
    demandOption: true,
    describe: 'The node id',
  });

const add: CommandModule<object, ClientArgs> = {
  command: 'add',
  describe: 'Start a node and move it its share of the data; answers when done',
  builder: (y) => clientOptions(y),
  handler: clientVerb(async (client: ThunderClient, args: ClientArgs) =>
    show(
      args,
      await client.addNode(),
      (a) => `node ${a.id} added: moved ${formatMoved(a.moved)} in ${Math.round(a.ms)} ms`,
    ),
  ),
};

const remove: CommandModule<object, IdArgs> = {
  command: 'remove <id>',
  describe: "Hand a node's data over, then stop it; answers when done",
  builder: withId,
  handler: clientVerb(async (client: ThunderClient, args: IdArgs) =>
    show(
      args,
      await client.removeNode(args.id),
      (a) => `node ${a.id} removed: moved ${formatMoved(a.moved)} in ${Math.round(a.ms)} ms`,
    ),
  ),
};

const crash: CommandModule<object, IdArgs> = {
  command: 'crash <id>',
  describe: "Kill a node's thread abruptly: its memory is gone",
  builder: withId,
  handler: clientVerb(async (client: ThunderClient, args: IdArgs) =>
    show(args, await client.crash(args.id), (a) => `node ${a.id} crashed (was ${a.was}, now ${a.state})`),
  ),
};

const restart: CommandModule<object, IdArgs> = {
  command: 'restart <id>',
  describe:
    'Start a new thread for a node that is down; answers once it is refilled, showing the refill on stderr meanwhile',
  builder: withId,
  handler: clientVerb(async (client: ThunderClient, args: IdArgs) => {
    // A refill can take a while: its progress on stderr meanwhile.
    const restarted = await withRefillProgress(client, args.id, client.restart(args.id), process.stderr);
    show(args, restarted, ({ id, state, refilled: r }) => {
      const gained = `${r.keys.toLocaleString('en-US')} keys, ${formatBytes(r.bytes)}`;
      return `node ${id} restarted (${state}): ${r.hints} hints replayed, ${r.partitions.toLocaleString('en-US')} partitions refilled, ${gained} gained, in ${Math.round(r.ms)} ms`;
    });
  }),
};

interface PlanArgs extends ClientArgs {
  add: boolean;
  remove?: number;
}

const plan: CommandModule<object, PlanArgs> = {
  command: 'plan',
  describe: 'What adding a node (--add) or removing one (--remove ID) would move; nothing moves',
  builder: (y) =>
    clientOptions(y)
      .option('add', { type: 'boolean', default: false, describe: 'Plan adding a node' })
      .option('remove', { coerce: numberArg('--remove'), describe: 'Plan removing this node' }),
  handler: clientVerb(async (client: ThunderClient, args: PlanArgs) => {
    // Checked here rather than by yargs' check(), whose failure reaches the fail handler as
    // a thrown error: this way it is a usage error like the others (exit 2).
    if (args.add === (args.remove !== undefined))
      throw new RangeError('give --add or --remove ID, one of them');
    const answer = await client.plan(args.remove === undefined ? { add: 1 } : { remove: args.remove });
    show(args, answer, (a) => {
      const change = 'remove' in a ? `removing node ${a.remove}` : 'adding a node';
      return `${change} would move ${formatMoved(a.moved)}`;
    });
  }),
};

const node: CommandModule<object, object> = {
  command: 'node <command>',
  describe:
    'Change the nodes of a running cluster: node add | remove ID | crash ID | restart ID | plan --add|--remove ID',
  builder: (y) =>
    y
      .command([add, remove, crash, restart, plan] as CommandModule<object, never>[])
      .demandCommand(1, 'Name one: add, remove, crash, restart or plan'),
  handler: () => {},
};

/** The node verbs, for `yargs.command()`. */
export const nodeCommands = [nodes, node] as CommandModule<object, never>[];
