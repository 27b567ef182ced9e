/**
 * Set-up of a tfjs training run: the data (with label noise), the fixed probe set for Tr(F), the tracked
 * training subsets (clean, noisy, and a plain random one), the model. Everything seeded from the config, in a
 * fixed order (the probe draws before the tracked subset), so a config and seed give the same run every time.
 */
import { ConfigError, stepsPerEpoch, totalSteps, type RunConfig } from '../../shared/config';
import { Rng } from '../../shared/rng';
import type { LogEvent } from '../../shared/protocol';
import { createModel, type Model } from '../../core';
import { applyLabelNoise, trackedSubsets, type Dataset } from '../data';
import { tfjs, type BackendChoice } from '../backend';
import type { HeaderFields } from '../../runs/writer';
import { VERSION } from '../version';

/** Examples as flat NHWC float32 rows `x` [n·h·w·c] and their labels `y` [n]. */
export interface ExampleSet {
  x: Float32Array;
  y: Int32Array;
  n: number;
}

/** Rows `idx` of `data` (each `dim` floats long), copied. */
export function gather(
  data: { x: Float32Array; y: Int32Array },
  idx: ArrayLike<number>,
  dim: number,
): ExampleSet {
  const n = idx.length;
  const x = new Float32Array(n * dim);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const j = idx[i];
    x.set(data.x.subarray(j * dim, (j + 1) * dim), i * dim);
    y[i] = data.y[j];
  }
  return { x, y, n };
}

export interface TrainingSetup {
  data: Dataset;
  /** Input shape [h, w, c] and its size h·w·c. */
  shape: [number, number, number];
  dim: number;
  numClasses: number;
  /** Training set with the (possibly noisy) labels the run trains on. */
  train: ExampleSet;
  test: ExampleSet;
  /** The fixed, seeded probe set of Tr(F), and its indices into `train`. */
  probe: ExampleSet;
  probeIdx: Int32Array;
  /** Tracked subsets: clean and noisy training examples (null without label noise), and a plain random one. */
  cleanSet: ExampleSet | null;
  noisySet: ExampleSet | null;
  trainTrack: ExampleSet;
  noisyCount: number;
  model: Model;
}

/** The parts of a run from its loaded data (the backend must be selected: the model is built here). */
export function arrange(cfg: RunConfig, data: Dataset): TrainingSetup {
  const [h, w, c] = data.inputShape;
  const dim = h * w * c;
  const K = data.numClasses;
  const noise = applyLabelNoise(data.train.y, K, cfg.labelNoise);
  const train = { x: data.train.x, y: noise.y, n: data.train.n };
  const tracked = trackedSubsets(
    noise.noisyMask,
    cfg.labelNoise.trackSize,
    cfg.labelNoise.seed + 1,
  );
  const rng = new Rng(cfg.seed, 'probe-and-tracking');
  const probeIdx = rng.sample(cfg.fisher.probeSize, train.n);
  const probe = gather(train, probeIdx, dim);
  const cleanSet = noise.noisyCount > 0 ? gather(train, tracked.clean, dim) : null;
  const noisySet =
    noise.noisyCount > 0 && tracked.noisy.length ? gather(train, tracked.noisy, dim) : null;
  // Training loss/accuracy on a plain random subset (its clean/noisy mix is the training set's); the clean and
  // noisy subsets above are tracked separately, each of `trackSize` examples.
  const trainTrack = gather(
    train,
    rng.sample(Math.min(train.n, cfg.labelNoise.trackSize), train.n),
    dim,
  );
  const test = { x: data.test.x, y: data.test.y, n: data.test.n };
  let model: Model;
  try {
    model = createModel(cfg.model, data.inputShape, K, cfg.seed);
  } catch (e) {
    // e.g. an architecture that does not fit the input size: an input error, reported before anything is written
    throw new ConfigError([
      `model: ${(e as Error).message} (dataset ${data.name} is ${h}×${w}×${c})`,
    ]);
  }
  return {
    data,
    shape: [h, w, c],
    dim,
    numClasses: K,
    train,
    test,
    probe,
    probeIdx,
    cleanSet,
    noisySet,
    trainTrack,
    noisyCount: noise.noisyCount,
    model,
  };
}

/** The header's facts about a set-up run. */
export function headerFacts(cfg: RunConfig, s: TrainingSetup, choice: BackendChoice): HeaderFields {
  return {
    // The probe set, so Tr(F) can be recomputed from the run folder (README "Recomputing Tr(F)").
    probe: { split: 'train' as const, indices: Array.from(s.probeIdx) },
    backend: choice.backend,
    backendRejections: choice.rejections,
    dataset: {
      name: s.data.name,
      trainSize: s.train.n,
      testSize: s.test.n,
      inputShape: s.data.inputShape,
      numClasses: s.numClasses,
      noisyCount: s.noisyCount,
    },
    model: { arch: cfg.model.arch, paramCount: s.model.paramCount },
    seed: cfg.seed,
    stepsPerEpoch: stepsPerEpoch(cfg),
    totalSteps: totalSteps(cfg),
    version: VERSION,
    engine: {
      name: 'tfjs',
      device: choice.backend,
      versions: { engine: VERSION, tfjs: tfjs().version_core },
    },
  };
}

/** Notes about the data worth a line in the log: the classes of an IDX dataset, inferred from its labels. */
export function dataNotes(cfg: RunConfig, s: TrainingSetup): LogEvent[] {
  if (cfg.dataset.name !== 'idx') return [];
  const { data } = s;
  const K = s.numClasses;
  let maxLabel = 0;
  for (const ys of [data.train.y, data.test.y])
    for (let i = 0; i < ys.length; i++) if (ys[i] > maxLabel) maxLabel = ys[i];
  const seen = new Set(data.train.y);
  const missing = Array.from({ length: K }, (_, k) => k).filter((k) => !seen.has(k));
  return [
    {
      type: 'log',
      t: Date.now(),
      level: 'info',
      message:
        `dataset idx: ${K} classes inferred from the labels (labels 0..${K - 1}; the largest label in the loaded examples is ${maxLabel})` +
        (missing.length
          ? `; ${missing.length} of them have no training example: ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ', …' : ''}`
          : ''),
    },
  ];
}
