/**
 * A numeric option or positional, as yargs should have read it. Typed `number`, yargs turns
 * the text with `Number()`, so `--nodes abc` arrives as NaN and `--nodes ''` as 0, and no
 * message can say what was typed. Declared untyped with {@link numberArg} as its `coerce`,
 * the option reaches it as typed (a number yargs recognised already converted), and anything
 * that is not one number is an error naming the option and the text, which yargs reports
 * as bad usage (exit 2).
 */

/**
 * A `coerce` for a size in bytes (`--max-memory`): a number of bytes, or one with a unit,
 * `K`, `M` or `G` (powers of 1024; `MB`, `MiB` and lower case read the same).
 */
export function bytesArg(flag: string): (value: unknown) => number {
  return (value) => {
    if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) return value;
    const match = typeof value === 'string' ? /^(\d+)\s*(?:([kmg])(?:i?b)?)?$/i.exec(value) : null;
    const scale = { k: 2 ** 10, m: 2 ** 20, g: 2 ** 30 }[(match?.[2] ?? '').toLowerCase()] ?? 1;
    const bytes = match === null ? NaN : Number(match[1]) * scale;
    if (Number.isSafeInteger(bytes) && bytes > 0) return bytes;
    throw new Error(
      `${flag} takes a size in bytes, e.g. 536870912, 512M or 2G; got ${JSON.stringify(value)}`,
    );
  };
}

/** A `coerce` for the numeric option `flag` (`--nodes`, or a positional's name). */
export function numberArg(flag: string): (value: unknown) => number {
  return (value) => {
    if (typeof value === 'number' && Number.isFinite(value)) return value;
    if (Array.isArray(value)) throw new Error(`${flag} is given more than once`);
    // yargs leaves as text a number past 2^53 ("99999999999999999999"): a number, out of range.
    const number = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : NaN;
    if (Number.isFinite(number)) return number;
    throw new Error(
      value === true || value === undefined || value === ''
        ? `${flag} needs a number`
        : `${flag} takes a number, got ${JSON.stringify(value)}`,
    );
  };
}
