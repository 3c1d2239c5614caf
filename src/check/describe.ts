import type { Operation, Verdict } from './linearizability.js';

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

/**
 * The operation of `ordered` that left the register holding `state`: the write or create of
 * that value (every value is written once), or for nothing the last delete that took
 * effect; null when the key held nothing from the start.
 */
function setterOf(ordered: readonly Operation[], state: string | null): Operation | null {
  for (let i = ordered.length - 1; i >= 0; i--) {
    const { input, output, ret } = ordered[i]!;
    if (state !== null && (input.kind === 'write' || input.kind === 'create') && input.value === state)
      return ordered[i]!;
    if (state === null && input.kind === 'delete') return ordered[i]!;
    if (state === null && input.kind === 'delete-if-present' && (ret === null || output.ok))
      return ordered[i]!;
  }
  return null;
}

/** Whether one of `ops` writes `value`. */
const writes = (ops: readonly Operation[], value: string) =>
  ops.some(({ input }) => (input.kind === 'write' || input.kind === 'create') && input.value === value);

/** A register's content in words. */
const held = (value: string | null) => (value === null ? 'nothing' : JSON.stringify(value));

/**
 * Why a history is not linearizable, in the lines the CLI prints and report.html shows: where
 * the search got furthest and the operation that fits nowhere; for a stale read, the write
 * that made it stale (the one that left the key holding what the read should have seen);
 * then the last operations ordered before it.
 */
export function explainInvalid(lin: Extract<Verdict, { valid: false }>): string[] {
  const { ordered, state, blocked } = lin.explanation;
  const lines = [
    `not linearizable: key ${lin.key}: after ordering ${ordered.length} of its ${lin.operations.length} operations ` +
      `(the key then holding ${JSON.stringify(state)}), client ${blocked.client}'s ${describeOperation(blocked)} fits nowhere`,
  ];
  const read = blocked.output.value ?? null;
  if (blocked.input.kind === 'read' && read !== state && (read === null || writes(ordered, read))) {
    // Stale: what it read had been replaced. The operation that replaced it last is named;
    // one that returned before the read was called comes before it in every order.
    const setter = setterOf(ordered, state);
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
  }
  for (const op of ordered.slice(-SHOWN_BEFORE))
    lines.push(`  ordered before it: client ${op.client}'s ${describeOperation(op)}`);
  return lines;
}
