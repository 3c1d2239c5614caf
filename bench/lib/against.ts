/**
 * A/B of two builds, the instrument bench:ci gates on: this build's cluster and another
 * build's (the reference of bench/reference.json), both running at once with the same keys
 * preloaded, measured in alternating runs (ours, reference; reference, ours; …) so that what
 * the shared host does meanwhile falls on both. Absolute req/s and even ratios to bare uWS
 * drift 13-57 % between windows here; a quotient of two builds measured back to back spreads
 * far less (bench/RESULTS.md, "The regression gate"). One bare uWS run per cell is kept
 * beside them for the history, not for the verdict.
 */
import {
  cellLoad,
  checkAnswer,
  cellId,
  firstKeys,
  keysFor,
  preload,
  side,
  type Cell,
  type CellOptions,
  type Side,
} from './cells.js';
import { uuidFile } from './data.js';
import { sustained, type LoadResult } from './load-generator.js';
import { startBare, startCluster, type ServerProcess, type Topology } from './processes.js';
import { spread, type Spread } from './stats.js';

export interface AgainstResult extends Cell {
  id: string;
  ours: Side;
  reference: Side;
  /** Bare uWS answering the same size, one run: the ceiling, for the history. */
  bareRps: number;
  /** Its p50 latency, ms. */
  bareP50: number;
  /** ours ÷ reference req/s, round by round: higher is better. */
  rps: Spread;
  /** ours ÷ reference p50 latency, round by round: lower is better. */
  p50: Spread;
}

/**
 * Measures `cells` (one topology, `valueBytes` values) on this build and on `referenceCli`,
 * `rounds` alternating pairs each after `options.warmup` seconds of unmeasured load on each.
 */
export async function measureAgainst(
  topology: Topology,
  valueBytes: number,
  cells: Cell[],
  options: CellOptions,
  referenceCli: string,
  rounds: number,
): Promise<AgainstResult[]> {
  const keys = keysFor(valueBytes, options);
  const keyFile = await uuidFile(options.keys);
  const servers = await Promise.allSettled([
    startCluster(topology, [], undefined, options.placement),
    startCluster(topology, [], referenceCli, options.placement),
    startBare(valueBytes, options.placement),
  ]);
  const started = servers.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  try {
    const failed = servers.find((s) => s.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    const [ours, reference, bare] = started as [ServerProcess, ServerProcess, ServerProcess];
    const list = await firstKeys(keyFile, keys);
    await preload(ours.url, list, valueBytes);
    await preload(reference.url, list, valueBytes);
    for (const server of [ours, reference, bare]) {
      await checkAnswer(server.url, `/kv/${list[list.length - 1]}`, valueBytes);
    }
    const results: AgainstResult[] = [];
    for (const cell of cells) {
      const spec = cellLoad(cell, keys, keyFile, options.placement);
      if (options.warmup > 0) {
        await sustained('wrk', spec(ours.url, options.warmup));
        await sustained('wrk', spec(reference.url, options.warmup));
      }
      const o: LoadResult[] = [];
      const r: LoadResult[] = [];
      for (let round = 0; round < rounds; round++) {
        // Alternate who goes first: a host that slows down during a round costs both alike.
        if (round % 2 === 0) {
          o.push(await sustained('wrk', spec(ours.url, options.seconds)));
          r.push(await sustained('wrk', spec(reference.url, options.seconds)));
        } else {
          r.push(await sustained('wrk', spec(reference.url, options.seconds)));
          o.push(await sustained('wrk', spec(ours.url, options.seconds)));
        }
      }
      const bareRun = await sustained('wrk', spec(bare.url, options.seconds));
      results.push({
        ...cell,
        id: cellId(cell),
        ours: side(o),
        reference: side(r),
        bareRps: bareRun.rps,
        bareP50: bareRun.p50,
        rps: spread(o.map((run, i) => run.rps / r[i]!.rps)),
        p50: spread(o.map((run, i) => run.p50 / r[i]!.p50)),
      });
    }
    return results;
  } finally {
    await Promise.all(started.map((s) => s.stop()));
  }
}

/** Two measurements of one cell (from different pairs of clusters) as one: their rounds together. */
export function mergeAgainst(a: AgainstResult, b: AgainstResult): AgainstResult {
  const both = (x: Spread, y: Spread) => spread([...x.runs, ...y.runs]);
  const sides = (x: Side, y: Side): Side => ({
    rps: both(x.rps, y.rps),
    p50: both(x.p50, y.p50),
    p99: both(x.p99, y.p99),
    p999: both(x.p999, y.p999),
  });
  return {
    ...a,
    ours: sides(a.ours, b.ours),
    reference: sides(a.reference, b.reference),
    bareRps: (a.bareRps + b.bareRps) / 2,
    bareP50: (a.bareP50 + b.bareP50) / 2,
    rps: both(a.rps, b.rps),
    p50: both(a.p50, b.p50),
  };
}
