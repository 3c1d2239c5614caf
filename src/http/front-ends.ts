import { loadUws } from './uws/native.js';
import type { FrontEnd, FrontEndName } from './front-end-contract.js';

// The contract, for those who choose a front end and those who test both.
export {
  FRONT_END_NAMES,
  TRAITS,
  type FrontEnd,
  type FrontEndName,
  type FrontEndTraits,
  type Listening,
  type ListenOptions,
} from './front-end-contract.js';

/** Which front end serves, and the one line that says so and why. */
export interface Choice {
  name: FrontEndName;
  why: string;
}

/**
 * The front end to serve with: `wanted` if given (uWS where its native binary does not load
 * is a RangeError saying why), else uWS where its binary loads, else node:http.
 */
export function chooseFrontEnd(wanted?: FrontEndName): Choice {
  if (wanted === 'node') return { name: 'node', why: 'front end: node:http (--http node)' };
  const uws = loadUws();
  if (typeof uws === 'string') {
    if (wanted === 'uws')
      throw new RangeError(`--http uws: ${uws}; run without --http (or --http node) to serve with node:http`);
    return { name: 'node', why: `front end: node:http, since ${uws}` };
  }
  return {
    name: 'uws',
    why: `front end: uWebSockets.js (${wanted === 'uws' ? '--http uws' : 'its native binary loads here; --http node for node:http'})`,
  };
}

/** The front ends that can serve on this Node: node:http always, uWS where its binary loads. */
export function frontEndsHere(): FrontEndName[] {
  return typeof loadUws() === 'string' ? ['node'] : ['uws', 'node'];
}

/** A new front end of the kind named, its app empty. */
export async function createFrontEnd(name: FrontEndName): Promise<FrontEnd> {
  if (name === 'uws') return (await import('./uws/front-end.js')).uwsFrontEnd();
  return (await import('./node/front-end.js')).nodeFrontEnd();
}
