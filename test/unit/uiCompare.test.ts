import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  align,
  alignMetric,
  COMPARE_METRICS,
  summaryRow,
  summaryTable,
} from '../../src/shared/compare';
import { runColorSlot, runColorSlots, shortRunLabels } from '../../src/shared/runLabels';
import { fakeRunEvents } from '../../src/shared/fakeRunEvents';
import { buildSeries, headline } from '../../src/shared/series';

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

test('compare: LR and explosion columns come from the config and the detector', () => {
  const boom = buildSeries('boom', fakeRunEvents({ runId: 'boom', steps: 600 }));
  const flat = buildSeries('flat', fakeRunEvents({ runId: 'flat', steps: 600, explosion: false }));
  const rows = [
    summaryRow(boom, null, 'completed', { optimizer: { lr: 0.05 } }),
    summaryRow(flat, null, 'completed', { optimizer: { lr: 5e-4 } }),
    summaryRow(flat, null, 'completed', null),
  ];
  const marker = boom.markers.filter((m) => m.kind === 'explosion').at(-1);
  assert.ok(marker, 'the fake run has an explosion');
  // The size shown is the early peak as it stands over the base it was compared with (one peak everywhere), not
  // the early peak when the explosion was first detected.
  const h = headline(boom);
  assert.ok(h.peakKind === 'peak' && marker.base! > 0);
  assert.deepEqual(rows[0].explosion, { step: marker.step, rise: h.peakTrF! / marker.base! });
  assert.ok(rows[0].explosion!.rise! >= marker.rise!);
  assert.equal(rows[1].explosion, null);
  const t = summaryTable(rows, ['large', 'small', 'unknown']);
  const col = (name: string) => t.rows.map((r) => r[t.head.indexOf(name)]);
  assert.deepEqual(col('Run'), ['large', 'small', 'unknown']);
  assert.deepEqual(col('LR'), ['0.05', '5.00e-4', '–']);
  assert.match(col('Explosion @ step')[0], new RegExp(`^[\\d.]+× @ ${marker.step}$`));
  assert.deepEqual(col('Explosion @ step').slice(1), ['none', 'none']);
});

test('run colours: a function of the run id, the same whatever else a view shows; distinct within a view', () => {
  const ids = Array.from(
    { length: 40 },
    (_, i) => `20261129-01${String(i).padStart(2, '0')}00-lr-${i}`,
  );
  // Alone, or among any other runs: the same slot unless its own slot is taken by a smaller id.
  for (const id of ids) {
    const own = runColorSlot(id, 12);
    assert.equal(runColorSlots([id], 12).get(id), own);
    const others = ids.filter((x) => x !== id && runColorSlot(x, 12) !== own);
    assert.equal(runColorSlots([...others.slice(0, 5), id], 12).get(id), own);
    assert.equal(runColorSlots([id, ...others.slice(5, 9).reverse()], 12).get(id), own);
  }
  // Up to the palette size, runs in one view never share a colour.
  for (let k = 0; k + 12 <= ids.length; k += 7) {
    const m = runColorSlots(ids.slice(k, k + 12), 12);
    assert.equal(new Set(m.values()).size, 12);
  }
  // Spread: 40 ids use most of the 12 slots.
  assert.ok(new Set(ids.map((id) => runColorSlot(id, 12))).size >= 9);
});

test('run labels: names, else the slug of the id; the start time (then the date) only where they collide', () => {
  assert.deepEqual(
    shortRunLabels([
      { runId: '20261129-010000-lr-large' },
      { runId: '20261129-010100-lr-small', name: 'baseline η/10' },
      { runId: '20261129-020304-noise' },
      { runId: '20261130-020304-noise' },
      { runId: '20261129-030000-noise' },
      { runId: 'my_run' },
    ]),
    [
      'lr-large',
      'baseline η/10',
      'noise 02:03:04 11/29',
      'noise 02:03:04 11/30',
      'noise 03:00:00',
      'my_run',
    ],
  );
  assert.deepEqual(shortRunLabels([{ runId: '20261129-010000-' + 'x'.repeat(60) }], 20), [
    'x'.repeat(19) + '…',
  ]);
  for (const l of shortRunLabels([{ runId: '20261129-010000-lr-large' }, { runId: 'b' }]))
    assert.ok(l.length < 24);
});
