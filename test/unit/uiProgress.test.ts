import assert from 'node:assert/strict';
import { test } from 'node:test';
import { progressText, runProgress } from '../../src/shared/progress';
import { buildSeries } from '../../src/shared/series';

const T0 = 1_700_000_000_000;
/** A run's events: `steps` steps, each `ms(step)` ms after the previous one, out of `total`. */
function run(steps: number, total: number, ms: (step: number) => number, eps = 1280) {
  const events: Record<string, unknown>[] = [
    {
      type: 'header',
      t: T0,
      schemaVersion: 1,
      runId: 'r',
      backend: 'fake',
      backendRejections: [],
      dataset: {
        name: 'synthetic',
        trainSize: 1280,
        testSize: 100,
        inputShape: [8, 8, 1],
        numClasses: 10,
        noisyCount: 0,
      },
      model: { arch: 'mlp', paramCount: 100 },
      seed: 0,
      stepsPerEpoch: 10,
      totalSteps: total,
      host: 'h',
      pid: 1,
      version: 'x',
    },
  ];
  let t = T0 + 5000; // five seconds of start-up before the first step
  for (let step = 1; step <= steps; step++) {
    t += ms(step);
    events.push({
      type: 'step',
      t,
      step,
      epoch: step / 10,
      loss: 1,
      lr: 0.01,
      penalty: null,
      gradNorm: 1,
      examplesPerSec: eps,
    });
  }
  return buildSeries('r', events as never);
}

test('progress: rate over the last minute (start-up excluded), time left at that rate', () => {
  // 10 steps/s: 300 of 1000 steps done, 700 left → 70 s.
  const p = runProgress(run(300, 1000, () => 100));
  assert.ok(Math.abs(p.stepsPerSec! - 10) < 1e-9, String(p.stepsPerSec));
  assert.ok(Math.abs(p.etaSeconds! - 70) < 1e-6, String(p.etaSeconds));
  assert.equal(p.examplesPerSec, 1280);
  assert.equal(progressText(p), 'ETA 1m10s · 10 steps/s · 1.28k ex/s');
});

test('progress: a slow phase long ago does not dominate; a recent slowdown does', () => {
  // 2000 steps at 50 ms (100 s), then 200 steps at 500 ms (100 s): the window is the last quarter-or-minute
  // (≥ 60 s, here the last 100 s of 205 s … 51 s, so 60 s): all of it in the slow phase → 2 steps/s.
  const p = runProgress(run(2200, 3000, (s) => (s <= 2000 ? 50 : 500)));
  assert.ok(Math.abs(p.stepsPerSec! - 2) < 0.05, String(p.stepsPerSec));
  assert.ok(Math.abs(p.etaSeconds! - 400) < 10, String(p.etaSeconds));
});

test('progress: nothing is guessed without a rate or a total; a finished run has no ETA', () => {
  assert.equal(runProgress(run(1, 100, () => 100)).stepsPerSec, null);
  assert.equal(runProgress(run(1, 100, () => 100)).etaSeconds, null);
  // Two steps 0.5 s apart: too short a span to call it a rate.
  assert.equal(runProgress(run(2, 100, () => 500)).stepsPerSec, null);
  assert.equal(runProgress(run(100, 100, () => 100)).etaSeconds, null);
  assert.equal(
    runProgress(
      run(50, 100, () => 100),
      0,
    ).etaSeconds,
    null,
  );
  assert.equal(
    progressText(
      runProgress(
        run(1, 100, () => 100),
        null,
      ),
    ).startsWith('ETA'),
    false,
  );
});
