'use strict';
/*
 * One time axis with fault windows, shared by every view that draws time: the dashboard's
 * throughput chart, the live check, the replay of a deterministic run and report.html. Each
 * page includes it inline (<script data-include="timeline.js">, src/pages.ts), so a fault
 * window looks the same, in the same colour and with the same words, wherever it is drawn.
 *
 * A fault window: { kind, nodes, began, ended, label? } in ms on the view's clock (ended
 * null: still in force). kind is one of the checker's fault kinds (crash, pause, partition,
 * latency, loss) or a fault type of POST /cluster/faults (duplicate as well).
 */
const Timeline = (() => {
  const SVG = 'http://www.w3.org/2000/svg';
  const FAULT_COLOURS = {
    crash: '#e45756',
    pause: '#f58518',
    partition: '#9d755d',
    latency: '#eeca3b',
    loss: '#bab0ac',
    duplicate: '#76b7b2',
  };
  const el = (name, attrs, text) => {
    const node = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const nodesText = (nodes) =>
    nodes === undefined || nodes === null
      ? 'every node'
      : nodes.length === 1
        ? `node ${nodes[0]}`
        : `nodes ${nodes.join(', ')}`;
  /** A fault as a person says it: "latency +5 ms (±2 ms) on node 2". */
  const describeFault = (fault) => {
    const on = nodesText(fault.nodes);
    switch (fault.type ?? fault.kind) {
      case 'latency':
        return fault.ms === undefined
          ? `latency on ${on}`
          : `latency +${fault.ms} ms${fault.jitterMs ? ` (±${fault.jitterMs} ms${fault.distribution === 'exponential' ? ', exponential' : ''})` : ''} on ${on}`;
      case 'loss':
        return fault.probability === undefined
          ? `message loss on ${on}`
          : `${Math.round(fault.probability * 1000) / 10} % message loss on ${on}`;
      case 'duplicate':
        return `${Math.round((fault.probability ?? 0) * 1000) / 10} % duplicated messages on ${on}`;
      case 'partition':
        return `${on} cut off${fault.direction && fault.direction !== 'both' ? ` (messages ${fault.direction} only)` : ''}`;
      case 'pause':
        return fault.ms === undefined ? `${on} paused` : `${on} paused for ${fault.ms} ms`;
      case 'crash':
        return `${on} crashed`;
      default:
        return `${fault.type ?? fault.kind} on ${on}`;
    }
  };
  /** A linear scale from [from, to] (ms) onto [left, right] (px); times outside are clamped. */
  const scale = (from, to, left, right) => {
    const span = Math.max(to - from, 1e-9);
    const x = (t) => left + ((Math.min(Math.max(t, from), to) - from) / span) * (right - left);
    return { from, to, left, right, x };
  };
  /**
   * Shades each window from its start to its end (or `now`) between `top` and `top + height`,
   * labelled on hover; returns the drawn rectangles (data-kind says the kind).
   */
  const drawFaults = (svg, windows, x, top, height, now) => {
    const drawn = [];
    for (const w of windows) {
      const x0 = x.x(w.began);
      const x1 = x.x(w.ended ?? now ?? x.to);
      if (x1 < x.left || x0 > x.right) continue;
      const rect = el('rect', {
        x: x0.toFixed(1),
        y: top,
        width: Math.max(x1 - x0, 1).toFixed(1),
        height,
        fill: FAULT_COLOURS[w.kind] ?? '#e15759',
        opacity: 0.22,
        class: 'fault-window',
        'data-kind': w.kind,
      });
      const label = w.label ?? describeFault(w);
      rect.append(
        el(
          'title',
          {},
          `${label}: ${w.began.toFixed(0)}–${w.ended === null || w.ended === undefined ? 'now' : w.ended.toFixed(0)} ms`,
        ),
      );
      svg.append(rect);
      drawn.push(rect);
    }
    return drawn;
  };
  /** Ticks under an axis at `y`: seconds from `origin` (ms), at a step that fits about 8. */
  const drawAxis = (svg, x, y, origin = x.from) => {
    const span = x.to - x.from;
    const steps = [100, 250, 500, 1000, 2000, 5000, 10_000, 30_000, 60_000, 300_000, 600_000];
    const step = steps.find((s) => span / s <= 8) ?? 3_600_000;
    const first = Math.ceil((x.from - origin) / step) * step + origin;
    for (let t = first; t <= x.to; t += step) {
      const seconds = (t - origin) / 1000;
      svg.append(
        el('line', { x1: x.x(t), x2: x.x(t), y1: y, y2: y + 3, stroke: '#9aa3ad' }),
        el(
          'text',
          { x: x.x(t), y: y + 13, 'text-anchor': 'middle', class: 'tick' },
          `${Number.isInteger(seconds) ? seconds : seconds.toFixed(1)} s`,
        ),
      );
    }
  };
  return { SVG, FAULT_COLOURS, el, scale, drawFaults, drawAxis, describeFault, nodesText };
})();
