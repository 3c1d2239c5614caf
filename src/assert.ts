import { InternalError } from './errors.js';

/**
 * Checks an invariant the code relies on (TigerBeetle's habit: assertions as executable
 * documentation). A broken one is a bug here, never a client's mistake: it throws
 * INTERNAL with `message`, which names the invariant. `message` is a constant string, so a
 * call on the hot path costs one comparison.
 */
export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new InternalError(`invariant broken: ${message}`);
}
