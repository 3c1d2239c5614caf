'use strict';
/* global Timeline */
/*
 * A witness of a key that is not linearizable (src/check/witness.ts, as results.json holds
 * it), drawn as Porcupine draws a history: each client a row, each operation a bar from its
 * call to its return (indeterminate: dashed, to the right edge), the operations the search
 * could order numbered 1..k in that order and green, the one it could not place red, the
 * write that made the read stale outlined, and the fault windows behind them on the same
 * time axis (dashboard/timeline.js, included before this script). Shared by the live
 * dashboard and report.html.
 */
const HistoryView = (() => {
  /** Bars drawn at most: a witness is small, but one whose minimising stopped early may not be. */
  const MAX_BARS = 300;
  const ROW = 30;
  const BAR = 15;
  /** An operation that took no time on the simulated clock still gets a bar one can see and hover. */
  const MIN_BAR = 8;
  const LEFT = 64;
  const RIGHT = 10;
  const COLOURS = { ordered: '#54a24b', blocked: '#d62728', other: '#9aa3ad', staleBy: '#ff7f0e' };

  /** Whether two operations (as JSON) are the same one: a client has one operation open at a time. */
  const same = (a, b) =>
    a.client === b.client &&
    a.call === b.call &&
    a.ret === b.ret &&
    a.input.kind === b.input.kind &&
    a.input.value === b.input.value;

  /** An operation in a few characters: `w 2-87`, `r → 2-86`, `del`; `?` when indeterminate. */
  const label = (op) => {
    const open = op.ret === null;
    const verdict = open ? ' ?' : op.output.ok ? ' ✓' : ' ✗';
    switch (op.input.kind) {
      case 'read':
        return `r → ${op.output.value === null || op.output.value === undefined ? '∅' : op.output.value}`;
      case 'write':
        return `w ${op.input.value}${open ? ' ?' : ''}`;
      case 'delete':
        return `del${open ? ' ?' : ''}`;
      case 'create':
        return `create ${op.input.value}${verdict}`;
      case 'delete-if-present':
        return `del-if${verdict}`;
      default:
        return op.input.kind;
    }
  };

  /**
   * The indexes into `operations` of the ordered prefix (in its order), of the blocked
   * operation and of staleBy (-1: none): the witness names them as copies of its operations.
   */
  const indexesOf = (witness) => {
    const ops = witness.operations;
    const taken = new Set();
    const find = (op) => {
      const i = ops.findIndex((candidate, j) => !taken.has(j) && same(candidate, op));
      if (i >= 0) taken.add(i);
      return i;
    };
    const ordered = witness.ordered.map(find).filter((i) => i >= 0);
    const blocked = find(witness.blocked);
    const staleBy = witness.staleBy === null ? -1 : ops.findIndex((op) => same(op, witness.staleBy));
    return { ordered, blocked, staleBy };
  };

  /**
   * The operations drawn: all of them, or past MAX_BARS the blocked one, staleBy and those
   * called nearest the blocked one's call, in their own order.
   */
  const chosen = (ops, marks) => {
    const all = ops.map((_, i) => i);
    if (ops.length <= MAX_BARS) return all;
    const around = ops[marks.blocked].call;
    const must = new Set([marks.blocked, marks.staleBy].filter((i) => i >= 0));
    const rest = all
      .filter((i) => !must.has(i))
      .sort((a, b) => Math.abs(ops[a].call - around) - Math.abs(ops[b].call - around) || a - b);
    return [...must, ...rest.slice(0, MAX_BARS - must.size)].sort((a, b) => a - b);
  };

  /** A fault window of results.json as Timeline draws and says it: its fault's own words (a latency's ms). */
  const windowOf = (w) => ({
    ...(w.fault ?? {}),
    kind: w.kind,
    nodes: w.nodes,
    began: w.began,
    ended: w.ended,
  });

  /**
   * Draws `witness` into `svg` (its content replaced), as wide as its container.
   * `options.width`: the drawing's width in viewBox units (default: the svg's width on screen,
   * at least 320; 800 if it has none yet). Returns what it drew:
   * `{ drawn, total, ordered }`.
   */
  const draw = (svg, witness, options = {}) => {
    const el = Timeline.el;
    // The viewBox as wide as the drawing is on screen (a phone's 360 px as a desktop's
    // 1200), so text stays legible: a fixed viewBox would shrink it with the width.
    svg.setAttribute('width', '100%');
    const width = options.width ?? Math.max(320, Math.round(svg.getBoundingClientRect().width) || 800);
    const ops = witness.operations;
    const marks = indexesOf(witness);
    const drawn = chosen(ops, marks);
    const clients = [...new Set(drawn.map((i) => ops[i].client))].sort((a, b) => a - b);
    const rowOf = new Map(clients.map((c, r) => [c, r]));
    const top = 4;
    const rowsHeight = clients.length * ROW;
    const height = top + rowsHeight + 22;

    // The axis spans the calls and returns drawn, a little beyond: an indeterminate bar runs
    // to its right edge, past every return.
    const times = drawn.flatMap((i) => [ops[i].call, ...(ops[i].ret === null ? [] : [ops[i].ret])]);
    const first = Math.min(...times);
    const last = Math.max(...times);
    const pad = Math.max((last - first) * 0.06, 0.5);
    const x = Timeline.scale(
      first - pad,
      last + pad * (drawn.some((i) => ops[i].ret === null) ? 3 : 1),
      LEFT,
      width - RIGHT,
    );

    svg.replaceChildren();
    svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
    svg.setAttribute('preserveAspectRatio', 'xMinYMin meet');
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', `why key ${witness.key} is not linearizable`);
    svg.setAttribute('data-drawn', drawn.length);
    svg.setAttribute('data-total', ops.length);

    Timeline.drawFaults(svg, (witness.faults ?? []).map(windowOf), x, top, rowsHeight);
    clients.forEach((client, r) => {
      const y = top + r * ROW;
      svg.append(
        el('line', { x1: LEFT, x2: width - RIGHT, y1: y + ROW - 0.5, y2: y + ROW - 0.5, stroke: '#eceff3' }),
        el('text', { x: 4, y: y + ROW / 2 + 6, class: 'client', 'font-size': 11 }, `client ${client}`),
      );
    });

    const order = new Map(marks.ordered.map((i, k) => [i, k + 1]));
    for (const i of drawn) {
      const op = ops[i];
      const y = top + rowOf.get(op.client) * ROW + ROW - BAR - 3;
      const x0 = x.x(op.call);
      const x1 = op.ret === null ? x.right : x.x(op.ret);
      const classes = ['op'];
      if (order.has(i)) classes.push('ordered');
      if (i === marks.blocked) classes.push('blocked');
      if (i === marks.staleBy) classes.push('stale-by');
      if (op.ret === null) classes.push('indeterminate');
      const group = el('g', { class: classes.join(' '), 'data-op': i });
      if (order.has(i)) group.setAttribute('data-order', order.get(i));
      const fill = i === marks.blocked ? COLOURS.blocked : order.has(i) ? COLOURS.ordered : COLOURS.other;
      const rect = el('rect', {
        x: x0.toFixed(1),
        y,
        width: Math.max(x1 - x0, MIN_BAR).toFixed(1),
        height: BAR,
        rx: 2,
        fill,
        'fill-opacity': op.ret === null ? 0.3 : 0.85,
        stroke: i === marks.staleBy ? COLOURS.staleBy : fill,
        'stroke-width': i === marks.staleBy ? 3 : 1,
      });
      if (op.ret === null) rect.setAttribute('stroke-dasharray', '4,3');
      const text = `${order.has(i) ? `${order.get(i)} · ` : ''}${label(op)}`;
      const role =
        i === marks.blocked
          ? 'no order places it'
          : `${order.has(i) ? `ordered ${order.get(i)} of ${order.size}` : 'not ordered'}${i === marks.staleBy ? '; made the read stale' : ''}`;
      group.append(
        rect,
        // Right of the middle, the label ends at the bar's end: it would run off the edge.
        x0 > (LEFT + width) / 2
          ? el(
              'text',
              {
                x: Math.max(x1, x0 + MIN_BAR).toFixed(1),
                y: y - 2,
                'font-size': 10,
                class: 'op-label',
                'text-anchor': 'end',
              },
              text,
            )
          : el('text', { x: x0.toFixed(1), y: y - 2, 'font-size': 10, class: 'op-label' }, text),
        el(
          'title',
          {},
          `client ${op.client}: ${label(op)}; ${op.call.toFixed(1)}–${op.ret === null ? '∞' : op.ret.toFixed(1)} ms; ${role}`,
        ),
      );
      svg.append(group);
    }
    const axis = top + rowsHeight + 2;
    Timeline.drawAxis(svg, x, axis, 0);
    // A witness often spans a few ms, less than the axis's finest step: its ends in ms then.
    if (svg.querySelectorAll('text.tick').length < 2) {
      svg.append(
        el('text', { x: x.x(first), y: axis + 13, class: 'tick', 'font-size': 10 }, `${first.toFixed(1)} ms`),
        el(
          'text',
          { x: x.x(last), y: axis + 13, class: 'tick', 'font-size': 10, 'text-anchor': 'end' },
          `${last.toFixed(1)} ms`,
        ),
      );
    }
    return { drawn: drawn.length, total: ops.length, ordered: marks.ordered.length };
  };

  return { draw, label, MAX_BARS };
})();
