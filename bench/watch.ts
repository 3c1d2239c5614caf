/**
 * `npm run bench:watch`: what watchers cost the write path, and how many events a second
 * they are sent (issue 22). One cluster of 3 nodes (one replica); wrk runs random-key PUTs
 * of 100 B values at 100 connections while, in turns within each run: no watcher; 100 and
 * 1,000 idle watchers (each on a prefix no write has); 1 and 10 watchers of every key.
 * Reported: each turn's PUT req/s ÷ the no-watcher PUT req/s of the same run, the events a
 * second the watchers were sent (all together), the watchers cut for falling behind, and
 * the cluster process's RSS with the watchers open.
 *
 *   npm run bench:watch -- [--runs 3] [--seconds 3] [--cli PATH]
 */
import { once } from 'node:events';
import { mkdir, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { uuidFile } from './lib/data.js';
import { sustained } from './lib/load-generator.js';
import { runContext } from './lib/machine.js';
import { startCluster } from './lib/processes.js';
import { spread } from './lib/stats.js';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '3' },
    cli: { type: 'string' },
  },
});
const OUT = fileURLToPath(new URL('../../bench/results/', import.meta.url));
const RUNS = Number(args.runs);
const SECONDS = Number(args.seconds);
const KEYS = 100_000;

/** The watchers of one turn: how many, and on which prefix (i: the watcher's number). */
interface Turn {
  name: string;
  watchers: number;
  prefix: (i: number) => string;
}

const TURNS: Turn[] = [
  { name: 'no watcher', watchers: 0, prefix: () => '' },
  { name: '100 idle watchers', watchers: 100, prefix: (i) => `idle${i}:` },
  { name: '1,000 idle watchers', watchers: 1000, prefix: (i) => `idle${i}:` },
  { name: '1 watcher of every key', watchers: 1, prefix: () => '' },
  { name: '10 watchers of every key', watchers: 10, prefix: () => '' },
];

/** Open watch streams, counting the events they are sent. */
class Watchers {
  readonly #sockets: Socket[] = [];
  events = 0;
  closed = 0;

  static async open(url: string, turn: Turn): Promise<Watchers> {
    const watchers = new Watchers();
    const { hostname, port } = new URL(url);
    // A few at a time: a thousand connections at once would meet the listen backlog.
    for (let i = 0; i < turn.watchers; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, turn.watchers - i) }, (_, j) =>
          watchers.#open(hostname, Number(port), turn.prefix(i + j)),
        ),
      );
    }
    return watchers;
  }

  async #open(host: string, port: number, prefix: string): Promise<void> {
    const socket = connect(port, host);
    this.#sockets.push(socket);
    socket.on('error', () => {});
    socket.on('close', () => this.closed++);
    await once(socket, 'connect');
    socket.write(
      `GET /watch?prefix=${encodeURIComponent(prefix)} HTTP/1.1\r\nHost: ${host}\r\nAccept: application/x-ndjson\r\n\r\n`,
    );
    let started = false;
    await new Promise<void>((resolve) => {
      socket.on('data', (chunk: Buffer) => {
        // One line an event; the first is the progress event that says the stream is open.
        let lines = 0;
        for (let at = chunk.indexOf(10); at >= 0; at = chunk.indexOf(10, at + 1)) lines++;
        if (!started && chunk.includes('"progress"')) {
          started = true;
          resolve();
        }
        this.events += lines;
      });
    });
  }

  close(): void {
    for (const socket of this.#sockets) socket.destroy();
  }
}

async function main(): Promise<void> {
  const meta = runContext();
  const file = await uuidFile(KEYS);
  const rows = TURNS.map(() => ({
    ratio: [] as number[],
    rps: [] as number[],
    events: [] as number[],
    rss: [] as number[],
    cut: 0,
  }));
  for (let run = 0; run < RUNS; run++) {
    const cluster = await startCluster({ nodes: 3, replicas: 1 }, [], args.cli);
    try {
      // Warm: the first turn would otherwise run on code not yet optimised.
      await sustained('wrk', {
        url: cluster.url,
        method: 'PUT',
        seconds: 2,
        connections: 100,
        keys: KEYS,
        keyFile: file,
        valueBytes: 100,
      });
      let base = 0;
      for (const [t, turn] of TURNS.entries()) {
        const watchers = await Watchers.open(cluster.url, turn);
        const before = watchers.events;
        const put = await sustained('wrk', {
          url: cluster.url,
          method: 'PUT',
          seconds: SECONDS,
          connections: 100,
          keys: KEYS,
          keyFile: file,
          valueBytes: 100,
        });
        const rss = await cluster.rss();
        const events = watchers.events - before;
        const cut = watchers.closed;
        watchers.close();
        if (t === 0) base = put.rps;
        const row = rows[t]!;
        row.ratio.push(put.rps / base);
        row.rps.push(put.rps);
        row.events.push(events / SECONDS);
        row.rss.push(rss);
        row.cut += cut;
        console.error(
          `  run ${run + 1}, ${turn.name}: PUT ${Math.round(put.rps)} req/s, ${Math.round(events / SECONDS)} events/s, ${cut} cut, RSS ${(rss / 2 ** 20).toFixed(0)} MiB`,
        );
      }
    } finally {
      await cluster.stop();
    }
  }
  const fixed = (n: number, digits = 2) => n.toFixed(digits);
  const lines = [
    `ThunderDB bench:watch, ${meta.date}, commit ${meta.commit}, ${meta.cores} cores (${meta.cpu}), Node ${meta.node}`,
    `3 nodes, 1 replica; wrk PUT, 100 connections, ${SECONDS} s, random keys of ${KEYS.toLocaleString('en')} uuids, 100 B values; ${RUNS} run(s), the turns in order within each`,
    '',
    '| watchers | PUT ÷ no watcher (min–max) | PUT req/s | events/s sent | cut | RSS MiB |',
    '| --- | --- | --- | --- | --- | --- |',
    ...TURNS.map((turn, t) => {
      const row = rows[t]!;
      const ratio = spread(row.ratio);
      return `| ${turn.name} | ${fixed(ratio.median)} (${fixed(ratio.min)}–${fixed(ratio.max)}) | ${Math.round(spread(row.rps).median)} | ${Math.round(spread(row.events).median)} | ${row.cut} | ${fixed(spread(row.rss).median / 2 ** 20, 0)} |`;
    }),
  ];
  console.log(lines.join('\n'));
  await mkdir(OUT, { recursive: true });
  await writeFile(`${OUT}watch-${Date.now()}.md`, lines.join('\n') + '\n');
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
