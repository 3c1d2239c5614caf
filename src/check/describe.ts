import type { Operation, Verdict } from './linearizability.js';
import { staleWrite } from './stale-write.js';
import type { AppliedWindow } from './schedule.js';
import type { Witness } from './witness.js';

/** An operation in words, for a person reading why a check failed: what it did, what it got, when. */
export function describeOperation(op: Operation): string {
  const { input, output } = op;
  const span = `${op.call.toFixed(1)}–${op.ret === null ? '∞' : op.ret.toFixed(1)} ms`;
  switch (input.kind) {
    case 'read':
      return `read of ${JSON.stringify(output.value ?? null)} (${span})`;
    case 'delete':
      return `delete (${span})`;
    case 'delete-if-present':
      return `delete-if-present${output.ok ? ' (succeeded)' : ' (refused)'} (${span})`;
    default:
      return `${input.kind} of ${JSON.stringify(input.value)}${input.kind === 'create' ? (output.ok ? ' (succeeded)' : ' (refused)') : ''} (${span})`;
  }
}

/** Operations ordered before the blocked one that an explanation lists: the last few. */
const SHOWN_BEFORE = 3;

/** A register's content in words. */
const held = (value: string | null) => (value === null ? 'nothing' : JSON.stringify(value));

/** What an operation did, in a few words: `write of "2-87"`, `delete`. */
function what({ input }: Operation): string {
  return input.kind === 'write' || input.kind === 'create'
    ? `${input.kind} of ${JSON.stringify(input.value)}`
    : input.kind;
}

/**
 * A fault window in words, as dashboard/timeline.js's describeFault says it (the dashboard,
 * the live check and report.html say a fault one way): "node 1 cut off", "latency +40 ms
 * (±10 ms) on node 2", "node 0 crashed".
 */
export function describeWindow(window: AppliedWindow): string {
  const { nodes } = window;
  const on = nodes.length === 1 ? `node ${nodes[0]}` : `nodes ${nodes.join(', ')}`;
  const fault = window.fault;
  switch (fault?.type ?? window.kind) {
    case 'latency':
      return fault?.type === 'latency'
        ? `latency +${fault.ms} ms${fault.jitterMs ? ` (±${fault.jitterMs} ms)` : ''} on ${on}`
        : `latency on ${on}`;
    case 'loss':
      return fault?.type === 'loss'
        ? `${Math.round(fault.probability * 1000) / 10} % message loss on ${on}`
        : `message loss on ${on}`;
    case 'partition':
      return fault?.type === 'partition' && fault.direction !== undefined && fault.direction !== 'both'
        ? `${on} cut off (messages ${fault.direction} only)`
        : `${on} cut off`;
    case 'pause':
      return `${on} paused for ${window.ms} ms`;
    case 'crash':
      return `${on} crashed`;
    default:
      return `${window.kind} on ${on}`;
  }
}

/** The witness in one line: how small, the write that made the read stale, the faults then. */
function summariseWitness(witness: Witness): string {
  const { staleBy, faults } = witness;
  return (
    `  smallest failing sub-history: ${witness.operations.length} of ${witness.from} operations` +
    (witness.minimal ? '' : ' (minimising stopped at its step budget)') +
    (staleBy === null ? '' : `; stale because of client ${staleBy.client}'s ${what(staleBy)}`) +
    `; faults then: ${faults.length === 0 ? 'none' : faults.map(describeWindow).join(', ')}`
  );
}

/**
 * Why a history is not linearizable, in the lines the CLI prints and report.html shows: where
 * the search got furthest and the operation that fits nowhere; for a stale read, the write
 * that made it stale (the one that left the key holding what the read should have seen);
 * then the last operations ordered before it; last, with a witness, the smallest failing
 * sub-history's size, the write it names and the faults in force.
 */
export function explainInvalid(lin: Extract<Verdict, { valid: false }> & { witness?: Witness }): string[] {
  const { ordered, state, blocked } = lin.explanation;
  const lines = [
    `not linearizable: key ${lin.key}: after ordering ${ordered.length} of its ${lin.operations.length} operations ` +
      `(the key then holding ${JSON.stringify(state)}), client ${blocked.client}'s ${describeOperation(blocked)} fits nowhere`,
  ];
  const read = blocked.output.value ?? null;
  // Stale: what it read had been replaced. The operation that replaced it last is named;
  // one that returned before the read was called comes before it in every order.
  const setter = staleWrite(lin.explanation);
  if (setter !== null) {
    const when =
      setter.ret !== null && setter.ret < blocked.call
        ? 'returned before the read began'
        : 'is ordered before the read';
    lines.push(
      `  made stale by: client ${setter.client}'s ${describeOperation(setter)}, which ${when}: ` +
        `from it on the key held ${held(state)}, not ${held(read)}`,
    );
  }
  for (const op of ordered.slice(-SHOWN_BEFORE))
    lines.push(`  ordered before it: client ${op.client}'s ${describeOperation(op)}`);
  if (lin.witness !== undefined) lines.push(summariseWitness(lin.witness));
  return lines;
}
