import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Progress } from '../src/load/progress.js';
import { formatReport } from '../src/load/report.js';

/** A clock the test moves by hand. */
class FakeClock {
  t = 0;
  now(): number {
    return this.t;
  }
}

function output(isTTY: boolean, columns?: number) {
  const written: string[] = [];
  return { written, out: { isTTY, columns, write: (s: string) => written.push(s) } };
}

/** What a redraw shows: its text without the carriage return, erase-to-end and newline. */
function visible(draw: string): string {
  return draw.replace(/^\r/, '').replace('\x1b[K', '').replace(/\n$/, '');
}

describe('Progress', () => {
  test('on a TTY it redraws one bar in place, at most every redrawMs, with share and rate', () => {
    const clock = new FakeClock();
    const { written, out } = output(true, 120);
    const progress = new Progress({ total: 2_000_000, out, clock, redrawMs: 100 });
    clock.t = 1000;
    progress.update(1_000_000, 50_000);
    clock.t = 1050;
    progress.update(1_100_000, 55_000); // too soon: not drawn
    clock.t = 2000;
    progress.update(2_000_000, 100_000);
    progress.finish(2_000_000, 100_000);
    assert.equal(written.length, 3);
    assert.ok(written.every((s) => s.startsWith('\r')));
    assert.match(written[0]!, /\[#{15}\.{15}\] {2}50% {2}1\.0 MB of 2\.0 MB, 50,000 lines, 50,000 lines\/s/);
    assert.match(written[1]!, /100%/);
    assert.ok(written[2]!.endsWith('\n'));
  });

  test('at 80 columns every redraw fits in 79, so a redraw never wraps and leaves a row behind', () => {
    const clock = new FakeClock();
    const { written, out } = output(true, 80);
    // A 12 GB file of 123 million lines at a million lines a second: longer texts than
    // a real load draws on this machine.
    const total = 12_345_678_901;
    const progress = new Progress({ total, out, clock, redrawMs: 0 });
    for (let i = 1; i <= 10; i++) {
      clock.t = i * 12_345.678;
      progress.update((total * i) / 10, 12_345_678 * i);
    }
    progress.finish(total, 123_456_780);
    assert.equal(written.length, 11);
    for (const draw of written) {
      assert.ok(visible(draw).length <= 79, `${visible(draw).length} columns: ${visible(draw)}`);
      assert.match(visible(draw), /^\[#*\.*\] +\d+%/, 'the bar shrinks before it goes');
    }
    assert.match(
      visible(written.at(-1)!),
      /100% {2}12\.35 GB of 12\.35 GB, 123,456,780 lines, 1,000,000 lines\/s$/,
    );
  });

  test('on a narrow or resized TTY the bar goes first, then the text is cut to the width', () => {
    const clock = new FakeClock();
    const { written, out } = output(true, 60);
    const progress = new Progress({ total: 2_000_000_000, out, clock, redrawMs: 0 });
    clock.t = 1000;
    progress.update(1_000_000_000, 10_000_000);
    out.columns = 30;
    clock.t = 2000;
    progress.update(2_000_000_000, 20_000_000);
    assert.ok(!visible(written[0]!).startsWith('['), 'no room for a bar of 10 at 60 columns');
    assert.equal(visible(written[0]!), ' 50%  1.00 GB of 2.00 GB, 10,000,000 lines, 10,000,000 line');
    assert.equal(visible(written[1]!), '100%  2.00 GB of 2.00 GB, 20,');
  });

  test('elsewhere it writes plain lines, at most every lineMs, and nothing extra at the end', () => {
    const clock = new FakeClock();
    const { written, out } = output(false);
    const progress = new Progress({ total: 100, out, clock, lineMs: 2000 });
    for (let t = 0; t <= 5000; t += 500) {
      clock.t = t;
      progress.update(t / 50, t);
    }
    progress.finish(100, 5000);
    assert.equal(written.length, 3); // at 0, 2000 and 4000 ms
    assert.ok(written.every((s) => s.endsWith('\n') && !s.includes('[')));
  });

  test('a clock without now() is a TypeError', () => {
    assert.throws(() => new Progress({ total: 1, out: output(false).out, clock: {} as never }), TypeError);
  });
});

test('formatReport() gives counts, rate and the first rejections', () => {
  const text = formatReport('data.txt', {
    loaded: 1000,
    rejected: 1,
    rejections: [{ line: 7, code: 'BAD_REQUEST', message: 'line 7: expected "key value"' }],
    seconds: 0.5,
  });
  assert.equal(
    text,
    'loaded 1,000 pairs from data.txt in 0.50 s (2,000 pairs/s)\nrejected 1 line; the first:\n  BAD_REQUEST: line 7: expected "key value"',
  );
});
