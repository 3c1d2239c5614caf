import { pair, type Fn, type HistoryEvent } from './history.js';
import { describeOperation, describeWindow, explainInvalid } from './describe.js';
import type { Operation } from './linearizability.js';
import type { CheckResults } from './results.js';
import { readScript } from '../pages.js';
import type { Witness } from './witness.js';

/** Operations drawn at most: past this the timeline shows the first ones and says so. */
const MAX_DRAWN = 20_000;
const WIDTH = 1200;
const LEFT = 70;
const ROW = 7;

const COLOURS: Record<Fn, string> = {
  read: '#4c78a8',
  write: '#54a24b',
  delete: '#8c6d31',
  create: '#b279a2',
  'delete-if-present': '#9c6b4e',
};
const FAULT_COLOURS: Record<string, string> = {
  crash: '#e45756',
  pause: '#f58518',
  partition: '#9d755d',
  latency: '#eeca3b',
  loss: '#bab0ac',
};

const escape = (text: string): string =>
  text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** Operations of a witness listed in words at most (its drawing bounds itself). */
const WITNESS_LISTED = 30;

/**
 * The "Why" section: the witness drawn as Porcupine draws a history (dashboard/history-view.js,
 * the live dashboard's drawing, put inline with the time axis it draws on), with its
 * operations also listed in words, so the page explains itself with scripts off. The witness
 * is embedded as JSON with every `<` escaped: no value can close the script element.
 */
function whySection(witness: Witness): string {
  const role = (op: Operation) =>
    op === witness.blocked
      ? 'fits nowhere'
      : op === witness.staleBy
        ? `ordered ${witness.ordered.indexOf(op) + 1}; made the read stale`
        : witness.ordered.includes(op)
          ? `ordered ${witness.ordered.indexOf(op) + 1}`
          : 'not ordered';
  const items = witness.operations
    .slice(0, WITNESS_LISTED)
    .map((op) => `<li>${escape(`client ${op.client}'s ${describeOperation(op)}: ${role(op)}`)}</li>`)
    .join('');
  const more =
    witness.operations.length > WITNESS_LISTED
      ? `<li>… and ${witness.operations.length - WITNESS_LISTED} more</li>`
      : '';
  const faults =
    witness.faults.length === 0
      ? 'none'
      : witness.faults
          .map((w) =>
            escape(`${describeWindow(w)} (${w.began.toFixed(0)}–${w.ended?.toFixed(0) ?? 'end'} ms)`),
          )
          .join(', ');
  const json = JSON.stringify(witness).replace(/</g, '\\u003c');
  return `<h2 id="why">Why key ${escape(witness.key)} is not linearizable</h2>
<p>The smallest sub-history of the key found that is still not linearizable: ${witness.operations.length} of its ${witness.from} operations${witness.minimal ? '' : ' (minimising stopped at its step budget)'}. Numbered and green: the order the search found for them; red: the operation no order can place after them; outlined: the write that made the read stale. Faults in force then, shaded: ${faults}.</p>
<svg id="why-view" class="history-view"></svg>
<ul class="witness-ops">${items}${more}</ul>
<script type="application/json" id="witness">${json}</script>
<script>
${readScript('timeline.js')}</script>
<script>
${readScript('history-view.js')}</script>
<script>
HistoryView.draw(document.getElementById('why-view'), JSON.parse(document.getElementById('witness').textContent));
</script>`;
}

/**
 * The check as one self-contained HTML page (nothing fetched), as Porcupine draws its own:
 * the verdict and what each check found; when a key is not linearizable, why (its witness,
 * drawn by inline scripts: the one part that needs them); a timeline per key with one track
 * per client, each operation a bar from invocation to outcome (hatched: indeterminate;
 * faded: failed), the fault windows shaded behind; and latency over time.
 */
export function renderReport(results: CheckResults, events: readonly HistoryEvent[]): string {
  const completed = pair(events);
  const drawn = completed.slice(0, MAX_DRAWN);
  const end = Math.max(results.runMs, ...events.slice(-1).map((e) => e.time), 1);
  const x = (t: number) => LEFT + (Math.min(t, end) / end) * (WIDTH - LEFT - 10);
  const processes = results.parameters.clients + 1;
  const keys = [...new Set(drawn.map((op) => op.invoke.key))].sort((a, b) =>
    a.localeCompare(b, 'en', { numeric: true }),
  );
  const bandHeight = processes * ROW + 14;
  const height = keys.length * bandHeight + 30;
  const blocked =
    results.checks.linearizability.valid === false
      ? results.checks.linearizability.explanation.blocked
      : null;
  const isBlocked = (op: Operation | null, invoke: HistoryEvent) =>
    op !== null && op.key === invoke.key && op.client === invoke.process && op.call === invoke.time;

  const shading = results.faults
    .filter((f) => f.skipped === undefined)
    .map((f) => {
      const x0 = x(f.began);
      const x1 = x(f.ended ?? end);
      const label = `${f.kind} on ${f.nodes.join(',')} from ${f.began.toFixed(0)} to ${f.ended?.toFixed(0) ?? 'end'} ms`;
      return `<rect x="${x0}" y="0" width="${Math.max(1, x1 - x0)}" height="${height}" fill="${FAULT_COLOURS[f.kind]}" opacity="0.18"><title>${escape(label)}</title></rect>`;
    })
    .join('');
  const bands = keys
    .map((key, k) => {
      const top = k * bandHeight;
      return `<text x="4" y="${top + 12}" class="key">${escape(key)}</text><line x1="${LEFT}" x2="${WIDTH}" y1="${top}" y2="${top}" stroke="#ddd"/>`;
    })
    .join('');
  // A tick per second (per 10 s past a minute) under the timeline; the blocked read marked across its key.
  const step = end > 60_000 ? 10_000 : 1000;
  const ticks = Array.from({ length: Math.floor(end / step) + 1 }, (_, i) => i * step)
    .map((t) => `<text x="${x(t)}" y="${height - 8}" class="key" text-anchor="middle">${t / 1000} s</text>`)
    .join('');
  const marker =
    blocked === null
      ? ''
      : `<line x1="${x(blocked.call)}" x2="${x(blocked.call)}" y1="${keys.indexOf(blocked.key) * bandHeight}" y2="${(keys.indexOf(blocked.key) + 1) * bandHeight}" stroke="#d62728" stroke-width="2"/>`;
  const bars = drawn
    .map(({ invoke, end: outcome }) => {
      const top = keys.indexOf(invoke.key) * bandHeight + 12 + invoke.process * ROW;
      const x0 = x(invoke.time);
      const x1 = x(outcome?.type === 'info' || outcome === null ? end : outcome.time);
      const type = outcome?.type ?? 'info';
      const what =
        invoke.f === 'read'
          ? `read → ${type === 'ok' ? JSON.stringify(outcome!.value ?? null) : type}`
          : `${invoke.f}${invoke.value === undefined ? '' : ` ${invoke.value}`} → ${type}`;
      const title = `client ${invoke.process}: ${what}${outcome?.error ? ` (${outcome.error})` : ''}; ${invoke.time.toFixed(1)}–${outcome?.time.toFixed(1) ?? '∞'} ms; events ${invoke.index}/${outcome?.index ?? '–'}`;
      const fill = isBlocked(blocked, invoke) ? '#d62728' : COLOURS[invoke.f];
      const style =
        type === 'info'
          ? ' fill-opacity="0.35" stroke-dasharray="2,2"'
          : type === 'fail'
            ? ' fill-opacity="0.2"'
            : '';
      return `<rect x="${x0}" y="${top}" width="${Math.max(1.5, x1 - x0)}" height="${ROW - 2}" fill="${fill}" stroke="${fill}"${style}><title>${escape(title)}</title></rect>`;
    })
    .join('');

  const latencies = drawn.filter((op) => op.end !== null && op.end.type !== 'info');
  const maxLatency = Math.max(1, ...latencies.map((op) => op.end!.time - op.invoke.time));
  const chartHeight = 160;
  const y = (ms: number) => chartHeight - 10 - (ms / maxLatency) * (chartHeight - 20);
  const points = latencies
    .map(
      (op) =>
        `<circle cx="${x(op.invoke.time)}" cy="${y(op.end!.time - op.invoke.time)}" r="1.6" fill="${COLOURS[op.invoke.f]}"/>`,
    )
    .join('');

  const checks = results.checks;
  const lin = checks.linearizability;
  // The same explanation the command prints: the read that fits nowhere, the write that
  // made it stale, the operations ordered before it.
  const linText =
    lin.valid === true
      ? 'valid: every key has an order of its operations that a single register could have produced'
      : lin.valid === 'unknown'
        ? `unknown: the search for key ${escape(lin.key)} gave up after ${lin.steps} steps`
        : `invalid (the operation that fits nowhere is marked red):<ul class="why">${explainInvalid(lin)
            .map((line) => `<li>${escape(line.trim())}</li>`)
            .join('')}</ul>`;
  const list = (items: { f: string; key: string; value?: string | null; invoke: number }[]) =>
    items
      .slice(0, 20)
      .map(
        (n) => `<li>${escape(`${n.f} ${n.key} ${JSON.stringify(n.value ?? null)} (event ${n.invoke})`)}</li>`,
      )
      .join('');
  const verdict = results.valid === true ? 'valid' : results.valid === false ? 'invalid' : 'unknown';
  const legend = Object.entries(FAULT_COLOURS)
    .map(([kind, colour]) => `<span style="background:${colour}33;border:1px solid ${colour}">${kind}</span>`)
    .join(' ');

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ThunderDB check: ${verdict} (seed ${results.seed})</title>
<style>
body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}
h1 .valid{color:#2a7d2a}h1 .invalid{color:#c0392b}h1 .unknown{color:#b9770e}
table{border-collapse:collapse}td{padding:2px 10px 2px 0;vertical-align:top}
code{background:#f4f4f4;padding:1px 4px}.key{font:12px monospace}
.legend span{padding:1px 6px;margin-right:4px}
.why{margin:2px 0;padding-left:1.2em}
svg{border:1px solid #eee}
.history-view{max-width:1200px;display:block}.history-view .tick,.history-view .client{font:11px system-ui,sans-serif;fill:#555}
</style></head><body>
<h1>Check <span class="${verdict}">${verdict}</span> · seed ${results.seed}</h1>
<p>Reproduce: <code>${escape(results.reproduce)}</code></p>
<table>
<tr><td>mode</td><td>${results.parameters.mode}${results.eventLogHash ? ` (event log ${results.eventLogHash})` : ''}</td></tr>
<tr><td>cluster</td><td>${escape(results.parameters.url ?? `${results.parameters.nodes} nodes, replicas ${results.parameters.replicas}`)}, R ${results.parameters.r}, W ${results.parameters.w}, repair ${results.parameters.repair}</td></tr>
<tr><td>operations</td><td>${results.counts.invoked} (${results.counts.ok} ok, ${results.counts.fail} fail, ${results.counts.info} indeterminate) by ${results.parameters.clients} clients on ${results.parameters.keys} keys in ${results.runMs.toFixed(0)} ms</td></tr>
<tr><td>faults</td><td>${results.counts.faults} (${escape(results.parameters.faults.join(', ') || 'none')})</td></tr>
<tr><td>linearizability</td><td>${linText}</td></tr>
<tr><td>lost writes</td><td>${checks.lostWrites.valid ? 'none' : `<ul>${list(checks.lostWrites.lost)}</ul>`}</td></tr>
<tr><td>reads of unwritten values</td><td>${checks.readsOfUnwritten.valid ? 'none' : `<ul>${list(checks.readsOfUnwritten.reads)}</ul>`}</td></tr>
<tr><td>convergence</td><td>${checks.convergence.valid ? `replicas agreed ${checks.convergence.ms!.toFixed(0)} ms after healing` : `replicas still differ on ${checks.convergence.divergent.map((d) => escape(d.key)).join(', ')}`}</td></tr>
<tr><td>replica invariants</td><td>${!checks.invariants.checked ? 'checked in the deterministic mode only' : checks.invariants.valid ? `held over ${checks.invariants.writes} writes and ${checks.invariants.purges} purges` : `broken ${checks.invariants.count} times: <ul>${checks.invariants.broken.map((b) => `<li>${escape(b)}</li>`).join('')}</ul>`}</td></tr>
<tr><td>watch</td><td>${checks.watch.valid ? `${checks.watch.changes} changes, every acknowledged write among them, in order` : escape([...checks.watch.missing.map((m) => `missed: ${m}`), ...checks.watch.unexpected.map((u) => `unexpected: ${u}`), ...checks.watch.finalsDiffer, ...checks.watch.outOfOrder.map((v) => `out of order: ${v}`)].slice(0, 10).join('; '))}</td></tr>
<tr><td>final reads</td><td>${checks.finalReads.failed.length === 0 ? 'every key read' : `failed for ${escape(checks.finalReads.failed.join(', '))}`}${checks.finalReads.lost.length === 0 ? '' : `; values lost on every replica (VALUE_LOST) for ${escape(checks.finalReads.lost.join(', '))}`}</td></tr>
</table>
${lin.valid === false && lin.witness !== undefined ? whySection(lin.witness) : ''}
<h2>Operations by key</h2>
<p>One track per client (the last: the final reads); a bar runs from invocation to outcome. Colours: <span style="color:${COLOURS.read}">read</span>, <span style="color:${COLOURS.write}">write</span>, <span style="color:${COLOURS.delete}">delete</span>, <span style="color:${COLOURS.create}">create</span>, <span style="color:${COLOURS['delete-if-present']}">delete-if-present</span>; faded: failed; dashed to the end: indeterminate. Fault windows shaded: <span class="legend">${legend}</span>. Hover for details.${completed.length > MAX_DRAWN ? ` The first ${MAX_DRAWN} of ${completed.length} operations are drawn.` : ''}</p>
<svg width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}">${shading}${bands}${bars}${marker}${ticks}</svg>
<h2>Latency over time</h2>
<p>Each completed operation at its invocation time; up to ${maxLatency.toFixed(0)} ms.</p>
<svg width="${WIDTH}" height="${chartHeight}" viewBox="0 0 ${WIDTH} ${chartHeight}">${shading.replaceAll(`height="${height}"`, `height="${chartHeight}"`)}<text x="4" y="14" class="key">${maxLatency.toFixed(0)} ms</text><text x="4" y="${chartHeight - 10}" class="key">0</text>${points}</svg>
</body></html>
`;
}
