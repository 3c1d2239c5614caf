import type { Explanation, Operation } from './linearizability.js';

/*
 * Which write made a read stale: one answer for the command's explanation (describe.ts) and
 * the witness (witness.ts), so both name the same kind of operation the same way.
 */

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

/**
 * For a blocked read that is stale, the operation that made it so: the one that left the key
 * holding what the read should have seen (`state`) in the order the search found; null when
 * the blocked operation is no read, or the value it read was never among those ordered (it
 * is not stale, it is from nowhere).
 */
export function staleWrite({ ordered, state, blocked }: Explanation): Operation | null {
  const read = blocked.output.value ?? null;
  if (blocked.input.kind !== 'read' || read === state || (read !== null && !writes(ordered, read)))
    return null;
  return setterOf(ordered, state);
}
