import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { test } from 'node:test';
import { threadRunner } from '../src/transport/node-runner.js';
import { TIMEOUT, until } from './helpers.js';

/** Threads of this process. */
function threads(): number {
  return readdirSync('/proc/self/task').length;
}

test(
  'a node killed twice at once (a crash, then the stop of a failed join) leaves no thread behind',
  TIMEOUT,
  async (t) => {
    const node = threadRunner()(0, 16, { reply() {}, died() {} });
    t.after(() => node.stop());
    await node.ready;
    const before = threads();
    // The second kill comes while the first is still waiting for the thread to exit: piscina
    // must not take that exit for a death and start a replacement.
    await Promise.all([node.kill(), node.stop()]);
    // The kernel lets go of an exited thread a moment after it was joined.
    await until(() => threads() < before, t.signal);
    assert.equal(threads(), before - 1, 'the node thread is gone, and none took its place');
  },
);
