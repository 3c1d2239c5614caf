import { setTimeout as sleep } from 'node:timers/promises';
import { loadFileOverHttp } from '../../src/load/http-load.js';
import { measureGroup, type Cell, type CellOptions, type CellResult } from './cells.js';
import { uuidFile } from './data.js';
import { sustained } from './load-generator.js';
import type { Placement } from './placement.js';
import { startCluster, type ServerProcess, type Topology } from './processes.js';
import { memory } from './scenarios.js';
import { spread, type Spread } from './stats.js';

/** What replication costs and what membership changes move: issue 8's figures. */
export interface ReplicationResults {
  /** GET and PUT on random keys at 100 connections, each over bare uWS in its own group, with 1 and 3 replicas. */
  cells: CellResult[];
  /** Replicas 3 ÷ replicas 1, of the ratios to bare (targets: GET ≥ 0.80, PUT ≥ 0.70). */
  getR3VsR1: number;
  putR3VsR1: number;
  /** 1 M uuid pairs over HTTP with 3 replicas: seconds (target ≤ 3) and RSS growth per logical record (target ≤ 450 B). */
  load: { records: number; seconds: Spread; rssBytesPerRecord: Spread };
  /** Joins and leaves of a loaded 3-replica cluster while wrk reads from it. */
  moves: Move[];
  /** A crashed node holding a third of the records, restarted and refilled. */
  refill: { nodes: number; records: number; nodeKeys: number; copied: number; ms: number; hints: number };
}

interface Move {
  change: string;
  partitions: number;
  keys: number;
  bytes: number;
  ms: number;
  /** Records copied per second while serving. */
  keysPerSecond: number;
  /** GET req/s of a 15 s wrk load (100 connections, random keys) the change ran inside. */
  servingRps: number;
  /** Keys moved ÷ the ideal share (the change's node's share of every record copy). */
  vsIdeal: number;
}

/** The wrk window a change runs in: starts 1 s before it, and outlasts a 1 M-record move. */
const SERVING_SECONDS = 15;

const R1: Topology = { nodes: 3, replicas: 1 };
const R3: Topology = { nodes: 3, replicas: 3 };

async function post(url: string, method: 'POST' | 'DELETE' = 'POST'): Promise<unknown> {
  const answer = await fetch(url, { method });
  if (!answer.ok) throw new Error(`${method} ${url}: ${answer.status} ${await answer.text()}`);
  return answer.json();
}

/** Runs `change` while wrk reads random keys from the cluster; returns its answer and wrk's req/s. */
async function whileServing<T>(
  cluster: ServerProcess,
  keyFile: string,
  keys: number,
  placement: Placement,
  change: () => Promise<T>,
): Promise<{ answer: T; rps: number }> {
  const load = sustained('wrk', {
    url: cluster.url,
    method: 'GET',
    seconds: SERVING_SECONDS,
    connections: 100,
    keys,
    keyFile,
    placement,
  });
  await sleep(1000);
  const answer = await change();
  const result = await load;
  return { answer, rps: result.rps };
}

/**
 * Measures replication: the cost on random-key GET and PUT (cells GET/c100/100B/n3 and
 * …/n3/r3, PUT the same), a 1 M-pair load and its memory with 3 replicas, joins 3 → 4 and
 * leaves 4 → 3 of a loaded cluster while wrk reads from it, and the refill of a crashed
 * node of 9 that held a third of the records.
 */
export async function measureReplication(
  options: CellOptions,
  records: number,
  runs: number,
  log: (line: string) => void,
): Promise<ReplicationResults> {
  const cell = (method: 'GET' | 'PUT', { nodes, replicas }: Topology): Cell => ({
    method,
    connections: 100,
    valueBytes: 100,
    nodes,
    replicas: replicas!,
  });
  log('… replication: GET and PUT on random keys, 1 and 3 replicas, beside bare uWS');
  const one = await measureGroup(R1, 100, [cell('GET', R1), cell('PUT', R1)], options);
  const three = await measureGroup(R3, 100, [cell('GET', R3), cell('PUT', R3)], options);
  const cells = [...one.cells, ...three.cells];

  log(`… replication: ${records.toLocaleString('en-US')} uuid pairs over HTTP with 3 replicas`);
  const loads = [];
  for (let i = 0; i < runs; i++) loads.push(await memory(R3, records, options.placement));

  log('… replication: joins and leaves while serving');
  const file = await uuidFile(records);
  const moves: Move[] = [];
  const cluster = await startCluster(R3, ['--anti-entropy-ms', '0'], undefined, options.placement);
  try {
    const report = await loadFileOverHttp(cluster.url, file);
    if (report.loaded !== records) throw new Error(`loaded ${report.loaded} of ${records}`);
    const copies = records * 3;
    const move = async (name: string, nodesAfter: number, run: () => Promise<unknown>, share: number) => {
      const { answer, rps } = await whileServing(cluster, file, records, options.placement, run);
      const { moved, ms } = answer as {
        moved: { partitions: number; keys: number; bytes: number };
        ms: number;
      };
      const ideal = copies * share;
      moves.push({
        change: name,
        ...moved,
        ms,
        keysPerSecond: moved.keys / (ms / 1000),
        servingRps: rps,
        vsIdeal: moved.keys / ideal,
      });
      log(`  ${name}: ${moved.keys} keys in ${ms.toFixed(0)} ms (${nodesAfter} nodes after)`);
    };
    await move('3 → 4 nodes (join)', 4, () => post(`${cluster.url}/cluster/nodes`), 1 / 4);
    await move('4 → 3 nodes (leave)', 3, () => post(`${cluster.url}/cluster/nodes/3`, 'DELETE'), 1 / 4);
  } finally {
    await cluster.stop();
  }

  log('… replication: refill of a crashed node of 9 (each holds a third of the records)');
  const nine = await startCluster(
    { nodes: 9, replicas: 3 },
    ['--anti-entropy-ms', '0'],
    undefined,
    options.placement,
  );
  let refill: ReplicationResults['refill'];
  try {
    await loadFileOverHttp(nine.url, file);
    await sleep(200);
    const before = (await (await fetch(`${nine.url}/cluster`)).json()) as { nodes: { keys: number }[] };
    await post(`${nine.url}/cluster/nodes/0/crash`);
    const { refilled } = (await post(`${nine.url}/cluster/nodes/0/restart`)) as {
      refilled: { keys: number; ms: number; hints: number };
    };
    refill = {
      nodes: 9,
      records,
      nodeKeys: before.nodes[0]!.keys,
      copied: refilled.keys,
      ms: refilled.ms,
      hints: refilled.hints,
    };
  } finally {
    await nine.stop();
  }

  const ratio = (i: number) => cells[i]!.ratio.median;
  return {
    cells,
    getR3VsR1: ratio(2) / ratio(0),
    putR3VsR1: ratio(3) / ratio(1),
    load: {
      records,
      seconds: spread(loads.map((m) => m.loadSeconds)),
      rssBytesPerRecord: spread(loads.map((m) => m.rssBytesPerRecord)),
    },
    moves,
    refill,
  };
}

/** The section's printout. */
export function replicationLines(r: ReplicationResults): string[] {
  const f = (n: number, d: number) => n.toFixed(d);
  const lines = [
    '| cell | ours ÷ bare req/s | ours req/s | p50 ms ours / bare |',
    '| --- | --- | --- | --- |',
    ...r.cells.map(
      (c) =>
        `| ${c.id} | ${f(c.ratio.median, 3)} (${f(c.ratio.min, 3)}–${f(c.ratio.max, 3)}) | ${f(c.ours.rps.median, 0)} | ${f(c.ours.p50.median, 3)} / ${f(c.bare.p50.median, 3)} |`,
    ),
    '',
    `replicas 3 ÷ replicas 1: GET ${f(r.getR3VsR1, 3)} (target ≥ 0.80), PUT ${f(r.putR3VsR1, 3)} (target ≥ 0.70)`,
    `${r.load.records.toLocaleString('en-US')} uuid pairs over HTTP, 3 replicas: ${f(r.load.seconds.median, 2)} s (${f(r.load.seconds.min, 2)}–${f(r.load.seconds.max, 2)}; target ≤ 3), ` +
      `RSS growth ${f(r.load.rssBytesPerRecord.median, 0)} B per logical record (target ≤ 450)`,
    '',
    '| change | partitions | keys | MB | ms | keys/s while serving | GET req/s, 15 s window around it | keys ÷ ideal |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...r.moves.map(
      (m) =>
        `| ${m.change} | ${m.partitions} | ${m.keys} | ${f(m.bytes / 2 ** 20, 1)} | ${f(m.ms, 0)} | ${f(m.keysPerSecond, 0)} | ${f(m.servingRps, 0)} | ${f(m.vsIdeal, 3)} |`,
    ),
    '',
    `refill: node 0 of ${r.refill.nodes} (3 replicas, ${r.refill.records.toLocaleString('en-US')} records; it held ${r.refill.nodeKeys}) ` +
      `crashed and restarted: ${r.refill.copied} records copied in ${f(r.refill.ms, 0)} ms`,
  ];
  return lines;
}
