import { setTimeout as sleep } from 'node:timers/promises';
import type { ThunderClient, Transfer } from '../client/index.js';
import type { ProgressOutput } from '../load/progress.js';
import { formatBytes } from './nodes-table.js';

/** How often a terminal's line is redrawn; elsewhere, a line a second. */
const REDRAW_MS = 250;
const LINE_MS = 1000;

/** What a restart is doing, in a line: its refill's sources done, records and bytes sent so far. */
export function describeRefill(node: number, transfer: Transfer | undefined, seconds: number): string {
  const elapsed = `${Math.round(seconds)} s`;
  if (transfer === undefined)
    return `restarting node ${node}: starting its thread, replaying hints, ${elapsed}`;
  return (
    `refilling node ${node}: ${transfer.sourcesDone} of ${transfer.sources} sources done, ` +
    `${transfer.keys.toLocaleString('en-US')} records (${formatBytes(transfer.bytes)}) sent, ${elapsed}`
  );
}

/**
 * Shows the refill of `node` while `restarting` (its restart request) is in flight: asks GET
 * /cluster for the node's transfer and draws it on `out` (stderr), as `thunderdb load` draws
 * its progress: redrawn in place on a terminal, a plain line a second elsewhere. A restart
 * done within the first interval draws nothing. Resolves or rejects as `restarting` does.
 */
export async function withRefillProgress<T>(
  client: ThunderClient,
  node: number,
  restarting: Promise<T>,
  out: ProgressOutput,
): Promise<T> {
  const tty = out.isTTY === true;
  const done = new AbortController();
  const settled = restarting.then(
    () => done.abort(),
    () => done.abort(),
  );
  const started = performance.now();
  let drawn = false;
  while (!done.signal.aborted) {
    await sleep(tty ? REDRAW_MS : LINE_MS, undefined, { signal: done.signal }).catch(() => {});
    if (done.signal.aborted) break;
    let transfers: Transfer[];
    try {
      transfers = (await client.cluster()).coordinator.transfers;
    } catch {
      continue; // a poll that failed says nothing of the restart: ask again
    }
    if (done.signal.aborted) break;
    const transfer = transfers.find((t) => t.node === node && t.kind === 'refill');
    const line = describeRefill(node, transfer, (performance.now() - started) / 1000);
    // On a terminal the line stays within one row short of its width, or each redraw wraps.
    const width = (out.columns !== undefined && out.columns > 0 ? out.columns : 80) - 1;
    out.write(tty ? `\r${line.slice(0, width)}\x1b[K` : `${line}\n`);
    drawn = true;
  }
  await settled;
  // The answer's line takes the bar's place.
  if (tty && drawn) out.write('\r\x1b[K');
  return restarting;
}
