import assert from 'node:assert/strict';
import { test } from 'node:test';
import { align, alignMetric, COMPARE_METRICS, summaryRow } from '../../src/shared/compare';
import { fakeRunEvents } from '../../src/shared/fakeRunEvents';
import { buildSeries } from '../../src/shared/series';

test('compare: align by union of x, null where a run has no point', () => {
  const a = align([
    { x: [0, 10, 20], y: [1, 2, 3] },
    { x: [5, 10, 30], y: [7, 8, 9] },
  ]);
  assert.deepEqual(a.x, [0, 5, 10, 20, 30]);
  assert.deepEqual(a.ys[0], [1, null, 2, 3, null]);
  assert.deepEqual(a.ys[1], [null, 7, 8, null, 9]);
});

test('compare: epochs that are equal up to rounding share one x', () => {
  const a = align([
    { x: [0.1 + 0.2, 1], y: [1, 2] },
    { x: [0.3, 1], y: [3, 4] },
  ]);
  assert.equal(a.x.length, 2);
  assert.deepEqual(a.ys, [
    [1, 2],
    [3, 4],
  ]);
});

test('compare: align runs by step and by epoch with different steps per epoch', () => {
  const r1 = buildSeries('a', fakeRunEvents({ runId: 'a', steps: 200, stepsPerEpoch: 50 }));
  const r2 = buildSeries(
    'b',
    fakeRunEvents({ runId: 'b', steps: 100, stepsPerEpoch: 25, explosion: false }),
  );
  const trF = COMPARE_METRICS.find((m) => m.id === 'trF')!;
  const byStep = alignMetric([r1, r2], trF, 'step');
  // fisher every 10 steps (+ step 1): run b's steps are a subset of run a's.
  assert.equal(byStep.x.length, r1.fisher.step.length);
  assert.equal(byStep.ys[1].filter((v) => v !== null).length, r2.fisher.step.length);
  assert.equal(byStep.ys[0][byStep.x.indexOf(200)], r1.fisher.trF[r1.fisher.trF.length - 1]);
  assert.equal(byStep.ys[1][byStep.x.indexOf(200)], null);
  const byEpoch = alignMetric([r1, r2], trF, 'epoch');
  // Epoch 2 is step 100 in run a and step 50 in run b: one x, both values.
  const j = byEpoch.x.findIndex((x) => Math.abs(x - 2) < 1e-12);
  assert.ok(j >= 0);
  assert.equal(byEpoch.ys[0][j], r1.fisher.trF[r1.fisher.step.indexOf(100)]);
  assert.equal(byEpoch.ys[1][j], r2.fisher.trF[r2.fisher.step.indexOf(50)]);
  for (let i = 1; i < byEpoch.x.length; i++) assert.ok(byEpoch.x[i] > byEpoch.x[i - 1]);
});

test('compare: summary rows', () => {
  const s = buildSeries('a', fakeRunEvents({ runId: 'a', steps: 600, noise: true }));
  const row = summaryRow(s, null, 'running');
  assert.equal(row.runId, 'a');
  assert.equal(row.state, 'running');
  assert.ok(row.peakTrF !== null && row.peakStep !== null);
  assert.ok(row.trFi !== null);
  assert.ok(row.finals.cleanAcc !== null && row.finals.noisyAcc !== null);
});
