#!/usr/bin/env -S node --max-semi-space-size=2
// The flag above (also in package.json's "cluster" script) caps the main thread's young
// generation at 2 MiB per semi-space: it cut RSS per stored record by about a fifth, at a
// few percent of throughput (bench/RESULTS.md). Node threads get the same cap in NodeLink.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';

import { httpUrl } from './address.js';

import { Cluster, replicationFor, type ClusterOptions } from './cluster/cluster.js';
import {
  describeStorage,
  parseClusterNodes,
  parseMemcachedServers,
  type StorageOptions,
} from './storage/options.js';

import { FSYNC_MODES, type FsyncMode } from './storage/log.js';

import { isLoopback } from './http/request-guard.js';

import { checkLimits } from './limits.js';
import { CHECK_DEFAULTS, checkCommand, type CheckArgs } from './check/command.js';

import { protectDash } from './commands/dash-arg.js';

import { dumpCommands } from './commands/dump.js';

import { faultCommand } from './commands/fault.js';

import { kvCommands } from './commands/kv.js';
import { watchCommands } from './commands/watch.js';

import { nodeCommands } from './commands/node.js';

import { EXIT, EXIT_CODES_HELP, exitCodeOf, messageOf } from './commands/verb.js';

import { loadFileOverHttp } from './load/http-load.js';

import { newSeed } from './time/rng.js';

import { INTERRUPTED_EXIT, interruptOnSigint } from './load/interrupt.js';

import { loadFile } from './load/local-load.js';

import { formatReport } from './load/report.js';

import { checkNodes, MAX_NODES, NODE_COST, SLOW_START_NODES } from './cluster/node-budget.js';

import { bytesArg, numberArg } from './commands/number-arg.js';
import {
  DEFAULT_ANTI_ENTROPY_MS,
  DEFAULT_WATCH_HISTORY,
  DEFAULT_WATCH_HISTORY_MS,
  DEFAULT_LIMITS,
  DEFAULT_MAX_BUFFERED_BODY_BYTES,
  DEFAULT_CHECKS_DIR,
  DEFAULT_TIMEOUT_MS,
  DEFAULT_TOMBSTONE_GRACE_MS,
} from './config.js';
import { chooseFrontEnd, FRONT_END_NAMES, type FrontEndName } from './http/front-ends.js';

interface ClusterArgs {
  nodes: number;
  port: number;
  host: string;
  partitions: number;
  replicas?: number;
  r?: number;
  w?: number;
  tombstoneGraceMs: number;
  antiEntropyMs: number;
  watchHistory: number;
  watchHistoryMs: number;
  seed?: number;
  timeoutMs: number;
  load?: string;
  maxKeyBytes: number;
  maxValueBytes: number;
  maxBodyBytes: number;
  maxKeysPerRequest: number;
  maxHeavyRequests: number;
  stallTimeoutMs: number;
  graceMs: number;
  allowHost: string[];
  allowOrigin: string[];
  maxConnections?: number;
  maxBufferedBodyBytes: number;
  http?: FrontEndName;
  checksDir: string;
  storage: 'memory' | 'log' | 'redis' | 'memcached';
  dataDir?: string;
  fsync?: FsyncMode;
  redisUrl?: string;
  redisCluster?: string;
  redisPrefix?: string;
  memcached?: string;
  memcachedPrefix?: string;
  maxMemory?: number;
}

/** The storage options, checked together: each goes with its backend only. */
function storageOf(args: ClusterArgs): StorageOptions | undefined {
  const given = (names: (keyof ClusterArgs)[]) =>
    names
      .filter((name) => args[name] !== undefined)
      .map((name) => `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
  const refuse = (names: (keyof ClusterArgs)[], backend: string) => {
    const wrong = given(names);
    if (wrong.length > 0)
      throw new RangeError(`${wrong.join(' and ')} go${wrong.length === 1 ? 'es' : ''} with ${backend}`);
  };
  if (args.storage !== 'log' && args.storage !== 'memcached')
    refuse(['dataDir', 'fsync'], '--storage log or memcached');
  if (args.storage !== 'redis') refuse(['redisUrl', 'redisCluster', 'redisPrefix'], '--storage redis');
  if (args.storage !== 'memcached') refuse(['memcached', 'memcachedPrefix'], '--storage memcached');
  switch (args.storage) {
    case 'memory':
      return undefined;
    case 'log':
      if (args.dataDir === undefined) throw new RangeError('--storage log needs --data-dir DIR');
      return { kind: 'log', dataDir: args.dataDir, fsync: args.fsync ?? 'everysec' };
    case 'redis': {
      if ((args.redisUrl === undefined) === (args.redisCluster === undefined)) {
        throw new RangeError('--storage redis needs one of --redis-url URL or --redis-cluster HOST:PORT,…');
      }
      const target =
        args.redisUrl !== undefined
          ? { url: args.redisUrl }
          : { cluster: parseClusterNodes(args.redisCluster!) };
      return { kind: 'redis', target, prefix: args.redisPrefix ?? 'thunderdb:' };
    }
    case 'memcached':
      if (args.memcached === undefined)
        throw new RangeError('--storage memcached needs --memcached HOST:PORT,…');
      // memcached may evict any value and cannot list its keys: the records need a log.
      if (args.dataDir === undefined)
        throw new RangeError('--storage memcached needs --data-dir DIR, where each node logs its records');
      return {
        kind: 'memcached',
        servers: parseMemcachedServers(args.memcached),
        prefix: args.memcachedPrefix ?? 'thunderdb:',
        dataDir: args.dataDir,
        fsync: args.fsync ?? 'everysec',
        maxValueBytes: args.maxValueBytes,
      };
  }
}

/** A repeatable option's values, each also split at commas. */
function splitList(values: string[] | undefined): string[] {
  return (values ?? []).flatMap((v) => String(v).split(',')).filter((v) => v.trim() !== '');
}

/** `thunderdb cluster`: start the nodes, load a file if asked, serve until a signal. */
async function runCluster(args: ClusterArgs): Promise<void> {
  const limits = checkLimits({
    maxKeyBytes: args.maxKeyBytes,
    maxValueBytes: args.maxValueBytes,
    maxBodyBytes: args.maxBodyBytes,
    maxKeysPerRequest: args.maxKeysPerRequest,
    maxHeavyRequests: args.maxHeavyRequests,
    stallTimeoutMs: args.stallTimeoutMs,
  });
  if (!Number.isInteger(args.port) || args.port < 0 || args.port > 65535) {
    throw new RangeError(`port must be an integer from 0 to 65535, got ${args.port}`);
  }
  if (!Number.isFinite(args.graceMs) || args.graceMs < 0) {
    throw new RangeError(`grace-ms must be a number of milliseconds, 0 or more, got ${args.graceMs}`);
  }
  checkNodes(args.nodes);
  // Chosen before any thread starts: `--http uws` where uWS has no binary is refused here.
  // The server is imported only now, so `--help` and `thunderdb load` never load a front end.
  const frontEnd = chooseFrontEnd(args.http);
  const { startServer } = await import('./http/server.js');
  const options = {
    nodes: args.nodes,
    partitions: args.partitions,
    replicas: args.replicas,
    r: args.r,
    w: args.w,
    tombstoneGraceMs: args.tombstoneGraceMs,
    antiEntropyMs: args.antiEntropyMs,
    watchHistory: args.watchHistory,
    watchHistoryMs: args.watchHistoryMs,
    seed: args.seed ?? newSeed(),
    timeoutMs: args.timeoutMs,
    storage: storageOf(args),
    ...(args.maxMemory === undefined ? {} : { maxMemoryBytes: args.maxMemory }),
  } satisfies ClusterOptions;
  const replication = replicationFor(options); // checked before any thread starts
  const cluster = await startNodes(options);
  if (args.load !== undefined) {
    const interrupt = interruptOnSigint();
    try {
      const report = await loadFile(cluster, args.load, limits, {
        out: process.stderr,
        signal: interrupt.signal,
      });
      console.log(formatReport(args.load, report));
      if (report.stoppedAfterLine !== undefined) {
        await cluster.close();
        process.exit(INTERRUPTED_EXIT);
      }
    } catch (err) {
      await cluster.close();
      throw err;
    } finally {
      interrupt.release();
    }
  }
  const server = await startServer({
    cluster,
    limits,
    host: args.host,
    port: args.port,
    allowHosts: splitList(args.allowHost),
    allowOrigins: splitList(args.allowOrigin),
    maxConnections: args.maxConnections,
    maxBufferedBodyBytes: args.maxBufferedBodyBytes,
    http: frontEnd.name,
    checksDir: args.checksDir,
  });
  if (!isLoopback(args.host)) {
    console.warn(
      `warning: --host ${args.host} exposes ThunderDB beyond this machine, and its HTTP API has no authentication: anyone who can reach port ${server.port} can read, write and delete every key. Keep the default 127.0.0.1 unless a firewall or an authenticating proxy stands in front.`,
    );
  }
  console.log(frontEnd.why);
  console.log(
    `ThunderDB listening on ${httpUrl(server.host, server.port)} with ${args.nodes} node${args.nodes === 1 ? '' : 's'}` +
      ` (replicas ${replication.replicas}, r ${replication.r}, w ${replication.w}, seed ${cluster.seed}` +
      `${describeStorage(options.storage)}); press Ctrl-C to stop`,
  );

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      console.error(`${signal} again: exiting at once`);
      process.exit(1);
    }
    stopping = true;
    console.log(`${signal}: finishing requests in flight, then stopping`);
    server
      .close(args.graceMs)
      .then(() => cluster.close())
      .then(
        () => process.exit(0),
        (err: unknown) => {
          console.error(err);
          process.exit(1);
        },
      );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  // A promise rejected with nobody listening is a bug; by default Node ends the process on
  // one, and with it every key a memory cluster holds. The server says so and goes on.
  process.on('unhandledRejection', (err: unknown) => {
    console.error(
      `ThunderDB internal error (the server goes on; please report it): ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
    );
  });
}

/** Starts the node threads, saying how far it got when there are many to start. */
async function startNodes(options: ClusterOptions & { nodes: number }): Promise<Cluster> {
  const { nodes } = options;
  if (nodes <= SLOW_START_NODES) return Cluster.start(options);
  console.error(
    `starting ${nodes} node threads (about ${Math.round((nodes * NODE_COST.rssMB) / 100) / 10} GB, ` +
      `${Math.ceil((nodes * NODE_COST.startMs) / 1000)} s)`,
  );
  let up = 0;
  const timer = setInterval(() => console.error(`  ${up} of ${nodes} nodes up`), 1000);
  try {
    return await Cluster.start({ ...options, onNodeReady: () => up++ });
  } finally {
    clearInterval(timer);
  }
}

/** The commands of `thunderdb`, and those under `node`: what a usage error's hint names. */
const COMMANDS = [
  'cluster',
  'load',
  'check',
  'get',
  'put',
  'del',
  'ls',
  'mget',
  'nodes',
  'node',
  'export',
  'import',
  'fault',
];
const NODE_COMMANDS = ['add', 'remove', 'crash', 'restart', 'plan'];

/** `thunderdb [command [subcommand]] --help` for the command a command line names. */
function helpCommand(argv: readonly string[]): string {
  const [command, sub] = argv;
  if (command === undefined || !COMMANDS.includes(command)) return 'thunderdb --help';
  if (command === 'node' && sub !== undefined && NODE_COMMANDS.includes(sub))
    return `thunderdb node ${sub} --help`;
  return `thunderdb ${command} --help`;
}

/** Parses the command line and runs the command. Exported for the bin script only. */
export async function main(argv: string[]): Promise<void> {
  const y = yargs(protectDash(argv));
  // A closed pipe (`thunderdb export | head -1`) ends the command quietly, as it does any
  // Unix tool (141: killed by SIGPIPE), rather than with an EPIPE stack trace.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(141);
    throw err;
  });
  await y
    // Positionals are text as typed: a value `1.10` or a key `0x10` must not become a number.
    .parserConfiguration({ 'parse-positional-numbers': false })
    .scriptName('thunderdb')
    .wrap(Math.min(110, y.terminalWidth()))
    .usage('$0 <command> [options]')
    .command(
      'cluster',
      'Start a cluster: an HTTP front end and one worker thread per node',
      (y) =>
        y
          .option('nodes', {
            alias: 'n',
            coerce: numberArg('--nodes'),
            default: 3,
            describe: `Node threads (1 = single-node mode), at most ${MAX_NODES}: each costs about ${NODE_COST.rssMB} MB`,
          })
          .option('port', {
            alias: 'p',
            coerce: numberArg('--port'),
            default: 8080,
            describe: 'HTTP port; 0 picks a free one',
          })
          .option('host', { type: 'string', default: '127.0.0.1', describe: 'Address to listen on' })
          .option('partitions', {
            coerce: numberArg('--partitions'),
            default: 1024,
            describe: 'Equal hash-ring partitions shared out among the nodes',
          })
          .option('replicas', {
            coerce: numberArg('--replicas'),
            describe:
              'Copies of each key, on distinct nodes (default 3, or the node count below 3; 1 = no replication)',
          })
          .option('r', {
            coerce: numberArg('--r'),
            describe: 'Replicas a read waits for (default a majority of --replicas); per request ?r=',
          })
          .option('w', {
            coerce: numberArg('--w'),
            describe:
              'Replicas that must apply a write before it is acknowledged (default a majority); per request ?w=',
          })
          .option('tombstone-grace-ms', {
            coerce: numberArg('--tombstone-grace-ms'),
            default: DEFAULT_TOMBSTONE_GRACE_MS,
            describe:
              'How long a delete every replica acknowledged keeps its tombstone before it is purged, and an expired value its bytes',
          })
          .option('seed', {
            coerce: numberArg('--seed'),
            describe:
              'Seed of every random choice of the simulation (fault decisions); printed at start (default: a fresh one)',
          })
          .option('anti-entropy-ms', {
            coerce: numberArg('--anti-entropy-ms'),
            default: DEFAULT_ANTI_ENTROPY_MS,
            describe: 'How often replicas compare partition digests and copy what differs (0: never)',
          })
          .option('watch-history', {
            coerce: numberArg('--watch-history'),
            default: DEFAULT_WATCH_HISTORY,
            describe: 'Acknowledged changes kept for watchers that resume (GET /watch?since=)',
          })
          .option('watch-history-ms', {
            coerce: numberArg('--watch-history-ms'),
            default: DEFAULT_WATCH_HISTORY_MS,
            describe: 'How long a change is kept for watchers that resume, ms',
          })
          .option('storage', {
            choices: ['memory', 'log', 'redis', 'memcached'] as const,
            default: 'memory' as const,
            describe:
              'memory: data is gone when a node stops; log: each node appends to a log under --data-dir; redis: values live in Redis (or a Redis Cluster), records in node memory, read back at start; memcached: values live in memcached, records in node memory and logged under --data-dir',
          })
          .option('data-dir', {
            type: 'string',
            describe: "log, memcached: the directory of the nodes' logs (node-<id>/ each)",
          })
          .option('fsync', {
            choices: FSYNC_MODES,
            describe:
              "log, memcached: when writes reach the disk: always (before each acknowledgement, shared by a turn's writes), everysec (default), no (when the OS chooses)",
          })
          .option('redis-url', {
            type: 'string',
            describe: 'redis: the Redis server, e.g. redis://127.0.0.1:6379',
          })
          .option('redis-cluster', {
            type: 'string',
            describe: 'redis: some nodes of a Redis Cluster, host:port,host:port…',
          })
          .option('redis-prefix', {
            type: 'string',
            describe:
              'redis: prefix of every key the cluster writes (default thunderdb:); each node adds n<id>',
          })
          .option('memcached', {
            type: 'string',
            describe: 'memcached: the servers, host:port,host:port… (values spread over them by name)',
          })
          .option('memcached-prefix', {
            type: 'string',
            describe:
              'memcached: prefix of every item the cluster writes (default thunderdb:); each node adds n<id>',
          })
          .option('max-memory', {
            coerce: bytesArg('--max-memory'),
            describe:
              "The process's memory the nodes' stores keep within (e.g. 512M): a full node refuses writes that add to it with 507 OUT_OF_MEMORY; reads and deletes go on (default: unbounded)",
          })
          .option('load', { type: 'string', describe: 'A "key value" file to load before serving' })
          .option('max-key-bytes', {
            coerce: numberArg('--max-key-bytes'),
            default: DEFAULT_LIMITS.maxKeyBytes,
            describe: 'Largest key (UTF-8 bytes, at most 65535)',
          })
          .option('max-value-bytes', {
            coerce: numberArg('--max-value-bytes'),
            default: DEFAULT_LIMITS.maxValueBytes,
            describe: 'Largest value (bytes)',
          })
          .option('max-body-bytes', {
            coerce: numberArg('--max-body-bytes'),
            default: DEFAULT_LIMITS.maxBodyBytes,
            describe: 'Largest body read whole (_mget, /put); batches stream and are bounded per pair',
          })
          .option('max-keys-per-request', {
            coerce: numberArg('--max-keys-per-request'),
            default: DEFAULT_LIMITS.maxKeysPerRequest,
            describe: 'Most distinct keys one _mget may name',
          })
          .option('max-heavy-requests', {
            coerce: numberArg('--max-heavy-requests'),
            default: DEFAULT_LIMITS.maxHeavyRequests,
            describe: '_mget, /snapshot and listings served at once; more get 503 SERVER_BUSY',
          })
          .option('stall-timeout-ms', {
            type: 'number',
            default: DEFAULT_LIMITS.stallTimeoutMs,
            describe:
              'A streamed answer (/export, /snapshot, _mget) whose client takes no bytes for this many ms has its connection closed and its place freed',
          })
          .option('timeout-ms', {
            coerce: numberArg('--timeout-ms'),
            default: DEFAULT_TIMEOUT_MS,
            describe:
              'A node that has not answered within this many ms fails its requests with 504 NODE_TIMEOUT',
          })
          .option('grace-ms', {
            coerce: numberArg('--grace-ms'),
            default: 5000,
            describe: 'On SIGINT/SIGTERM, how long to let requests finish',
          })
          .option('allow-host', {
            type: 'string',
            array: true,
            default: [],
            describe:
              'Host names accepted besides IP addresses and localhost (repeatable, or comma-separated; * for any). Checked when listening on loopback, or whenever given',
          })
          .option('allow-origin', {
            type: 'string',
            array: true,
            default: [],
            describe:
              "Browser origins (http://host:port) whose requests are accepted besides the server's own (repeatable, or comma-separated; * for any)",
          })
          .option('max-connections', {
            coerce: numberArg('--max-connections'),
            describe:
              'Client connections at once; more are refused until some close (default: ulimit -n less 256)',
          })
          .option('max-buffered-body-bytes', {
            coerce: numberArg('--max-buffered-body-bytes'),
            default: DEFAULT_MAX_BUFFERED_BODY_BYTES,
            describe: 'Request-body bytes all connections together may hold while bodies read whole arrive',
          })
          .option('checks-dir', {
            type: 'string',
            default: DEFAULT_CHECKS_DIR,
            describe:
              'Where checks keep their files, a folder each: those the dashboard starts (POST /check) write there, and GET /replay?file=NAME opens NAME/trace.jsonl from there (thunderdb check --mode deterministic --out DIR/NAME)',
          })
          .option('http', {
            choices: FRONT_END_NAMES,
            describe:
              'HTTP front end: uws (uWebSockets.js) or node (node:http; answers HTTP/1.0 and pipelining). Default: uws where its native binary loads (Node 20), else node',
          }),
      (args) => runCluster(args as unknown as ClusterArgs),
    )
    .command(
      'load <file>',
      'Stream a "key value" file into a running cluster',
      (y) =>
        y
          .positional('file', {
            type: 'string',
            demandOption: true,
            describe: 'One "key value" pair per line',
          })
          .option('url', {
            type: 'string',
            default: 'http://127.0.0.1:8080',
            describe: 'The cluster to load into',
          })
          .epilogue(EXIT_CODES_HELP),
      async (args) => {
        const interrupt = interruptOnSigint();
        try {
          const report = await loadFileOverHttp(args.url, args.file, {
            out: process.stderr,
            signal: interrupt.signal,
          });
          console.log(formatReport(args.file, report));
          if (report.stoppedAfterLine !== undefined) process.exit(INTERRUPTED_EXIT);
        } catch (err) {
          // One line and the exit codes of the client verbs: 3 when no cluster answers.
          console.error(`thunderdb: ${messageOf(err)}`);
          process.exit(exitCodeOf(err));
        } finally {
          interrupt.release();
        }
      },
    )
    .command(
      'check',
      'Run a seeded workload under a seeded fault schedule and check the history: exit 0 valid, 1 invalid, 2 unknown',
      (y) =>
        y
          .option('seed', {
            coerce: numberArg('--seed'),
            describe: 'Seed of the workload and the fault schedule (default: a fresh one, printed)',
          })
          .option('mode', {
            choices: ['threads', 'deterministic'] as const,
            default: CHECK_DEFAULTS.mode,
            describe:
              'threads: the normal cluster; deterministic: one thread on a simulated clock, replayed exactly by its seed',
          })
          .option('url', {
            type: 'string',
            describe:
              "Check a running cluster instead of starting one (threads mode); the check shows live on that cluster's dashboard, which can stop it",
          })
          .option('nodes', {
            coerce: numberArg('--nodes'),
            default: CHECK_DEFAULTS.nodes,
            describe: 'Nodes of the cluster started',
          })
          .option('replicas', {
            coerce: numberArg('--replicas'),
            describe: 'Copies of each key (default 3, or the node count below 3)',
          })
          .option('r', {
            coerce: numberArg('--r'),
            describe: "Replicas a read waits for (default a majority; at --url, the cluster's)",
          })
          .option('w', {
            coerce: numberArg('--w'),
            describe: "Replicas a write waits for (default a majority; at --url, the cluster's)",
          })
          .option('repair', {
            choices: ['sync', 'async'] as const,
            default: CHECK_DEFAULTS.repair,
            describe: 'Read repair before the answer (sync) or after it (async)',
          })
          .option('faults', {
            type: 'string',
            default: CHECK_DEFAULTS.faults,
            describe: 'Kinds of fault the schedule injects, comma-separated, or none',
          })
          .option('clients', {
            coerce: numberArg('--clients'),
            default: CHECK_DEFAULTS.clients,
            describe: 'Concurrent clients',
          })
          .option('keys', {
            coerce: numberArg('--keys'),
            default: CHECK_DEFAULTS.keys,
            describe: 'Keys they share: even ones written plainly, odd ones conditionally',
          })
          .option('ops', {
            coerce: numberArg('--ops'),
            default: CHECK_DEFAULTS.ops,
            describe: 'Operations at most',
          })
          .option('time-limit', {
            coerce: numberArg('--time-limit'),
            default: CHECK_DEFAULTS.timeLimit,
            describe: 'Seconds the workload runs (simulated in the deterministic mode)',
          })
          .option('think-ms', {
            coerce: numberArg('--think-ms'),
            default: CHECK_DEFAULTS.thinkMs,
            describe: 'Each client waits up to this long (seeded) between operations',
          })
          .option('value-bytes', {
            coerce: numberArg('--value-bytes'),
            default: CHECK_DEFAULTS.valueBytes,
            describe:
              'Bytes of each value written, its name padded with dots (0: the name alone, e.g. 3-17): enough to fill a storage backend',
          })
          .option('timeout-ms', {
            coerce: numberArg('--timeout-ms'),
            default: CHECK_DEFAULTS.timeoutMs,
            describe: 'A replica that has not answered within this long counts as failed',
          })
          .option('converge-ms', {
            coerce: numberArg('--converge-ms'),
            default: CHECK_DEFAULTS.convergeMs,
            describe: 'How long replicas have to agree once every fault is healed',
          })
          .option('out', {
            type: 'string',
            default: CHECK_DEFAULTS.out,
            describe:
              'Directory for results.json, history.jsonl and report.html (and in the deterministic mode trace.jsonl and replay.html)',
          }),
      async (args) => {
        process.exitCode = await checkCommand({ ...args, seed: args.seed ?? newSeed() } as CheckArgs);
      },
    )
    .command(kvCommands)
    .command(watchCommands)
    .command(nodeCommands)
    .command(dumpCommands)
    .command(faultCommand)
    .example('$0 cluster --nodes 3', 'three nodes on http://127.0.0.1:8080')
    .example('$0 cluster --port 0 --load data.txt', 'load a file, then serve on a free port')
    .example('$0 load data.txt --url http://127.0.0.1:8080', 'bulk-load into a running cluster')
    .example('$0 fault add partition --nodes 2', 'cut node 2 off; thunderdb fault heal heals every fault')
    .example('$0 check --seed 7 --mode deterministic', 'check a cluster under faults, exactly repeatable')
    .example('$0 put greeting hello --ttl 60', 'write a key that expires in a minute')
    .example('$0 get greeting', 'print its value (exit 1 when absent)')
    .example('head -c 100 /dev/urandom | $0 put noise -', 'write the bytes of stdin')
    .example('$0 export --out dump.ndjson && $0 import dump.ndjson', 'dump every key, and load it back')
    .example('$0 nodes', 'the nodes as a table')
    .epilogue(EXIT_CODES_HELP)
    .demandCommand(1, `Name a command: ${COMMANDS.slice(0, -1).join(', ')} or ${COMMANDS.at(-1)!}`)
    .strict()
    .help()
    // Bad usage is one line and where to look, not the whole help (as git and cargo do).
    .fail((message, err) => {
      // yargs' own errors (a numeric option's coerce among them) are usage; a command's are not.
      if (err && err.name !== 'YError') throw err;
      console.error(`thunderdb: ${message}\ntry: ${helpCommand(argv)}`);
      process.exit(EXIT.refused);
    })
    .parseAsync();
}

main(hideBin(process.argv)).catch((err: unknown) => {
  console.error(`thunderdb: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
