import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  compact,
  labelRuns,
  logTickLabels,
  percentTickLabels,
  tickLabels,
} from '../../src/shared/ticks';

/** Ticks as a chart library places them: multiples of a 1/2/2.5/5 × 10^k step covering [lo, hi]. */
function splits(lo: number, hi: number, target = 6): { splits: number[]; incr: number } {
  const raw = (hi - lo) / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const incr = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let k = Math.ceil(lo / incr); k * incr <= hi + incr * 1e-9; k++)
    out.push(Number((k * incr).toPrecision(15)));
  return { splits: out, incr };
}

/** The number a tick label reads as (SI prefixes, exponents, percent). */
function readLabel(s: string): number {
  const m = /^(-?[\d.]+(?:e[+-]?\d+)?)([kMGT%]?)$/.exec(s);
  assert.ok(m, `"${s}" is a number label`);
  const f = { '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, '%': 0.01 }[m[2]]!;
  return Number(m[1]) * f;
}

function rand(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('ticks: the values the issue names read as themselves', () => {
  assert.deepEqual(tickLabels([0.002, 0.0025, 0.003], 0.0005), ['0.0020', '0.0025', '0.0030']);
  assert.deepEqual(tickLabels([0, 0.0005, 0.001], 0.0005), ['0', '0.0005', '0.0010']);
  const tiny = tickLabels([0, 0.00005, 0.0001], 0.00005);
  assert.notEqual(tiny[1], '0');
  assert.equal(readLabel(tiny[1]), 5e-5);
  assert.deepEqual(tickLabels([0, 100000, 200000], 100000), ['0', '100k', '200k']);
  assert.deepEqual(tickLabels([1e6, 1.05e6, 1.1e6], 5e4), ['1.00M', '1.05M', '1.10M']);
  assert.deepEqual(percentTickLabels([0.9, 0.925, 0.95], 0.025), ['90.0%', '92.5%', '95.0%']);
  assert.deepEqual(logTickLabels([1e-4, 0.01, 1, 100, 1e5]), ['1e-4', '0.01', '1', '100', '100k']);
  assert.equal(compact(0.0025), '0.0025');
  assert.equal(compact(5e-4), '5e-4');
  assert.equal(compact(200000), '200k');
});

test('ticks: property — every label reads back as its tick (to a tenth of the step), neighbours differ, none is long', () => {
  const r = rand(11);
  for (let trial = 0; trial < 3000; trial++) {
    const mag = 10 ** Math.floor(r() * 22 - 9); // 1e-9 … 1e12
    const lo = (r() - (r() < 0.3 ? 0.5 : 0)) * mag * 10;
    const span = mag * (0.001 + r() * 10);
    const { splits: xs, incr } = splits(lo, lo + span);
    if (xs.length < 2) continue;
    const labels = tickLabels(xs, incr);
    const where = `ticks ${xs.join(', ')} (step ${incr}) → ${labels.join(', ')}`;
    assert.equal(new Set(labels).size, labels.length, `distinct: ${where}`);
    for (const [i, l] of labels.entries()) {
      assert.ok(l.length <= 11, `short enough not to be clipped: ${where}`);
      if (xs[i] !== 0) assert.notEqual(l, '0', `a non-zero tick never reads 0: ${where}`);
      assert.ok(Math.abs(readLabel(l) - xs[i]) <= incr / 10 + 1e-12 * Math.abs(xs[i]), where);
    }
  }
});

test('ticks: percent labels read back too', () => {
  const r = rand(5);
  for (let trial = 0; trial < 500; trial++) {
    const lo = r() * 0.9;
    const { splits: xs, incr } = splits(lo, lo + 0.0005 + r() * (1 - lo));
    if (xs.length < 2) continue;
    const labels = percentTickLabels(xs, incr);
    assert.equal(new Set(labels).size, labels.length, labels.join(', '));
    for (const [i, l] of labels.entries())
      assert.ok(Math.abs(readLabel(l) - xs[i]) <= incr / 10 + 1e-12, `${xs[i]} → ${l}`);
  }
});

test('labels: subscripts written with _ become subscript runs', () => {
  assert.deepEqual(labelRuns('Tr(F_B)'), [
    { text: 'Tr(F', sub: false },
    { text: 'B', sub: true },
    { text: ')', sub: false },
  ]);
  assert.deepEqual(labelRuns('learning rate'), [{ text: 'learning rate', sub: false }]);
});
