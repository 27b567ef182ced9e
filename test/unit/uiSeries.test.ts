import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fakeRunEvents } from '../../src/shared/fakeRunEvents';
import type { RunEvent } from '../../src/shared/protocol';
import {
  appendEvents,
  buildSeries,
  createSeries,
  ema,
  fmt,
  headline,
  pct,
  xValues,
} from '../../src/shared/series';
import { runSeriesErrors } from '../../src/shared/webviewProtocol';

const ev = (e: Record<string, unknown>) => e as unknown as RunEvent;

test('series: builds columns from events, nulls for non-finite values', () => {
  const s = buildSeries('r', [
    { ...fakeRunEvents({ runId: 'r', steps: 10 })[0], t: 1000 } as RunEvent,
    ev({
      type: 'step',
      t: 1100,
      step: 1,
      epoch: 0.1,
      loss: 2.3,
      lr: 0.01,
      penalty: null,
      gradNorm: 1,
      examplesPerSec: 100,
    }),
    ev({
      type: 'fisher',
      t: 1200,
      step: 1,
      epoch: 0.1,
      trF: 10,
      trFStderr: 1,
      probeSize: 128,
      trFB: null,
      ms: 3,
    }),
    ev({
      type: 'step',
      t: 1300,
      step: 2,
      epoch: 0.2,
      loss: null,
      lr: 0.01,
      penalty: 0.5,
      gradNorm: 1,
      examplesPerSec: 100,
    }),
    ev({
      type: 'eval',
      t: 1400,
      step: 2,
      epoch: 0.2,
      testLoss: 2,
      testAcc: 0.3,
      trainLoss: 2,
      trainAcc: 0.31,
      cleanLoss: null,
      cleanAcc: null,
      noisyLoss: null,
      noisyAcc: null,
    }),
    ev({ type: 'detector', t: 1500, step: 2, kind: 'explosion', value: 30, rise: 3, message: 'x' }),
    ev({ type: 'status', t: 1600, step: 2, state: 'completed' }),
    ev({ type: 'log', t: 1700, level: 'info', message: 'hello' }),
  ]);
  assert.deepEqual(s.steps.step, [1, 2]);
  assert.deepEqual(s.steps.loss, [2.3, null]);
  assert.deepEqual(s.steps.penalty, [null, 0.5]);
  assert.deepEqual(s.fisher.trF, [10]);
  assert.deepEqual(s.fisher.trFB, [null]);
  assert.deepEqual(s.evals.testAcc, [0.3]);
  assert.equal(s.markers.length, 1);
  assert.equal(s.markers[0].rise, 3);
  assert.equal(s.state, 'completed');
  assert.equal(s.lastStep, 2);
  assert.equal(s.t0, 1000);
  assert.deepEqual(xValues(s, s.steps, 'time'), [0.1, 0.3]);
  assert.deepEqual(xValues(s, s.steps, 'epoch'), [0.1, 0.2]);
  assert.equal(
    runSeriesErrors(JSON.parse(JSON.stringify(s))),
    null,
    'a built series passes the webview validator',
  );
});

test('series: incremental appends equal one build (snapshot + increments = replica)', () => {
  const events = fakeRunEvents({ runId: 'f', steps: 300, seed: 3 });
  const whole = buildSeries('f', events);
  const inc = createSeries('f');
  let fisher = 0;
  for (let i = 0; i < events.length; i += 17) fisher += appendEvents(inc, events.slice(i, i + 17));
  assert.deepEqual(inc, whole);
  assert.equal(fisher, whole.fisher.trF.length);
  // Through JSON (what postMessage does) the replica is still equal.
  const replica = JSON.parse(JSON.stringify(whole));
  assert.deepEqual(replica, whole);
});

test('series: headline prefers the detector peak and the summary', () => {
  const s = buildSeries('f', fakeRunEvents({ runId: 'f', steps: 600 }));
  const h = headline(s);
  assert.ok(h.peakTrF !== null && h.peakTrF > 20, `peak ${h.peakTrF}`);
  assert.ok(h.explosion, 'explosion marker');
  assert.ok(h.testAcc !== null);
  const withSummary = headline(s, {
    peakTrF: 99,
    peakStep: 7,
    trFi: 5,
    trFiStep: 3,
    finalTestAcc: 0.9,
    steps: 600,
  } as never);
  assert.equal(withSummary.peakTrF, 99);
  assert.equal(withSummary.peakKind, 'peak');
  // One explosion size everywhere: the early peak as it stands over the base (the summary's once there is one),
  // printed with that early peak — never the value at first detection.
  const ex = s.markers.find((m) => m.kind === 'explosion')!;
  assert.ok(ex.base! > 0);
  assert.equal(h.explosion!.rise, h.peakTrF! / ex.base!);
  assert.equal(h.explosion!.value, h.peakTrF);
  assert.equal(withSummary.explosion!.rise, 99 / ex.base!);
  assert.equal(withSummary.explosion!.value, 99);
  const fromSummary = headline(s, {
    peakTrF: 99,
    peakStep: 7,
    steps: 600,
    explosion: true,
    explosionRise: 3.25,
  } as never);
  assert.equal(fromSummary.explosion!.rise, 3.25);
  assert.equal(headline(s, { steps: 600, explosion: false } as never).explosion, null);
  // An unconfirmed early peak is not shown as a peak: the largest raw value is, labelled as such.
  const unconfirmed = headline(null, {
    peakTrF: 76,
    peakStep: 50,
    peakConfirmed: false,
    maxTrF: 231,
    maxTrFStep: 30,
    trFi: null,
    trFiStep: null,
    steps: 300,
  } as never);
  assert.deepEqual(
    [unconfirmed.peakKind, unconfirmed.peakTrF, unconfirmed.peakStep],
    ['max', 231, 30],
  );
  assert.equal(withSummary.peakStep, 7);
  assert.equal(withSummary.testAcc, 0.9);
});

test('series: ema and formatting', () => {
  assert.deepEqual(ema([1, 2, 3], 0), [1, 2, 3]);
  const e = ema([2, null, 2, 2], 0.9);
  assert.equal(e[1], null);
  for (const v of [e[0], e[2], e[3]])
    assert.ok(Math.abs((v as number) - 2) < 1e-12, 'debiased EMA of a constant is the constant');
  assert.equal(fmt(12.3456), '12.3');
  assert.equal(fmt(null), '–');
  assert.equal(pct(0.9512), '95.1%');
});
