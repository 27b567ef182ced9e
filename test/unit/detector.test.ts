/**
 * The explosion detector on event sequences: one case per report in issue "the explosion signal tells the truth"
 * (warning on the η* preset after a collapse, silence on η* ÷ 10 whose rise happens in the first 40 steps, a dead
 * network, several peaks for one run), plus its definitions (early peak, Tr(F_i), reference, significance).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_DETECTOR_OPTIONS,
  ExplosionDetector,
  detectOffline,
  detectorOptionsFromConfig,
  detectorSummary,
  mergeSeries,
  toDetectorEvent,
  type DetectorInput,
} from '../../src/shared/detector';
import { Rng } from '../../src/shared/rng';
import { resolveConfig, totalSteps } from '../../src/shared/config';
import { EVENT_SCHEMAS } from '../../src/shared/protocol';
import { Value } from '@sinclair/typebox/value';

/** Measurements every `every` steps (stderr `se`·value, seeded noise of that size), losses every step. */
function stream(
  trF: (s: number) => number,
  loss: (s: number) => number,
  o: { steps?: number; every?: number; noise?: number; seed?: number } = {},
): DetectorInput[] {
  const { steps = 300, every = 5, noise = 0.05, seed = 1 } = o;
  const rng = new Rng(seed, 'curve');
  const out: DetectorInput[] = [];
  for (let s = 0; s <= steps; s++) {
    if (s % every === 0) {
      const v = trF(s) * (1 + noise * rng.normal());
      out.push({ step: s, trF: v, stderr: noise * Math.abs(trF(s)) });
    }
    if (s > 0) out.push({ step: s, loss: loss(s) });
  }
  return out;
}
const loss = (s: number) => 2.3 * Math.exp(-s / 60) + 0.05;

test('η* ÷ 10: a rise inside the first 40 steps (120 → 1540) is the explosion: no warm-up hides it', () => {
  const curve = (s: number) => (s <= 40 ? 120 * Math.pow(1540 / 120, s / 40) : 1540 - s);
  const { state, changes } = detectOffline(stream(curve, loss, { steps: 200 }));
  assert.ok(state.explosion, 'fired');
  assert.ok(
    state.explosion.step <= 40,
    `fired at step ${state.explosion.step}, inside the old warm-up`,
  );
  assert.equal(state.explosion.base.basis, 'initial');
  assert.ok(Math.abs(state.explosion.base.value - 120) < 20, `base ${state.explosion.base.value}`);
  assert.equal(changes.filter((c) => c.kind === 'explosion').length, 1, 'once');
  assert.match(
    changes.find((c) => c.kind === 'explosion')!.message,
    /^Fisher explosion: early peak .* at step \d+ is \d+\.\d\d× its Tr\(F\) at initialisation \(step 0\) /,
  );
  assert.equal(state.verdict.explosion, true);
  assert.ok(state.earlyPeak!.value > 1300, `peak ${state.earlyPeak!.value}`);
});

test('η*: Tr(F) collapses from its start to ~1, then rises 3.8× off that minimum: no warning', () => {
  // The η* preset's report: "rose 3.8× since step 80 (now at step 100)", and after the loss reached ~0.
  const curve = (s: number) =>
    s < 10
      ? 2000
      : s < 80
        ? Math.max(1, 2000 * Math.exp(-(s - 10) / 8))
        : 1 + (2.8 * (s - 80)) / 20;
  const { state } = detectOffline(stream(curve, loss, { steps: 180, every: 5 }));
  assert.equal(state.explosion, null);
  assert.equal(state.verdict.explosion, false);
  assert.ok(state.verdict.rise! <= 1.05, `rise ${state.verdict.rise}`);
  assert.ok(
    state.earlyPeak!.step <= 10,
    `the early peak is at the start (step ${state.earlyPeak!.step})`,
  );
});

test('a dead network (Tr(F) 0 at the start, then 1e-7): undecided, never an absurd ratio', () => {
  const inputs: DetectorInput[] = [];
  for (let s = 0; s <= 100; s += 10) inputs.push({ step: s, trF: s === 0 ? 0 : 1.6, stderr: 0 });
  for (let s = 1; s <= 100; s++) inputs.push({ step: s, loss: 2.302585 });
  const { state, changes } = detectOffline(
    mergeSeries({
      fisher: inputs.filter((x): x is { step: number; trF: number } => 'trF' in x),
      loss: [],
    }),
  );
  assert.equal(state.explosion, null);
  assert.equal(state.verdict.explosion, null);
  assert.equal(state.verdict.rise, null);
  assert.match(state.verdict.reason, /initialisation .* not clearly above 0.*dead network/);
  assert.equal(changes.filter((c) => c.kind === 'explosion').length, 0);
  // Noise around zero (|Tr(F)| within 2 s.e.) is no scale either.
  const noisy = detectOffline([
    { step: 0, trF: 1e-9, stderr: 1e-9 },
    { step: 10, trF: 5, stderr: 1 },
    { step: 20, trF: 6, stderr: 1 },
  ]).state;
  assert.equal(noisy.verdict.explosion, null);
  const summary = detectorSummary(noisy);
  assert.equal(summary.explosion, null);
  assert.equal(summary.explosionRise, null);
});

test('a reference run: the verdict compares early peaks and names the reference', () => {
  const rising = (s: number) => 100 + 4 * Math.min(s, 60);
  const ref = {
    peak: 150,
    stderr: 3,
    label: 'run large-lr-s0 at lr 0.05',
    runId: 'large-lr-s0',
    lr: 0.05,
  };
  const { state, changes } = detectOffline(stream(rising, loss, { steps: 120 }), {
    reference: ref,
  });
  assert.ok(state.explosion);
  assert.equal(state.explosion.base.basis, 'reference');
  assert.ok(state.explosion.rise >= 1.3);
  const ev = changes.find((c) => c.kind === 'explosion')!;
  assert.match(ev.message, /× the early peak of run large-lr-s0 at lr 0\.05 150\.0/);
  const e = toDetectorEvent(ev, 1);
  assert.equal(e.basis, 'reference');
  assert.equal(e.base, 150);
  assert.ok(Value.Check(EVENT_SCHEMAS.detector, e), 'a valid detector event');

  // The paper's CIFAR regime: the run doubles its own start, but its peak is only 1.1× the reference's: no explosion.
  const mild = detectOffline(
    stream((s) => 100 + 2 * Math.min(s, 50), loss, { steps: 120 }),
    {
      reference: { peak: 185, stderr: 2, label: 'run eta-star' },
    },
  ).state;
  assert.equal(mild.explosion, null);
  assert.ok(mild.verdict.rise! > 1 && mild.verdict.rise! < 1.3, `rise ${mild.verdict.rise}`);
  // Without the reference the same run rises 2× over its start: the fallback fires (and says so).
  const own = detectOffline(stream((s) => 100 + 2 * Math.min(s, 50), loss, { steps: 120 })).state;
  assert.equal(own.explosion?.base.basis, 'initial');
});

test('a reference that stays near its own start: the run is tested against both, and the warning says so', () => {
  // η* holds Tr(F) near its start with an early bump to 210; η* ÷ 10 climbs from 100 to 240 (1.14× the bump, 2.4× its start).
  const curve = (s: number) => 100 + 140 * Math.min(s / 80, 1);
  const holds = { peak: 210, stderr: 4, label: 'run large-lr at lr 0.05', risesOverStart: false };
  const both = detectOffline(stream(curve, loss, { steps: 160 }), { reference: holds }).state;
  assert.ok(both.explosion, 'fired against its own start');
  assert.equal(both.explosion.base.basis, 'initial');
  assert.match(
    both.verdict.reason,
    /× its Tr\(F\) at initialisation \(step 0; the reference, run large-lr at lr 0\.05, stays near its own start\) /,
  );
  // The same reference rising over its own start (or not known to hold): only the reference decides.
  for (const risesOverStart of [true, undefined]) {
    const only = detectOffline(stream(curve, loss, { steps: 160 }), {
      reference: { ...holds, risesOverStart },
    }).state;
    assert.equal(only.explosion, null, `risesOverStart ${risesOverStart}`);
    assert.match(
      only.verdict.reason,
      /× the early peak of run large-lr at lr 0\.05 210\.0 \(explosion/,
    );
  }
  // A flat run next to a reference that holds: no explosion, and the reason names both bases.
  const flat = detectOffline(
    stream(() => 100, loss, { steps: 160 }),
    { reference: holds },
  ).state;
  assert.equal(flat.explosion, null);
  assert.match(
    flat.verdict.reason,
    /early peak .* the early peak of run large-lr .* and .* its Tr\(F\) at initialisation/,
  );
});

test('flat curves with realistic single-probe noise never fire (seeds × noise levels)', () => {
  let fired = 0;
  for (const noise of [0.05, 0.1, 0.2])
    for (let seed = 1; seed <= 40; seed++) {
      const { state } = detectOffline(stream(() => 80, loss, { steps: 300, noise, seed }));
      if (state.explosion) fired++;
    }
  assert.equal(fired, 0, `${fired} of 120 flat runs fired`);
});

test('a rise of 1.35× buried in noise is not significant; the same rise measured precisely is', () => {
  const step = (s: number) => (s < 50 ? 100 : 135);
  const noisy = detectOffline(
    [0, 10, 20, 30, 40, 50, 60, 70].map((s) => ({ step: s, trF: step(s), stderr: 25 })),
  ).state;
  assert.equal(noisy.explosion, null);
  assert.equal(noisy.verdict.explosion, false);
  const precise = detectOffline(
    [0, 10, 20, 30, 40, 50, 60, 70].map((s) => ({ step: s, trF: step(s), stderr: 2 })),
  ).state;
  assert.ok(precise.explosion);
});

test('one early peak: the mean of 3 measurements, each rise a `peak` change, the last one equals the summary', () => {
  const xs = [10, 12, 11, 30, 33, 36, 20, 18, 50, 9, 8];
  const inputs = xs.map((v, i) => ({ step: i * 10, trF: v, stderr: 0.5 }));
  const { state, changes } = detectOffline(inputs);
  const peaks = changes.filter((c) => c.kind === 'peak');
  const last = peaks[peaks.length - 1];
  // Windows: [30,33,36] = 33 (steps 30–50) beats [36,20,18]; [20,18,50] = 29.3; the lone 50 does not make a peak.
  assert.equal(state.earlyPeak!.value, 33);
  assert.equal(state.earlyPeak!.step, 40);
  assert.deepEqual([state.earlyPeak!.from, state.earlyPeak!.to], [30, 50]);
  assert.equal(state.earlyPeak!.raw, 33);
  assert.equal(last.value, state.earlyPeak!.value);
  assert.equal(last.step, state.earlyPeak!.step);
  assert.deepEqual([last.from, last.to], [30, 50]);
  const s = detectorSummary(state);
  assert.equal(s.peakTrF, 33);
  assert.equal(s.peakStep, 40);
  assert.equal(s.peakConfirmed, true);
  assert.equal(s.maxTrF, 50);
  // Strictly increasing peak changes.
  for (let i = 1; i < peaks.length; i++) assert.ok(peaks[i].value > peaks[i - 1].value);
});

test('the early phase ends at the first LR drop: a later rise does not move the peak', () => {
  const xs = [10, 10, 10, 20, 20, 20, 10, 10, 10, 90, 90, 90];
  const inputs = xs.map((v, i) => ({ step: i * 10, trF: v }));
  const { state } = detectOffline(inputs, { peakUntilStep: 70 });
  assert.equal(state.earlyPeak!.value, 20);
  const cfg = resolveConfig({
    dataset: { name: 'mnist', trainSize: 1280 },
    optimizer: { batchSize: 128 },
    schedule: { epochs: 10, lrSchedule: 'step', milestones: [0.5, 0.75] },
    fisher: { lossThreshold: 0.7, warmupSteps: 50 },
  });
  const o = detectorOptionsFromConfig(cfg);
  assert.equal(o.peakUntilStep, Math.round(0.5 * totalSteps(cfg)));
  assert.equal(o.lossThreshold, 0.7);
  assert.ok(!('warmupSteps' in o), 'no warm-up option');
  assert.equal(detectorOptionsFromConfig(resolveConfig({})).peakUntilStep, Infinity);
});

test('Tr(F_i): the mean of the latest measurements when the smoothed loss first reaches ε', () => {
  const det = new ExplosionDetector({ lossThreshold: 1, lossSpan: 1 });
  det.addFisher(0, 10);
  det.addFisher(10, 20);
  det.addLoss(11, 1.5);
  const got = det.addLoss(12, 0.9);
  assert.equal(got.length, 1);
  assert.equal(got[0].kind, 'trFi');
  assert.deepEqual(det.state.trFi, { step: 12, value: 15, fisherStep: 10 });
  // No measurement yet at the crossing: the first one after it.
  const d2 = new ExplosionDetector({ lossThreshold: 1, lossSpan: 1 });
  assert.deepEqual(d2.addLoss(1, 0.5), []);
  const c = d2.addFisher(10, 42);
  assert.equal(c[0].kind, 'trFi');
  assert.deepEqual(d2.state.trFi, { step: 1, value: 42, fisherStep: 10 });
});

test('offline equals online; non-finite values are ignored; options are validated; snapshots are copies', () => {
  const inputs = stream((s) => 50 + s, loss, { steps: 100, noise: 0.1, seed: 3 });
  const det = new ExplosionDetector();
  const online = inputs.flatMap((x) => det.add(x));
  const off = detectOffline(inputs);
  assert.deepEqual(off.changes, online);
  assert.deepEqual(off.state, det.state);

  const d = new ExplosionDetector();
  d.addFisher(0, NaN);
  d.addFisher(10, Infinity);
  d.addFisher(20, 5);
  assert.equal(d.state.ignored, 2);
  assert.equal(d.state.initial!.value, 5);

  assert.throws(() => new ExplosionDetector({ riseFactor: 1 }), /riseFactor: got 1; expected > 1/);
  assert.throws(() => new ExplosionDetector({ window: 0 }), /window/);
  assert.throws(() => new ExplosionDetector({ z: -1 }), /z: got -1/);
  assert.throws(
    () => new ExplosionDetector({ reference: { peak: NaN, label: 'x' } }),
    /reference\.peak/,
  );
  assert.equal(DEFAULT_DETECTOR_OPTIONS.riseFactor, 1.3);

  const snap = det.state;
  snap.earlyPeak!.value = -1;
  assert.notEqual(det.state.earlyPeak!.value, -1);
});
