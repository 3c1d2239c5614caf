import { BadRequestError } from '../errors.js';

/** A pause in force: the nodes named stop processing for `ms` (see Cluster.addFault). */
export interface PauseFault {
  id: number;
  type: 'pause';
  nodes: number[];
  ms: number;
}

/** Checks a pause as a client sent it (`{"type": "pause", "nodes": [0], "ms": 2000}`). */
export function checkPause(spec: object, members: readonly number[], id: number): PauseFault {
  const { type, nodes, ms, ...rest } = spec as Record<string, unknown>;
  const extra = Object.keys(rest);
  if (extra.length > 0) throw new BadRequestError(`a pause fault takes no ${JSON.stringify(extra[0])}`);
  if (!Array.isArray(nodes) || nodes.length === 0 || !nodes.every((n) => members.includes(n as number))) {
    const what = `a non-empty list of nodes of the ring (${members.join(', ')})`;
    throw new BadRequestError(
      nodes === undefined
        ? `a pause fault needs "nodes": ${what}`
        : `"nodes" must be ${what}, got ${JSON.stringify(nodes)}`,
    );
  }
  if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 1 || ms > 60_000) {
    throw new BadRequestError(
      ms === undefined
        ? 'a pause fault needs "ms": an integer from 1 to 60000'
        : `"ms" must be an integer from 1 to 60000, got ${JSON.stringify(ms)}`,
    );
  }
  return { id, type: type as 'pause', nodes: [...(nodes as number[])], ms };
}
