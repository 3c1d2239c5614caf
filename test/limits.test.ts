import assert from 'node:assert/strict';
import { test } from 'node:test';

import { checkLimits } from '../src/limits.js';
import { DEFAULT_LIMITS } from '../src/config.js';

test('checkLimits() refuses limits a record cannot hold, naming them', () => {
  assert.deepEqual(checkLimits({ ...DEFAULT_LIMITS }), DEFAULT_LIMITS);
  // A value's length shares its 32 bits with the "expires" and "in the backend" flags, and
  // with both set the longest length would read as a tombstone: 1 GiB − 1 and up cannot be stored.
  assert.equal(checkLimits({ ...DEFAULT_LIMITS, maxValueBytes: 2 ** 30 - 2 }).maxValueBytes, 2 ** 30 - 2);
  assert.throws(
    () => checkLimits({ ...DEFAULT_LIMITS, maxValueBytes: 2 ** 30 - 1 }),
    /maxValueBytes must be at most 1073741822/,
  );
  assert.throws(
    () => checkLimits({ ...DEFAULT_LIMITS, maxKeyBytes: 65_536 }),
    /maxKeyBytes must be at most 65535/,
  );
  assert.throws(
    () => checkLimits({ ...DEFAULT_LIMITS, maxBodyBytes: 0 }),
    /maxBodyBytes must be a positive integer/,
  );
});
