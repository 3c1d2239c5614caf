/** A Ctrl-C handler for the length of a load. */
export interface Interrupt {
  /** Aborted by the first SIGINT. */
  readonly signal: AbortSignal;
  /** Removes the handler: SIGINT is the caller's again. */
  release(): void;
}

/** Exit status of a process ended by SIGINT, as shells report it (128 + 2). */
export const INTERRUPTED_EXIT = 130;

/**
 * Turns the first Ctrl-C during a load into an abort, so the load can stop after a whole
 * line, wait for what was sent, and say what was stored; a second Ctrl-C exits at once.
 * Without it the default SIGINT action kills the process with no word of what got in.
 */
export function interruptOnSigint(err: NodeJS.WritableStream = process.stderr): Interrupt {
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) {
      err.write('\nCtrl-C again: quitting at once; what was stored is not known\n');
      process.exit(INTERRUPTED_EXIT);
    }
    err.write('\nCtrl-C: stopping after the last whole line sent (Ctrl-C again to quit at once)\n');
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  return {
    signal: controller.signal,
    release: () => process.off('SIGINT', onSigint),
  };
}
