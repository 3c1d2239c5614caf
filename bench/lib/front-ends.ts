/**
 * The two HTTP front ends side by side (issue 18): each measured against the bare server of
 * its own kind in the same run (ThunderDB on uWS ÷ bare uWS, ThunderDB on node:http ÷ bare
 * node:http), and node:http ÷ uWS. Random uuid keys as in the matrix: GET and PUT at 100
 * connections, GET at 1 connection (p50 latency), GET of 64 KiB values at 100 connections.
 * Then the original's benchmark, 10,000 GETs by 100 clients each on a new connection: over
 * HTTP/1.1 `Connection: close` on both, and with `ab` itself (HTTP/1.0, answered by
 * node:http only) where ab is installed. Used by `npm run bench` and `npm run bench:front-ends`.
 */
import { FRONT_END_NAMES, TRAITS, type FrontEndName } from '../../src/http/front-ends.js';
import { ab, abPath } from './ab.js';
import { measureGroup, type Cell, type CellOptions, type CellResult } from './cells.js';
import { connectionPerRequest, wholeOrThrow } from './close-load.js';
import { startCluster, type Topology } from './processes.js';
import { spread, type Spread } from './stats.js';
import { table } from './table.js';

/** One copy of each key on three nodes: the data path's own cost, as bench:ci measures it. */
const TOPOLOGY: Topology = { nodes: 3, replicas: 1 };
const SMALL = 100;
const LARGE = 64 << 10;
const cell = (method: Cell['method'], connections: number, valueBytes: number): Cell => ({
  method,
  connections,
  valueBytes,
  nodes: TOPOLOGY.nodes,
  replicas: TOPOLOGY.replicas!,
});
/** The cells, in the order they are printed. */
const CELLS = [
  cell('GET', 100, SMALL),
  cell('PUT', 100, SMALL),
  cell('GET', 1, SMALL),
  cell('GET', 100, LARGE),
];
const UUID = 'e8c12114-674b-4f75-a753-c2e1c33ad4bd';

export interface FrontEndComparison {
  /** Each front end's cells, in the order of CELLS. */
  cells: Record<FrontEndName, CellResult[]>;
  /** Seconds for 10,000 GETs by 100 clients, a connection each, over HTTP/1.1 Connection: close. */
  close: Record<FrontEndName, Spread>;
  /** The same with ab (HTTP/1.0) against node:http, or why it was not run. */
  ab: Spread | { skipped: string };
}

/** Measures both front ends; `runs` repeats the connection-per-request loads. */
export async function measureFrontEnds(
  options: CellOptions,
  runs: number,
  log: (line: string) => void,
): Promise<FrontEndComparison> {
  const cells = {} as Record<FrontEndName, CellResult[]>;
  const close = {} as Record<FrontEndName, Spread>;
  let abResult: FrontEndComparison['ab'] = { skipped: 'ab is not installed (Debian package apache2-utils)' };
  const abBinary = await abPath();
  for (const frontEnd of FRONT_END_NAMES) {
    const title = TRAITS[frontEnd].title;
    log(`… ${title}: random keys, each against bare ${title} in the same run`);
    const withFrontEnd = { ...options, frontEnd };
    const small = await measureGroup(TOPOLOGY, SMALL, CELLS.slice(0, 3), withFrontEnd);
    const large = await measureGroup(TOPOLOGY, LARGE, CELLS.slice(3), withFrontEnd);
    cells[frontEnd] = [...small.cells, ...large.cells];
    const failed = cells[frontEnd].find((c) => c.error);
    if (failed) throw new Error(`${title} ${failed.id}: ${failed.error}`);

    log(`… ${title}: 10,000 GETs, 100 concurrent, a connection each`);
    const cluster = await startCluster(TOPOLOGY, ['--http', frontEnd]);
    try {
      const put = await fetch(`${cluster.url}/kv/bench`, { method: 'PUT', body: UUID });
      if (put.status !== 204) throw new Error(`PUT /kv/bench answered ${put.status}`);
      const seconds: number[] = [];
      for (let run = 0; run < runs; run++)
        seconds.push(wholeOrThrow(title, await connectionPerRequest(cluster.url, ['/kv/bench'])).seconds);
      close[frontEnd] = spread(seconds);
      if (abBinary !== null && TRAITS[frontEnd].http10) {
        log(`… ${title}: ab -n 10000 -c 100`);
        const abSeconds: number[] = [];
        for (let run = 0; run < runs; run++)
          abSeconds.push(
            wholeOrThrow(`${title} under ab`, await ab(abBinary, `${cluster.url}/kv/bench`)).seconds,
          );
        abResult = spread(abSeconds);
      }
    } finally {
      await cluster.stop();
    }
  }
  return { cells, close, ab: abResult };
}

const ratio = (s: Spread) => `${s.median.toFixed(3)} (${s.min.toFixed(2)}–${s.max.toFixed(2)})`;
const krps = (rps: number) => `${(rps / 1000).toFixed(1)}k`;
const seconds = (s: Spread) => `${s.median.toFixed(2)} (${s.min.toFixed(2)}–${s.max.toFixed(2)})`;

/** The comparison as a Markdown table and a few lines. */
export function frontEndLines(r: FrontEndComparison): string[] {
  const rows = CELLS.map((c, i) => {
    const uws = r.cells.uws[i]!;
    const node = r.cells.node[i]!;
    const latency = c.connections === 1;
    const what = `${c.method} c${c.connections} ${c.valueBytes === LARGE ? '64 KiB' : `${c.valueBytes} B`}${latency ? ', p50' : ''}`;
    if (latency) {
      const ms = (side: CellResult['ours']) => `${side.p50.median.toFixed(3)} ms`;
      return [
        what,
        `${ms(uws.ours)} / ${ms(uws.bare)}`,
        ratio(uws.p50Ratio),
        `${ms(node.ours)} / ${ms(node.bare)}`,
        ratio(node.p50Ratio),
        (node.ours.p50.median / uws.ours.p50.median).toFixed(3),
        (node.bare.p50.median / uws.bare.p50.median).toFixed(3),
      ];
    }
    return [
      what,
      `${krps(uws.ours.rps.median)} / ${krps(uws.bare.rps.median)}`,
      ratio(uws.ratio),
      `${krps(node.ours.rps.median)} / ${krps(node.bare.rps.median)}`,
      ratio(node.ratio),
      (node.ours.rps.median / uws.ours.rps.median).toFixed(3),
      (node.bare.rps.median / uws.bare.rps.median).toFixed(3),
    ];
  });
  const abLine =
    'skipped' in r.ab
      ? `ab: skipped (${r.ab.skipped})`
      : `ab -n 10000 -c 100 (HTTP/1.0), node:http: ${seconds(r.ab)} s, ${((r.ab.median * 100 * 1000) / 10_000).toFixed(1)} ms mean per request as ab reports it`;
  return [
    table(
      [
        'random keys, 3 nodes, 1 replica',
        'uWS / bare uWS',
        'uWS ÷ bare',
        'node:http / bare node:http',
        'node:http ÷ bare',
        'node:http ÷ uWS',
        'bare node ÷ bare uWS',
      ],
      rows,
    ),
    '(req/s, or p50 latency at c1 where lower is better; ratios: median of pairs (min–max))',
    `10,000 GETs / 100 concurrent, a connection each, HTTP/1.1 Connection: close: uWS ${seconds(r.close.uws)} s, node:http ${seconds(r.close.node)} s`,
    abLine,
    'uWS never answers ab (HTTP/1.0): README, "Which front end".',
  ];
}
