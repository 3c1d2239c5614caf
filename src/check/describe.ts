import type { Operation } from './linearizability.js';

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
