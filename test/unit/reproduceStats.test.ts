/** Statistics behind the reproduction verdicts: ranks with ties, Spearman's ρ, the permutation test, peaks. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  geomean,
  logspace,
  mean,
  meanCurve,
  movingAverage,
  ranks,
  sd,
  spearman,
  spearmanPermutationP,
} from '../../src/reproduce/stats';

test('ranks average ties', () => {
  assert.deepEqual(ranks([10, 30, 20, 20, 50]), [1, 4, 2.5, 2.5, 5]);
  assert.deepEqual(ranks([3, 3, 3]), [2, 2, 2]);
});

test("Spearman's ρ with ties matches a hand computation", () => {
  // x ranks 1, 2.5, 2.5, 4, 5; y ranks 1, 4, 2.5, 2.5, 5 → deviations from 3:
  // Σdxdy = 4 − 0.5 + 0.25 − 0.5 + 4 = 7.25, Σdx² = Σdy² = 9.5 → ρ = 7.25 / 9.5.
  // (The no-ties shortcut 1 − 6Σd²/(n(n²−1)) would give 0.775: ties must be handled by Pearson on ranks.)
  const rho = spearman([1, 2, 2, 3, 4], [10, 30, 20, 20, 50]) as number;
  assert.ok(Math.abs(rho - 7.25 / 9.5) < 1e-12, `ρ = ${rho}`);
  assert.equal(spearman([1, 2, 3, 4], [8, 6, 4, 2]), -1);
  assert.equal(spearman([1, 2, 3], [5, 5, 5]), null, 'constant side: undefined');
});

test('the permutation p-value is exact for small n', () => {
  // ρ = −1 on 3 points: 1 of 3! = 6 orderings is as extreme.
  assert.equal(spearmanPermutationP([1, 2, 3], [3, 2, 1]), 1 / 6);
  // ρ = +1: every ordering has ρ ≤ 1.
  assert.equal(spearmanPermutationP([1, 2, 3], [1, 2, 3]), 1);
  // Large n uses seeded Monte Carlo: reproducible and small for a perfect negative association.
  const x = Array.from({ length: 12 }, (_, i) => i);
  const y = x.map((v) => -v);
  const p1 = spearmanPermutationP(x, y, { samples: 2000, seed: 1 });
  assert.equal(p1, spearmanPermutationP(x, y, { samples: 2000, seed: 1 }));
  assert.ok((p1 as number) < 0.002);
});

test('summaries: mean, sample sd, geometric mean', () => {
  assert.equal(mean([1, 2, null, 3]), 2);
  assert.equal(sd([2, 4, 4, 4, 5, 5, 7, 9]), Math.sqrt(32 / 7));
  assert.equal(sd([1]), null);
  assert.ok(Math.abs((geomean([1, 4]) as number) - 2) < 1e-12);
  assert.deepEqual(logspace(0.01, 0.1, 3), [0.01, 0.0316, 0.1]);
});

test('curve helpers: moving average skips nulls; mean curve over seeds', () => {
  assert.deepEqual(movingAverage([1, 2, 6], 3), [1.5, 3, 4]);
  assert.deepEqual(movingAverage([1, null, 3], 3), [1, null, 3]);
  const m = meanCurve([
    { step: [0, 10], y: [1, 3] },
    { step: [0, 10], y: [3, 5] },
  ]);
  assert.deepEqual(m.mean, [2, 4]);
});
