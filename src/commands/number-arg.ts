/**
 * A numeric option or positional, as yargs should have read it. Typed `number`, yargs turns
 * the text with `Number()`, so `--nodes abc` arrives as NaN and `--nodes ''` as 0, and no
 * message can say what was typed. Declared untyped with {@link numberArg} as its `coerce`,
 * the option reaches it as typed (a number yargs recognised already converted), and anything
 * that is not one number is an error naming the option and the text, which yargs reports
 * as bad usage (exit 2).
 */

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
