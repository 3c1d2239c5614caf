import type { Rejection } from '../batch/pairs.js';

/** How a bulk load went. */
export interface LoadReport {
  loaded: number;
  rejected: number;
  /** The first few rejections. */
  rejections: Rejection[];
  seconds: number;
  /**
   * Set when the load was interrupted (Ctrl-C): the last line of the file that was sent.
   * Lines up to it were all processed (stored or rejected); none after it was sent.
   */
  stoppedAfterLine?: number;
}

/** "10,000 pairs from data.txt in 0.52 s (19,231 pairs/s)": what a load or an import stored, and how fast. */
export function formatStored(pairs: number, file: string, seconds: number): string {
  const rate = Math.round(pairs / Math.max(seconds, 1e-6)).toLocaleString('en-US');
  return `${pairs.toLocaleString('en-US')} pairs from ${file} in ${seconds.toFixed(2)} s (${rate} pairs/s)`;
}

/** The report as the few lines a person reads at the end of a load. */
export function formatReport(file: string, report: LoadReport): string {
  const stored = formatStored(report.loaded, file, report.seconds);
  const lines =
    report.stoppedAfterLine === undefined
      ? [`loaded ${stored}`]
      : [
          `interrupted: stored ${stored}, from lines 1 to ${report.stoppedAfterLine.toLocaleString('en-US')}; ` +
            `nothing after line ${report.stoppedAfterLine.toLocaleString('en-US')} was sent ` +
            `(the rest of the file: tail -n +${report.stoppedAfterLine + 1} ${file})`,
        ];
  if (report.rejected > 0) {
    const plural = report.rejected === 1 ? 'line' : 'lines';
    lines.push(`rejected ${report.rejected.toLocaleString('en-US')} ${plural}; the first:`);
    // Each message already names its line.
    for (const r of report.rejections) lines.push(`  ${r.code}: ${r.message}`);
  } else {
    lines.push('rejected 0 lines');
  }
  return lines.join('\n');
}
