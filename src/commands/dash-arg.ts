/**
 * A lone `-` on the command line (`put KEY -`, `import -`: read stdin). yargs re-parses
 * positionals as `--name value` options, and there a `-` looks like a flag and is lost: the
 * positional arrives as `''`. So `-` is swapped for a token yargs leaves alone before
 * parsing; the verbs that read stdin test for it, and every other positional turns it back
 * into `-` (a key may be `-`).
 */
export const DASH = '\u0000-';

/** The command line with each lone `-` swapped for {@link DASH}. */
export function protectDash(argv: string[]): string[] {
  return argv.map((arg) => (arg === '-' ? DASH : arg));
}

/** A positional's `coerce`: the text as typed, `-` included. */
export function literal(value: string): string {
  return value === DASH ? '-' : value;
}
