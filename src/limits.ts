import {
  BodyTooLargeError,
  InvalidKeyError,
  KeyTooLargeError,
  ValueTooLargeError,
  type ThunderError,
} from './errors.js';
import type { Limits } from './config.js';

// The type lives beside its defaults in config.ts; the checks that apply it, here.
export type { Limits } from './config.js';
import { MAX_KEY_BYTES, MAX_VALUE_BYTES } from './node/record.js';

/** Checks a set of limits, naming the bad option in a RangeError. */
export function checkLimits(limits: Limits): Limits {
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new RangeError(`${name} must be a positive integer, got ${value}`);
    }
  }
  if (limits.maxKeyBytes > MAX_KEY_BYTES) {
    throw new RangeError(`maxKeyBytes must be at most ${MAX_KEY_BYTES}, got ${limits.maxKeyBytes}`);
  }
  if (limits.maxValueBytes > MAX_VALUE_BYTES) {
    throw new RangeError(`maxValueBytes must be at most ${MAX_VALUE_BYTES}, got ${limits.maxValueBytes}`);
  }
  return limits;
}

/** The error for a key that breaks the rules, or null when it is fine. */
export function keyError(key: string, limits: Limits): ThunderError | null {
  if (key.length === 0) return new InvalidKeyError('the key is empty');
  // Keys are stored as UTF-8, where a lone surrogate would become U+FFFD and collide.
  if (!key.isWellFormed()) return new InvalidKeyError('the key is not valid Unicode (a lone surrogate)');
  // A UTF-16 unit is at most 3 UTF-8 bytes, so most keys are cleared without counting.
  if (key.length * 3 <= limits.maxKeyBytes) return null;
  const bytes = Buffer.byteLength(key, 'utf8');
  return bytes > limits.maxKeyBytes
    ? new KeyTooLargeError(`key is ${bytes} bytes; the limit is ${limits.maxKeyBytes}`)
    : null;
}

/** The error for a value of `bytes` bytes, or null when it fits. */
export function valueError(bytes: number, limits: Limits): ThunderError | null {
  return bytes > limits.maxValueBytes
    ? new ValueTooLargeError(`value is ${bytes} bytes; the limit is ${limits.maxValueBytes}`)
    : null;
}

/** The error for a body of `bytes` bytes read whole, or null when it fits. */
export function bodyError(bytes: number, limits: Limits): ThunderError | null {
  return bytes > limits.maxBodyBytes
    ? new BodyTooLargeError(`body is at least ${bytes} bytes; the limit is ${limits.maxBodyBytes}`)
    : null;
}
