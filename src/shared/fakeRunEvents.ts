/**
 * Synthetic run events for UI work and tests: the config, events (with a Fisher explosion) and summary of a run
 * that looks like the trainer's, so series, charts and exports can be developed and tested without training.
 * Pure (no fs): `src/runs/fakeRun.ts` writes them as a run folder.
 */
import { Rng } from './rng';
import os from 'node:os';
import { resolveConfig, type RunConfig } from './config';
import {
  ExplosionDetector,
  detectorOptionsFromConfig,
  detectorSummary,
  toDetectorEvent,
} from './detector';
import { EVENTS_SCHEMA_VERSION, type RunEvent, type RunState, type RunSummary } from './protocol';

export interface FakeRunOptions {
  runId: string;
  /** Total optimisation steps (default 600). */
  steps?: number;
  stepsPerEpoch?: number;
  /** A small-LR style Fisher explosion (default true) or a flat large-LR style curve. */
  explosion?: boolean;
  /** Label noise: fills the clean/noisy accuracy series (default false). */
  noise?: boolean;
  seed?: number;
  /** State written at the end (default `completed`). */
  finalState?: RunState;
  /** Start time, ms (default now). */
  t0?: number;
  /** Simulated ms per step (default 50). */
  msPerStep?: number;
}

/** The resolved config a fake run claims to have. */
export function fakeConfig(o: FakeRunOptions): RunConfig {
  return resolveConfig({
    name: o.runId.replace(/[^A-Za-z0-9._ +-]/g, '-').replace(/^[^A-Za-z0-9]+/, '') || 'fake',
    seed: o.seed ?? 0,
    dataset: {
      name: 'synthetic',
      trainSize: 128 * (o.stepsPerEpoch ?? 78),
      testSize: 2000,
      syntheticShape: [28, 28, 1], // the shape its header claims; SimpleCNN needs ≥ 12×12
    },
    model: { arch: 'simplecnn' },
    optimizer: { lr: o.explosion === false ? 0.05 : 0.005, momentum: 0.9, batchSize: 128 },
    schedule: { steps: o.steps ?? 600 },
    labelNoise: { fraction: o.noise ? 0.25 : 0 },
    fisher: { every: 10, probeSize: 128, lossThreshold: 1.0 },
    evalEvery: 50,
    backend: 'cpu',
  });
}

/** All events of a fake run, header first, final status last. */
export function fakeRunEvents(o: FakeRunOptions): RunEvent[] {
  const steps = o.steps ?? 600;
  const spe = o.stepsPerEpoch ?? 78;
  const explode = o.explosion !== false;
  const gen = new Rng(o.seed ?? 1, 'synthetic-run');
  const rand = () => gen.next();
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const t0 = o.t0 ?? Date.now();
  const dt = o.msPerStep ?? 50;
  const at = (step: number) => t0 + step * dt;
  const ep = (step: number) => step / spe;
  const ev: RunEvent[] = [
    {
      type: 'header',
      t: t0,
      schemaVersion: EVENTS_SCHEMA_VERSION,
      runId: o.runId,
      backend: 'fake',
      backendRejections: [],
      dataset: {
        name: 'synthetic',
        trainSize: 128 * spe,
        testSize: 2000,
        inputShape: [28, 28, 1],
        numClasses: 10,
        noisyCount: o.noise ? Math.round(0.25 * 128 * spe) : 0,
      },
      model: { arch: 'simplecnn', paramCount: 591274 },
      seed: o.seed ?? 0,
      stepsPerEpoch: spe,
      totalSteps: steps,
      host: os.hostname(),
      pid: process.pid,
      version: 'fake',
    },
    { type: 'status', t: t0, step: 0, state: 'running' },
  ];
  // Shapes: a short transient spike in the first steps, then (explosion) a rise to a peak at 30% of the run.
  const peakAt = Math.max(30, Math.round(steps * 0.3));
  const trueTrF = (s: number) => {
    const transient = 14 * Math.exp(-(((s - 6) / 4) ** 2));
    const base = explode
      ? 8 +
        44 * Math.exp(-(((s - peakAt) / (peakAt * 0.6)) ** 2)) +
        10 * (s > peakAt ? 1 : s / peakAt)
      : 9 + 3 * Math.tanh(s / 100);
    return base + transient;
  };
  const lossAt = (s: number) => 2.3 * Math.exp(-s / (explode ? 160 : 90)) + 0.08;
  // The detector events come from the one detector, fed as the recorder feeds it.
  const det = new ExplosionDetector(detectorOptionsFromConfig(fakeConfig(o)));
  for (let s = 1; s <= steps; s++) {
    const loss = Math.max(0.01, lossAt(s) * (1 + 0.12 * gauss()));
    if (s % 2 === 0 || s === 1 || s === steps) {
      ev.push({
        type: 'step',
        t: at(s),
        step: s,
        epoch: ep(s),
        loss,
        lr: explode ? 0.005 : 0.05,
        penalty: null,
        gradNorm: 1 + gauss() * 0.1,
        examplesPerSec: 2500 + 100 * gauss(),
      });
      for (const c of det.addLoss(s, loss)) ev.push(toDetectorEvent(c, at(s)));
    }
    if (s % 10 === 0 || s === 1) {
      const trF = trueTrF(s) * (1 + 0.08 * gauss());
      ev.push({
        type: 'fisher',
        t: at(s),
        step: s,
        epoch: ep(s),
        trF,
        trFStderr: trF * 0.07,
        probeSize: 128,
        trFB: trF * 0.08,
        ms: 30,
      });
      for (const c of det.addFisher(s, trF, trF * 0.07)) ev.push(toDetectorEvent(c, at(s)));
    }
    if (s % 50 === 0 || s === steps) {
      const acc = Math.min(0.995, 1 - lossAt(s) / 2.5);
      const clean = o.noise ? Math.min(0.99, acc + 0.02) : null;
      const noisy = o.noise
        ? Math.max(0, Math.min(0.95, (s / steps) ** 2 * (explode ? 0.8 : 0.4)))
        : null;
      ev.push({
        type: 'eval',
        t: at(s),
        step: s,
        epoch: ep(s),
        testLoss: lossAt(s) * 1.1,
        testAcc: acc - 0.01,
        trainLoss: lossAt(s),
        trainAcc: acc,
        cleanLoss: clean === null ? null : lossAt(s) * 0.9,
        cleanAcc: clean,
        noisyLoss: noisy === null ? null : 3 - 2 * noisy,
        noisyAcc: noisy,
      });
    }
  }
  ev.push({ type: 'status', t: at(steps), step: steps, state: o.finalState ?? 'completed' });
  return ev;
}

/** The summary matching {@link fakeRunEvents}. */
export function fakeSummary(o: FakeRunOptions, events: readonly RunEvent[]): RunSummary {
  const f = events.filter((e) => e.type === 'fisher');
  const evals = events.filter((e) => e.type === 'eval');
  const det = new ExplosionDetector(detectorOptionsFromConfig(fakeConfig(o)));
  for (const e of events) {
    if (e.type === 'fisher') det.addFisher(e.step, e.trF, e.trFStderr);
    else if (e.type === 'step' && typeof e.loss === 'number') det.addLoss(e.step, e.loss);
  }
  const last = evals[evals.length - 1];
  const steps = o.steps ?? 600;
  return {
    runId: o.runId,
    state: o.finalState ?? 'completed',
    steps,
    epochs: steps / (o.stepsPerEpoch ?? 78),
    wallSeconds: (steps * (o.msPerStep ?? 50)) / 1000,
    backend: 'fake',
    ...detectorSummary(det.state),
    lossThreshold: 1.0,
    finalTrF: f.length ? f[f.length - 1].trF : null,
    finalTrainLoss: last?.trainLoss ?? null,
    finalTestLoss: last?.testLoss ?? null,
    finalTestAcc: last?.testAcc ?? null,
    bestTestAcc: evals.length ? Math.max(...evals.map((e) => e.testAcc)) : null,
    finalTrainAcc: last?.trainAcc ?? null,
    finalCleanAcc: last?.cleanAcc ?? null,
    finalNoisyAcc: last?.noisyAcc ?? null,
  };
}
