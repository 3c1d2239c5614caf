'use strict';
/* global Timeline, HistoryView -- defined by timeline.js and history-view.js, included first */
/*
 * The dashboard's live check (design.md §14): a form that starts a check against this
 * cluster (POST /check, thunderdb check's options), and the check under way, or the last
 * one, as /live pushes it each second: its phase, outcomes per second with the fault
 * windows on the same axis, each key's verdict as the history grows, and, from a red key,
 * why (its smallest failing sub-history, drawn by HistoryView). A check run by
 * `thunderdb check --url` against this cluster shows here the same way.
 *
 * Uses Timeline (timeline.js) and HistoryView (history-view.js), included before it.
 */
const CheckPanel = (() => {
  const KINDS = ['crash', 'partition', 'latency', 'loss', 'pause'];
  let root = null;
  let shown = null; // the summary drawn last
  let chosenKey = null;
  let call = null;

  const h = (tag, attrs = {}, ...children) => {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === 'class') el.className = v;
      else if (k.startsWith('on')) el[k] = v;
      else el.setAttribute(k, v);
    }
    el.append(...children.filter((c) => c !== null && c !== undefined));
    return el;
  };
  const field = (label, input) => h('label', { class: 'field' }, label, ' ', input);
  const number = (id, placeholder, attrs = {}) =>
    h('input', { id, type: 'number', min: '0', step: 'any', placeholder, ...attrs });

  /** Builds the panel's fixed parts inside `section`; `api` makes requests (logged by the page). */
  function mount(section, api) {
    root = section;
    call = api;
    const kinds = h(
      'span',
      { class: 'kinds' },
      ...KINDS.map((kind) =>
        h(
          'label',
          {},
          h('input', { type: 'checkbox', value: kind, checked: '', 'data-kind': kind }),
          ` ${kind}`,
        ),
      ),
    );
    const form = h(
      'form',
      { id: 'check-form' },
      field(
        'against',
        h(
          'select',
          { id: 'check-mode' },
          h('option', { value: 'threads' }, 'this cluster'),
          h('option', { value: 'deterministic' }, 'a simulated cluster (replayable)'),
        ),
      ),
      field('seed', number('check-seed', 'fresh', { step: '1' })),
      field('seconds', number('check-seconds', '10', { step: '1', min: '1' })),
      field('clients', number('check-clients', '5', { step: '1', min: '1' })),
      field('keys', number('check-key-count', '6', { step: '1', min: '1' })),
      field('r', number('check-r', 'cluster', { step: '1', min: '1' })),
      field('w', number('check-w', 'cluster', { step: '1', min: '1' })),
      h('span', { class: 'field faults' }, 'faults ', kinds),
      h('button', { id: 'check-start' }, 'Start check'),
      h('button', { type: 'button', id: 'check-stop', hidden: '' }, 'Stop'),
    );
    form.onsubmit = async (event) => {
      event.preventDefault();
      const body = { mode: document.getElementById('check-mode').value };
      const take = (id, name) => {
        const value = document.getElementById(id).value;
        if (value !== '') body[name] = Number(value);
      };
      take('check-seed', 'seed');
      take('check-seconds', 'timeLimit');
      take('check-clients', 'clients');
      take('check-key-count', 'keys');
      take('check-r', 'r');
      take('check-w', 'w');
      body.faults = [...form.querySelectorAll('[data-kind]')]
        .filter((box) => box.checked)
        .map((box) => box.value);
      const answer = await call('POST', '/check', body);
      if (answer.status === 201) render(answer.json);
    };
    form.querySelector('#check-stop').onclick = () => shown && call('DELETE', `/check/${shown.id}`);
    section.append(
      h('h2', {}, 'Check linearizability, live'),
      form,
      h('div', { id: 'check-status', class: 'check-status' }, 'No check yet.'),
      Timeline.el('svg', {
        id: 'check-timeline',
        viewBox: '0 0 600 120',
        width: '100%',
        role: 'img',
        'aria-label': 'outcomes per second and fault windows',
      }),
      h('div', { id: 'check-keys', class: 'check-keys' }),
      h('div', { id: 'check-verdict' }),
      h('div', { id: 'check-why', hidden: '' }),
    );
  }

  /** The keys' common prefix (a check at a URL prefixes its keys): shown once, not on every key. */
  const prefixOf = (keys) => {
    if (keys.length === 0) return '';
    let prefix = keys[0].key;
    for (const { key } of keys) while (!key.startsWith(prefix)) prefix = prefix.slice(0, -1);
    return prefix.replace(/[^-]*$/, '');
  };

  const VERDICT_WORDS = { true: 'valid', false: 'invalid', unknown: 'unknown' };

  function drawStatus(check) {
    const el = root.querySelector('#check-status');
    const seconds = (check.elapsedMs / 1000).toFixed(1);
    const last = check.perSecond.at(-2) ?? check.perSecond.at(-1); // the last whole second
    const rate = last ? last[1] + last[2] + last[3] : 0;
    const { counts } = check;
    el.dataset.state = check.state;
    el.dataset.source = check.source;
    el.replaceChildren(
      h('b', {}, check.source === 'cli' ? 'thunderdb check --url' : 'dashboard check'),
      ` seed ${check.parameters.seed} · `,
      h('span', { class: `phase ${check.state}` }, check.state),
      ` · ${seconds} s · `,
      h('span', { id: 'check-ops' }, counts.invoked.toLocaleString()),
      ` operations (${counts.ok.toLocaleString()} ok, ${counts.fail.toLocaleString()} failed, ${counts.info.toLocaleString()} indeterminate) · ${rate.toLocaleString()}/s · `,
      `${check.faults.filter((f) => !f.skipped).length} faults`,
    );
  }

  function drawTimeline(check) {
    const svg = root.querySelector('#check-timeline');
    svg.replaceChildren();
    // The run's span: its time limit, or longer (healing, the final reads).
    const end = Math.max(check.parameters.timeLimit * 1000, check.elapsedMs, check.perSecond.length * 1000);
    const x = Timeline.scale(0, end, 40, 590);
    Timeline.drawFaults(
      svg,
      check.faults.filter((f) => !f.skipped).map((f) => ({ ...f, type: f.kind, ...f.fault })),
      x,
      4,
      92,
      check.elapsedMs,
    );
    const max = Math.max(1, ...check.perSecond.map((row) => row[1] + row[2] + row[3]));
    const width = Math.max(((x.right - x.left) * 1000) / end - 1, 1);
    for (const [second, ok, fail, info] of check.perSecond) {
      let top = 96;
      for (const [n, colour, kind] of [
        [ok, '#59a14f', 'ok'],
        [fail, '#e15759', 'fail'],
        [info, '#edc948', 'info'],
      ]) {
        if (n === 0) continue;
        const height = (n / max) * 88;
        top -= height;
        svg.append(
          Timeline.el('rect', {
            x: x.x(second * 1000).toFixed(1),
            y: top.toFixed(1),
            width: width.toFixed(1),
            height: height.toFixed(1),
            fill: colour,
            class: `rate ${kind}`,
          }),
        );
      }
    }
    Timeline.drawAxis(svg, x, 100);
    svg.append(Timeline.el('text', { x: 2, y: 12 }, `${max}/s`));
  }

  let keysDrawn = '';
  function drawKeys(check) {
    // Redrawn only when a key changes: a chip being clicked is not swapped under the pointer.
    const drawn = JSON.stringify([check.id, check.keys]);
    if (drawn === keysDrawn) return;
    keysDrawn = drawn;
    const el = root.querySelector('#check-keys');
    const prefix = prefixOf(check.keys);
    el.replaceChildren(
      ...check.keys.map(({ key, ops, checked, verdict }) => {
        const chip = h(
          'button',
          {
            type: 'button',
            class: `key ${verdict}`,
            'data-key': key,
            'data-verdict': verdict,
            title: `${key}: ${verdict} over ${checked} operations (${ops} invoked)`,
          },
          `${key.slice(prefix.length)} `,
          h('small', {}, `${ops}`),
        );
        if (verdict === 'invalid') chip.onclick = () => showWhy(key);
        return chip;
      }),
    );
  }

  function drawVerdict(check) {
    const el = root.querySelector('#check-verdict');
    if (check.state === 'failed') {
      el.dataset.verdict = 'failed';
      el.replaceChildren(h('p', { class: 'verdict failed' }, `The check did not complete: ${check.error}`));
      return;
    }
    if (check.verdict === null) {
      delete el.dataset.verdict;
      el.replaceChildren();
      return;
    }
    const word = VERDICT_WORDS[String(check.verdict)];
    el.dataset.verdict = word;
    const report =
      check.report === null
        ? null
        : check.source === 'dashboard'
          ? h('a', { href: check.report, target: '_blank', id: 'check-report' }, 'the full report')
          : h('code', {}, check.report);
    // A deterministic check the server ran has a trace to step through (--checks-dir/<id>/).
    const replay =
      check.source === 'dashboard' && check.parameters.mode === 'deterministic'
        ? h(
            'a',
            { href: `/replay?file=${encodeURIComponent(check.id)}`, target: '_blank', id: 'check-replay' },
            'step through it',
          )
        : null;
    el.replaceChildren(
      h(
        'p',
        { class: `verdict ${word}` },
        `Verdict: ${word}${check.state === 'stopped' ? ' (stopped early)' : ''}. `,
        report,
        replay === null ? null : ', ',
        replay,
      ),
      ...check.findings.slice(0, 8).map((line) => h('p', { class: 'finding' }, line)),
      h('p', { class: 'reproduce' }, h('code', {}, check.reproduce)),
    );
  }

  /** Why a red key is red: its smallest failing sub-history, Porcupine's way. */
  function showWhy(key) {
    chosenKey = key;
    const el = root.querySelector('#check-why');
    const witness = shown?.witnesses?.[key];
    el.hidden = false;
    el.dataset.key = key;
    if (witness === undefined) {
      const over = ['done', 'stopped', 'failed'].includes(shown?.state);
      el.replaceChildren(
        h(
          'p',
          {},
          over
            ? `Key ${key} is not linearizable, but its smallest failing sub-history was not found within the search budget (or it is past the first five red keys); the report lists its operations.`
            : `Key ${key} is not linearizable; its smallest failing sub-history is being cut.`,
        ),
      );
      return;
    }
    const svg = Timeline.el('svg', {
      id: 'check-witness',
      width: '100%',
      role: 'img',
      'aria-label': `why ${key}`,
    });
    el.replaceChildren(h('h3', {}, `Why ${key} is not linearizable`), svg);
    HistoryView.draw(svg, witness);
  }

  /** Draws a check's summary (from /live, or POST /check's answer). */
  function render(check) {
    if (root === null || check === null || check === undefined) return;
    shown = check;
    const running = !['done', 'stopped', 'failed'].includes(check.state);
    root.querySelector('#check-start').disabled = running;
    root.querySelector('#check-stop').hidden = !running;
    root.dataset.check = check.id;
    drawStatus(check);
    drawTimeline(check);
    drawKeys(check);
    drawVerdict(check);
    if (chosenKey !== null && check.witnesses?.[chosenKey] && root.querySelector('#check-witness') === null)
      showWhy(chosenKey);
  }

  return { mount, render };
})();
