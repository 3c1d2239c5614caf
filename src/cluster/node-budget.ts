/**
 * What one node thread costs, measured on this project's 2-core machine (Node 20, an empty
 * shard, main thread at --max-semi-space-size=2): starting 8, 32 and 64 nodes grew the
 * process's RSS by 9.1, 9.0 and 8.6 MB per node and took 26–30 ms per node. 1000 nodes would
 * take about 9 GB and half a minute or more before the first request is served.
 */
export const NODE_COST = { rssMB: 9, startMs: 30 } as const;

/**
 * The most nodes `thunderdb cluster` starts: about 1.2 GB and 4 s by {@link NODE_COST}, and
 * already far more threads than cores. A simulator gains nothing from more.
 */
export const MAX_NODES = 128;

const MiB = 1024 * 1024;

/**
 * Each node's share of `--max-memory` for its store (records, values held in memory, the
 * order of keys): what is left of `maxMemoryBytes` once the process as it is now
 * (`currentRssBytes`), the node threads ({@link NODE_COST}) and a headroom for the front end's
 * buffers, replies in flight and the garbage collectors' slack (a quarter, at least 64 MiB)
 * are counted, shared by the nodes. Refuses a bound that leaves a node less than 8 MiB.
 */
export function storeShare(maxMemoryBytes: number, nodes: number, currentRssBytes: number): number {
  const headroom = Math.max(64 * MiB, maxMemoryBytes / 4);
  const taken = currentRssBytes + nodes * NODE_COST.rssMB * MiB + headroom;
  const share = Math.floor((maxMemoryBytes - taken) / nodes);
  if (!(share >= 8 * MiB)) {
    const needed = Math.ceil((taken + nodes * 8 * MiB) / MiB);
    throw new RangeError(
      `--max-memory ${Math.round(maxMemoryBytes / MiB)} MiB leaves no room for data: the process takes about ` +
        `${Math.round(currentRssBytes / MiB)} MiB now, ${nodes} node threads about ${nodes * NODE_COST.rssMB} MiB, ` +
        `and ${Math.round(headroom / MiB)} MiB is kept for buffers; give at least ${needed} MiB`,
    );
  }
  return share;
}

/** Node counts above this print start-up progress: starting them takes about a second or more. */
export const SLOW_START_NODES = 32;

/** Checks `--nodes`, saying what the bound is and why. */
export function checkNodes(nodes: number): number {
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > MAX_NODES) {
    throw new RangeError(
      `nodes must be an integer from 1 to ${MAX_NODES}, got ${nodes}: each node is a worker thread ` +
        `costing about ${NODE_COST.rssMB} MB of memory and ${NODE_COST.startMs} ms to start, so ` +
        `${MAX_NODES} nodes take about ${((MAX_NODES * NODE_COST.rssMB) / 1000).toFixed(1)} GB` +
        (Number.isFinite(nodes) && nodes > MAX_NODES
          ? ` and ${nodes} would take about ${((nodes * NODE_COST.rssMB) / 1000).toFixed(1)} GB`
          : ''),
    );
  }
  return nodes;
}
