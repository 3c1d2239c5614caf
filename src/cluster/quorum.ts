import { assert } from '../assert.js';

/** Where a call's quorum stands. */
export type QuorumState = 'met' | 'pending' | 'lost';

/**
 * Where a quorum stands once `answered` of the `asked` replicas have answered and `failed`
 * have failed: `met` when `needed` have answered; `lost` when too few are left to answer
 * (`asked − failed < needed`); `pending` otherwise. Pure arithmetic, kept apart and tested
 * over every small case, as etcd raft keeps its own (quorum/majority.go).
 */
export function quorumState(asked: number, needed: number, answered: number, failed: number): QuorumState {
  assert(needed >= 1 && needed <= asked, 'a quorum needs 1 to all of the replicas asked');
  assert(answered >= 0 && failed >= 0 && answered + failed <= asked, 'each replica answers or fails once');
  if (answered >= needed) return 'met';
  return asked - failed < needed ? 'lost' : 'pending';
}
