import { assert } from '../assert.js';

import { Op } from '../wire/protocol.js';
import { DEFAULT_HINT_BYTES } from '../config.js';
import type { HintTrace } from '../sim/trace.js';

/** A write meant for a replica that was down, kept with its original version. */
export interface Hint {
  op: typeof Op.Put | typeof Op.PutExpiring | typeof Op.Delete;
  key: string;
  version: number;
  /** The value's bytes (a copy); null for a delete. */
  value: Buffer | null;
}

/**
 * Hinted handoff (Dynamo; Cassandra keeps one hint per mutation with its original
 * timestamp): writes meant for replicas that were down, per node, replayed when the node is
 * back. A hint carries its write's version, so replaying it is idempotent and can never
 * overwrite a newer write: the node keeps the newest version. Hints are bounded in bytes;
 * past the budget a hint is dropped and counted, and the node is caught up by the refill
 * that follows every restart instead.
 */
export class Hints {
  readonly #maxBytes: number;
  #bytes = 0;
  readonly #byNode = new Map<number, Hint[]>();
  readonly #dropped = new Map<number, number>();
  readonly #trace: HintTrace | null;

  /** `trace`: told of each hint kept, dropped and taken (the deterministic mode's trace; default none). */
  constructor(maxBytes = DEFAULT_HINT_BYTES, trace?: HintTrace) {
    this.#maxBytes = maxBytes;
    this.#trace = trace ?? null;
  }

  /** Keeps a hint for `node`; the value is copied. */
  add(node: number, op: Hint['op'], key: string, version: number, value?: Uint8Array | string): void {
    const bytes = key.length + (value?.length ?? 0);
    if (this.#bytes + bytes > this.#maxBytes) {
      this.#dropped.set(node, (this.#dropped.get(node) ?? 0) + 1);
      this.#trace?.hintDropped(node, key, version);
      return;
    }
    this.#bytes += bytes;
    const copy =
      value === undefined
        ? null
        : typeof value === 'string'
          ? Buffer.from(value, 'latin1')
          : Buffer.from(value);
    let hints = this.#byNode.get(node);
    if (hints === undefined) this.#byNode.set(node, (hints = []));
    hints.push({ op, key, version, value: op === Op.Delete ? null : copy });
    this.#trace?.hinted(node, key, version, op === Op.Delete);
  }

  /** Hints waiting for `node`. */
  pending(node: number): number {
    return this.#byNode.get(node)?.length ?? 0;
  }

  /** Hints dropped for `node` because the budget was spent. */
  dropped(node: number): number {
    return this.#dropped.get(node) ?? 0;
  }

  /** Takes every hint waiting for `node`, oldest first. */
  take(node: number): Hint[] {
    const hints = this.#byNode.get(node) ?? [];
    this.#byNode.delete(node);
    for (const hint of hints) {
      this.#bytes -= hint.key.length + (hint.value?.length ?? 0);
      this.#trace?.handedOff(node, hint.key, hint.version);
    }
    assert(this.#bytes >= 0, 'hint bytes held never go below zero');
    return hints;
  }
}
