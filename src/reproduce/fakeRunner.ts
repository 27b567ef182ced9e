/**
 * A fake runner for tests and report development: writes a plausible run directory (config, events, status,
 * summary) in milliseconds, with curves that follow a chosen "world" (by default one where every claim holds).
 * No tfjs. Not used by the CLI.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { RunEvent, RunSummary } from '../shared/protocol';
import type { Runner } from './orchestrate';
import type { RunSpec } from './plan';

/** How a fake run's headline numbers depend on its spec. */
export interface FakeWorld {
  /** Early Tr(F) peak height. */
  peak(spec: RunSpec): number;
  /** Final test accuracy in [0, 1]. */
  testAcc(spec: RunSpec): number;
  /** Final clean / noisy tracked-subset accuracy (noisy runs only). */
  clean(spec: RunSpec): number;
  noisy(spec: RunSpec): number;
  /** Final state; e.g. `diverged` for a too-large LR. */
  state(spec: RunSpec): 'completed' | 'diverged' | 'failed';
}

/** Small, deterministic per-seed jitter in [-1, 1]. */
const jitter = (seed: number, salt: number) => Math.sin(seed * 12.9898 + salt * 78.233) * 0.999;

/** A world in which the paper's claims hold: Tr(F) peak ∝ lr^-1/2, penalties cut it, accuracy grows with lr. */
export const PAPER_WORLD: FakeWorld = {
  peak: (s) =>
    20 *
    Math.sqrt(0.1 / s.lr) *
    (s.penalty === 'none' ? 1 : s.penalty === 'gpx' ? 0.8 : 0.35) *
    (1 + 0.03 * jitter(s.seed, 1)),
  testAcc: (s) => {
    if (s.id.startsWith('search-')) return 0.9 - 0.05 * Math.abs(Math.log10(s.lr / 0.1));
    return (
      0.9 +
      0.02 * Math.log10(s.lr / 0.01) +
      (s.penalty === 'none' ? 0 : 0.012) -
      0.05 * s.noise +
      0.001 * jitter(s.seed, s.lr * 1000)
    );
  },
  clean: (s) => (s.penalty === 'fisher' ? 0.95 : 0.99),
  noisy: (s) => (s.penalty === 'fisher' ? 0.1 : 0.9),
  state: (s) => (s.lr >= 0.4 ? 'diverged' : 'completed'),
};

/** The events, status and summary of a fake run, written like the trainer writes them. */
export function writeFakeRun(
  runsRoot: string,
  spec: RunSpec,
  world: FakeWorld = PAPER_WORLD,
  opts: { finish?: boolean } = {},
): string {
  const dir = path.join(runsRoot, spec.id);
  fs.mkdirSync(dir, { recursive: true });
  if (fs.readdirSync(dir).length)
    throw new Error(`${dir}: a run already exists here; refusing to overwrite`);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(spec.config, null, 2));
  const cfg = spec.config;
  const t = Date.now();
  const events: RunEvent[] = [];
  const state = world.state(spec);
  events.push({
    type: 'header',
    t,
    schemaVersion: 1,
    runId: spec.id,
    backend: 'fake',
    backendRejections: [],
    dataset: {
      name: cfg.dataset.name,
      trainSize: cfg.dataset.trainSize,
      testSize: cfg.dataset.testSize,
      inputShape: [8, 8, 1],
      numClasses: 10,
      noisyCount: Math.round(spec.noise * cfg.dataset.trainSize),
    },
    model: { arch: cfg.model.arch, paramCount: 1000 },
    seed: spec.seed,
    stepsPerEpoch: 10,
    totalSteps: spec.steps,
    host: 'fake',
    pid: 0,
    version: '0.0.0',
  });
  const peak = world.peak(spec);
  const peakAt = Math.max(40, Math.round(spec.steps * 0.15));
  const trF = (step: number) => {
    const early = step < 10 ? 2 * peak : 0; // start-up transient, excluded by the warm-up
    return (
      early +
      peak *
        (0.3 + 0.7 * Math.exp(-(((step - peakAt) / (0.5 * peakAt)) ** 2))) *
        (1 + 0.02 * jitter(step, spec.seed))
    );
  };
  const stop = state === 'diverged' ? Math.round(spec.steps / 3) : spec.steps;
  const acc = world.testAcc(spec);
  const noisy = spec.noise > 0;
  for (let step = 0; step <= stop; step += cfg.fisher.every) {
    events.push({
      type: 'fisher',
      t,
      step,
      epoch: step / 10,
      trF: trF(step),
      trFStderr: 0.1 * trF(step),
      probeSize: cfg.fisher.probeSize,
      trFB: 0.1 * trF(step),
      ms: 1,
    });
    events.push({
      type: 'step',
      t,
      step: step + 1,
      epoch: (step + 1) / 10,
      loss: 2.3 * Math.exp(-step / 50),
      lr: spec.lr,
      penalty: null,
      gradNorm: 1,
      examplesPerSec: 1000,
    });
  }
  for (let step = cfg.evalEvery; step <= stop; step += cfg.evalEvery) {
    const f = Math.min(1, step / spec.steps);
    events.push({
      type: 'eval',
      t,
      step,
      epoch: step / 10,
      testLoss: 0.3,
      testAcc: acc * (0.9 + 0.1 * f),
      trainLoss: 0.2,
      trainAcc: 0.95 * f,
      cleanLoss: noisy ? 0.1 : null,
      cleanAcc: noisy ? world.clean(spec) * Math.sqrt(f) : null,
      noisyLoss: noisy ? 1 : null,
      noisyAcc: noisy ? world.noisy(spec) * f * f : null,
    });
  }
  if (opts.finish === false) {
    fs.writeFileSync(
      path.join(dir, 'events.jsonl'),
      events.map((e) => JSON.stringify(e)).join('\n') + '\n{"type":"fisher","t":1,"st',
    );
    fs.writeFileSync(
      path.join(dir, 'status.json'),
      JSON.stringify({
        runId: spec.id,
        state: 'running',
        step: Math.round(stop / 2),
        totalSteps: spec.steps,
        pid: 2 ** 22 + 12345,
        host: 'fake-host',
      }),
    );
    return dir;
  }
  const final = state === 'completed';
  const summary: RunSummary = {
    runId: spec.id,
    state,
    steps: stop,
    epochs: stop / 10,
    wallSeconds: 1,
    backend: 'fake',
    peakTrF: peak,
    peakTrFRaw: peak,
    peakStep: peakAt,
    peakConfirmed: true,
    maxTrF: 2 * peak,
    maxTrFStep: peakAt,
    trFi: final ? 0.8 * peak : null,
    trFiStep: final ? 30 : null,
    lossThreshold: cfg.fisher.lossThreshold,
    finalTrF: trF(stop),
    finalTrainLoss: final ? 0.05 : null,
    finalTestLoss: 0.3,
    finalTestAcc: final ? acc : null,
    bestTestAcc: final ? acc : null,
    finalTrainAcc: 0.95,
    finalCleanAcc: final && noisy ? world.clean(spec) : null,
    finalNoisyAcc: final && noisy ? world.noisy(spec) : null,
    error: state === 'diverged' ? 'loss became NaN' : null,
  };
  events.push({ type: 'status', t, step: stop, state });
  fs.writeFileSync(
    path.join(dir, 'events.jsonl'),
    events.map((e) => JSON.stringify(e)).join('\n') + '\n',
  );
  fs.writeFileSync(
    path.join(dir, 'status.json'),
    JSON.stringify({
      runId: spec.id,
      state,
      step: stop,
      totalSteps: spec.steps,
      pid: null,
      host: 'fake-host',
    }),
  );
  fs.writeFileSync(path.join(dir, 'summary.json'), JSON.stringify(summary, null, 2));
  return dir;
}

/** A {@link Runner} that writes fake runs; `calls` records the ids it trained, in order. */
export function fakeRunner(world: FakeWorld = PAPER_WORLD): Runner & { calls: string[] } {
  const calls: string[] = [];
  const run = (async (spec, ctx) => {
    calls.push(spec.id);
    writeFakeRun(ctx.runsRoot, spec, world);
    ctx.onStep(spec.steps);
    return { state: world.state(spec), error: null };
  }) as Runner & { calls: string[] };
  run.calls = calls;
  return run;
}
