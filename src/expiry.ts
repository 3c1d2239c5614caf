/**
 * Values that expire (`PUT /kv/{key}?ttl=SECONDS`). The coordinator turns a TTL into an
 * absolute expiry (Unix ms, from its clock) when it stamps the write's version, and the
 * expiry then travels with the value wherever the version does: to every replica, into
 * hints, read repairs, partition copies and journals. So replicas agree on when a key
 * expires, and a repair can never make an expired key live again.
 *
 * Wherever a value that expires travels as bytes (a PutExpiring's operand, a journal
 * record, a Redis field), it is an envelope: the expiry as f64 LE, then the value's bytes.
 */

/** Bytes of expiry in front of an envelope's value. */
export const ENVELOPE_BYTES = 8;

/** The longest TTL accepted: ten years, in seconds. */
export const MAX_TTL_SECONDS = 315_360_000;

/** The envelope of `value` (bytes, or a byte string of one char per byte) expiring at `expiresAt`. */
export function envelope(expiresAt: number, value: Uint8Array | string): Buffer {
  const out = Buffer.allocUnsafe(ENVELOPE_BYTES + value.length);
  // Whole milliseconds: a simulated clock's time can be fractional, and a dump's expiry is an integer.
  out.writeDoubleLE(Math.ceil(expiresAt), 0);
  if (typeof value === 'string') out.write(value, ENVELOPE_BYTES, 'latin1');
  else out.set(value, ENVELOPE_BYTES);
  return out;
}

/** The expiry of an envelope (bytes, or a byte string of one char per byte), Unix ms. */
export function envelopeExpiresAt(envelope: Uint8Array | string): number {
  const bytes =
    typeof envelope === 'string'
      ? Buffer.from(envelope.slice(0, ENVELOPE_BYTES), 'latin1')
      : Buffer.from(envelope.buffer, envelope.byteOffset, envelope.byteLength);
  return bytes.readDoubleLE(0);
}

/** Whether a value expiring at `expiresAt` (0: never) has expired at `now` (both Unix ms). */
export function hasExpired(expiresAt: number, now: number): boolean {
  return expiresAt !== 0 && expiresAt <= now;
}

/**
 * Seconds left until `expiresAt` at `now`, as the `X-TTL` header says them: a decimal
 * with at most three places, never below 0.001 for a value that has not expired.
 */
export function secondsLeft(expiresAt: number, now: number): string {
  return (Math.max(1, Math.ceil(expiresAt - now)) / 1000).toString();
}
