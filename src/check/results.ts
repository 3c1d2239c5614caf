import type { Named } from './checks.js';
import type { WatchFindings } from './watch-check.js';
import type { Verdict } from './linearizability.js';
import type { AppliedWindow, FaultKind } from './schedule.js';
import type { Witness } from './witness.js';

/** Every parameter of a check: printed first, stored in results.json, enough to run it again. */
export interface CheckOptions {
  seed: number;
  /** `threads`: the normal cluster; `deterministic`: one thread on a simulated clock, replayed exactly by its seed. */
  mode: 'threads' | 'deterministic';
  /** A running cluster to check instead of starting one (its own settings then apply). */
  url?: string;
  nodes: number;
  replicas: number;
  r: number;
  w: number;
  /** Read repair before answering (`sync`) or after (`async`). */
  repair: 'sync' | 'async';
  faults: FaultKind[];
  clients: number;
  keys: number;
  /** Operations to invoke at most. */
  ops: number;
  /** Seconds the workload runs at most (simulated in the deterministic mode). */
  timeLimit: number;
  thinkMs: number;
  /**
   * Bytes of each value written (0: just its name, `client-n`): a name padded with dots, so
   * a run can fill a storage backend (a memcached too small for the data evicts).
   */
  valueBytes: number;
  /** A replica's answer counts as lost after this long (the cluster's --timeout-ms). */
  timeoutMs: number;
  /** How long replicas have to agree once every fault is healed. */
  convergeMs: number;
  /** Where results.json, history.jsonl and report.html go. */
  out: string;
}

/**
 * The linearizability check's finding: its verdict and, when a key is not linearizable, the
 * smallest failing sub-history of that key found, with the faults then (src/check/witness.ts).
 */
export type LinearizabilityFinding =
  Exclude<Verdict, { valid: false }> | (Extract<Verdict, { valid: false }> & { witness?: Witness });

/** The checker's verdict: true, false or unknown (a search gave up, a final read failed). */
export type Validity = true | false | 'unknown';

/** What `results.json` holds. */
export interface CheckResults {
  valid: Validity;
  seed: number;
  parameters: CheckOptions;
  counts: { invoked: number; ok: number; fail: number; info: number; faults: number };
  faults: AppliedWindow[];
  checks: {
    linearizability: LinearizabilityFinding;
    lostWrites: { valid: boolean; lost: Named[] };
    readsOfUnwritten: { valid: boolean; reads: Named[] };
    convergence: {
      valid: boolean;
      ms: number | null;
      divergent: { key: string; versions: (number | null)[] }[];
    };
    /**
     * `failed`: keys whose final read failed, not judged (the verdict is then unknown);
     * `lost`: keys whose final read answered VALUE_LOST (the storage lost the value on every
     * replica): judged, their last acknowledged writes counted as lost.
     */
    finalReads: { valid: Validity; failed: string[]; lost: string[] };
    /** The run's keys watched from its start (GET /watch, or the feed in this process), held against the history. */
    watch: WatchFindings;
    /**
     * Replica invariants checked as each node applied each batch (src/check/replica-invariants.ts):
     * in the deterministic mode only, where every node's store is in reach.
     */
    invariants: {
      checked: boolean;
      valid: boolean;
      /** Writes and purges checked, and how many times an invariant broke (the first few said). */
      writes: number;
      purges: number;
      count: number;
      broken: readonly string[];
    };
  };
  /** The deterministic mode's event-log hash: the same seed and parameters give the same hash. */
  eventLogHash?: string;
  /** Wall-clock seconds the check took, and the run's own span in ms (simulated in the deterministic mode). */
  seconds: number;
  runMs: number;
  /** Of `seconds`, those spent judging the history. */
  judgeSeconds: number;
  /** The command that runs this check again. */
  reproduce: string;
}
