import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ExplosionDetector,
  detectOffline,
  mergeSeries,
  toDetectorEvent,
  detectorOptionsFromConfig,
  type DetectorInput,
} from '../../src/shared/detector';
import { Rng } from '../../src/shared/rng';
import { resolveConfig, totalSteps } from '../../src/shared/config';

/** Measurements every 10 steps, losses every step, from a curve function with seeded 5 % noise. */
function stream(
  trF: (s: number) => number,
  loss: (s: number) => number,
  steps = 3000,
  noise = 0.05,
  seed = 1,
): DetectorInput[] {
  const rng = new Rng(seed, 'curve');
  const out: DetectorInput[] = [];
  for (let s = 0; s <= steps; s++) {
    if (s % 10 === 0) out.push({ step: s, trF: trF(s) * (1 + noise * rng.normal()) });
    out.push({ step: s, loss: loss(s) });
  }
  return out;
}

const spike = (s: number) => (s === 10 ? 80 : 0); // warm-up transient, larger than anything later
const slowLoss = (s: number) => 2.3 * Math.exp(-s / 300) + 0.1;

/** Small-LR-like curve: baseline 10, climbs to 60 between steps 100 and 1000, decays to 25 by step 2000. */
function explosionCurve(s: number): number {
  if (s < 20) return spike(s) || 12;
  if (s <= 100) return 10;
  if (s <= 1000) return 10 + (50 * (s - 100)) / 900;
  if (s <= 2000) return 60 - (35 * (s - 1000)) / 1000;
  return 25;
}

test('explosion with early peak: fires on the climb, peak near the top, warm-up spike ignored', () => {
  const { state, changes } = detectOffline(stream(explosionCurve, slowLoss), { warmupSteps: 20 });
  assert.ok(state.explosion, 'explosion fired');
  // 3× the ~10 baseline is reached by the raw curve at step ~433; the EMA lags by ~3.5 measurements.
  assert.ok(
    state.explosion.step >= 430 && state.explosion.step <= 560,
    `explosion step ${state.explosion.step}`,
  );
  assert.ok(
    state.explosion.rise >= 3 && state.explosion.rise < 3.6,
    `rise ${state.explosion.rise}`,
  );
  assert.equal(changes.filter((c) => c.kind === 'explosion').length, 1, 'fired once');

  const p = state.earlyPeak!;
  assert.ok(p.confirmed, 'peak confirmed once the curve fell 20 % below it');
  assert.ok(p.step >= 960 && p.step <= 1120, `peak step ${p.step}`);
  assert.ok(p.value > 50 && p.value < 66, `peak value ${p.value}`);
  assert.ok(
    Math.abs(p.raw - explosionCurve(p.step)) < 0.25 * explosionCurve(p.step),
    'raw is the measurement at the peak step',
  );
  const pc = changes.find((c) => c.kind === 'peak')!;
  assert.equal(pc.step, p.step);
  // The transient at step 10 is the raw maximum of the run but not the early peak.
  assert.equal(state.maxRaw!.step, 10);
  assert.ok(state.maxRaw!.value > 70);
});

test('transient spike in warm-up then a flat curve: never fires, no confirmed peak', () => {
  const flatAfterSpike = (s: number) => spike(s) || 20;
  const { state, changes } = detectOffline(stream(flatAfterSpike, slowLoss), { warmupSteps: 20 });
  assert.equal(state.explosion, null);
  assert.equal(state.earlyPeak!.confirmed, false);
  assert.ok(state.earlyPeak!.value < 26, 'provisional peak is from the flat part, not the spike');
  assert.equal(changes.filter((c) => c.kind !== 'trFi').length, 0);
  // Without a warm-up the spike would count.
  const noWarm = detectOffline(stream(flatAfterSpike, slowLoss), { warmupSteps: 0, span: 1 });
  assert.ok(noWarm.state.earlyPeak!.value > 30, 'sanity: the spike is visible without warm-up');
});

test('flat noisy curve never fires; a curve decaying from its first value has no confirmed peak', () => {
  for (let seed = 0; seed < 10; seed++) {
    const { state } = detectOffline(stream(() => 15, slowLoss, 3000, 0.15, seed));
    assert.equal(state.explosion, null, `seed ${seed}`);
    assert.equal(state.earlyPeak!.confirmed, false, `seed ${seed}`);
  }
  const decaying = detectOffline(stream((s) => 40 * Math.exp(-s / 500) + 5, slowLoss, 3000, 0));
  assert.equal(decaying.state.earlyPeak!.confirmed, false);
  // Warm-up ends at 20; the average settles over ceil(8/2) = 4 measurements (20…50).
  assert.equal(
    decaying.state.earlyPeak!.step,
    50,
    'provisional peak stays at the first settled point',
  );
  assert.equal(decaying.state.explosion, null);
});

test('Tr(F_i) is the smoothed Tr(F) at the latest measurement when the loss first crosses ε', () => {
  const f = (s: number) => 5 + s / 10; // noiseless, increasing
  const loss = (s: number) => (s === 55 ? 0.5 : 2 - s / 100); // raw loss dips at 55, crosses for good at 101
  const inputs = stream(f, loss, 300, 0);
  // Raw loss (lossSpan 1): first crossing at step 55; latest measurement at 50.
  const raw = detectOffline(inputs, { lossSpan: 1, lossThreshold: 1, warmupSteps: 20, span: 5 });
  assert.ok(raw.state.noise! < 0.05, 'only the slope shows up as noise in a noiseless line');
  // Independent EMA: restarted at step 20, α = 1/3, over measurements 20, 30, 40, 50.
  let ema = f(20);
  for (const s of [30, 40, 50]) ema += (f(s) - ema) / 3;
  assert.equal(raw.state.trFi!.step, 55);
  assert.equal(raw.state.trFi!.fisherStep, 50);
  assert.ok(Math.abs(raw.state.trFi!.value - ema) < 1e-12, `${raw.state.trFi!.value} vs ${ema}`);
  // A smoothed loss ignores the one-step dip and crosses later.
  const sm = detectOffline(inputs, { lossSpan: 10, lossThreshold: 1 });
  assert.ok(sm.state.trFi!.step > 100, `smoothed crossing at ${sm.state.trFi!.step}`);
  assert.equal(sm.changes.filter((c) => c.kind === 'trFi').length, 1, 'taken once');
  // A crossing before any measurement takes the next measurement.
  const d = new ExplosionDetector({ lossSpan: 1, lossThreshold: 1 });
  assert.deepEqual(d.addLoss(3, 0.5), []);
  const ch = d.addFisher(10, 42);
  assert.equal(ch.length, 1);
  assert.deepEqual(d.state.trFi, { step: 3, value: 42, fisherStep: 10 });
});

test('offline equals online, and separate series merge with the measurement first', () => {
  for (let seed = 0; seed < 5; seed++) {
    const rng = new Rng(seed, 'random-walk');
    let v = 10;
    const inputs = stream(
      () => {
        v = Math.max(1, v * (1 + 0.2 * rng.normal()));
        return v;
      },
      (s) => 2.5 - s / 1000 + 0.3 * Math.sin(s),
      2000,
      0,
      seed,
    );
    const det = new ExplosionDetector({ riseFactor: 2 });
    const online = inputs.flatMap((x) => det.add(x));
    const offline = detectOffline(inputs, { riseFactor: 2 });
    assert.deepEqual(offline.state, det.state);
    assert.deepEqual(offline.changes, online);
    const fisher = inputs.filter((x): x is { step: number; trF: number } => 'trF' in x);
    const loss = inputs.filter((x): x is { step: number; loss: number } => 'loss' in x);
    assert.deepEqual(
      mergeSeries({ fisher, loss }),
      inputs,
      'stream() emits measurement before loss at equal steps',
    );
    assert.deepEqual(detectOffline({ fisher, loss }, { riseFactor: 2 }).state, det.state);
  }
});

test('non-finite values are ignored; options are validated; events and config options', () => {
  const d = new ExplosionDetector({ warmupSteps: 0 });
  d.addFisher(0, 10);
  d.addFisher(10, NaN);
  d.addFisher(20, Infinity);
  d.addLoss(20, NaN);
  assert.equal(d.state.measurements, 1);
  assert.equal(d.state.ignored, 2);
  assert.equal(d.state.smoothed, 10);
  assert.equal(d.state.smoothedLoss, null);
  assert.throws(() => new ExplosionDetector({ riseFactor: 1 }), /riseFactor: got 1; expected > 1/);
  assert.throws(() => new ExplosionDetector({ peakDrop: 1.5 }), /peakDrop: got 1.5/);
  const e = toDetectorEvent({ kind: 'explosion', step: 7, value: 3, rise: 3.1, message: 'm' }, 123);
  assert.deepEqual(e, {
    type: 'detector',
    t: 123,
    step: 7,
    kind: 'explosion',
    value: 3,
    rise: 3.1,
    message: 'm',
  });
  const cfg = resolveConfig({ fisher: { warmupSteps: 50, lossThreshold: 1.2 } });
  const o = detectorOptionsFromConfig(cfg);
  assert.equal(o.warmupSteps, 50);
  assert.equal(o.lossThreshold, 1.2);
  assert.equal(o.span, 8);
  assert.equal(o.peakUntilStep, Infinity);
  // A step schedule ends the early phase at the first milestone.
  const stepCfg = resolveConfig({
    schedule: { steps: 2000, lrSchedule: 'step', milestones: [0.5, 0.75] },
  });
  assert.equal(detectorOptionsFromConfig(stepCfg).peakUntilStep, 1000);
  const epochCfg = resolveConfig({
    dataset: { trainSize: 1000 },
    optimizer: { batchSize: 100 },
    schedule: { epochs: 30, lrSchedule: 'step', milestones: [0.25] },
  });
  assert.equal(
    detectorOptionsFromConfig(epochCfg).peakUntilStep,
    Math.round(0.25 * totalSteps(epochCfg)),
  );
});

test('a later, higher maximum replaces the peak, but not after peakUntilStep', () => {
  // Two bumps: 10 → 40 → 10 around step 500, then 10 → 80 around step 2000.
  const twoBumps = (s: number) =>
    10 + 30 * Math.exp(-(((s - 500) / 120) ** 2)) + 70 * Math.exp(-(((s - 2000) / 150) ** 2));
  const all = detectOffline(stream(twoBumps, slowLoss, 3000, 0.02));
  const peaks = all.changes.filter((c) => c.kind === 'peak');
  assert.equal(peaks.length, 2, 'each maximum confirmed once');
  assert.ok(
    Math.abs(peaks[0].step - 520) < 80 && Math.abs(peaks[1].step - 2020) < 80,
    JSON.stringify(peaks.map((p) => p.step)),
  );
  assert.equal(all.state.earlyPeak!.step, peaks[1].step);
  const early = detectOffline(stream(twoBumps, slowLoss, 3000, 0.02), { peakUntilStep: 1500 });
  assert.equal(early.changes.filter((c) => c.kind === 'peak').length, 1);
  assert.ok(Math.abs(early.state.earlyPeak!.step - 520) < 80);
  assert.ok(
    early.state.maxRaw!.value > 70 && Math.abs(early.state.maxRaw!.step - 2000) < 100,
    'maxRaw still sees the late rise',
  );
});

test('state snapshots are copies', () => {
  const d = new ExplosionDetector({ warmupSteps: 0, span: 1 });
  d.addFisher(0, 10);
  const s = d.state;
  s.earlyPeak!.value = 999;
  assert.equal(d.state.earlyPeak!.value, 10);
});
