/**
 * The training loop of one run: SGD with momentum on a function-style tfjs model, instrumented with exact Tr(F)
 * on a fixed probe set, an optional gradient-norm penalty (FP, GP, GPr, GPx) recomputed every k steps, test and
 * clean/noisy evaluation, and the online explosion detector. Everything it measures goes to the run directory.
 *
 * End states: `diverged` by the rule in ./divergence (non-finite loss or gradient, or a sustained / runaway
 * training loss); `failed` on any error, a write error included (the message names the file and the cause);
 * `stopped` on a STOP file, an abort, or SIGINT/SIGTERM/SIGHUP (after the current step; a second signal ends
 * at once, writing `stopped` synchronously, exit 130). tfjs compute is synchronous, so the loop yields to the
 * event loop after every step and between evaluation chunks: that is when signals, the STOP check and the
 * writer's heartbeat timer get to run.
 */
import os from 'node:os';
import type * as tfTypes from '@tensorflow/tfjs';
import { ConfigError, stepsPerEpoch as stepsPerEpochOf, totalSteps as totalStepsOf, type RunConfig } from '../shared/config';
import { EVENTS_SCHEMA_VERSION, type HeaderEvent, type RunEvent, type RunState, type RunSummary } from '../shared/protocol';
import { ExplosionDetector, detectorOptionsFromConfig, toDetectorEvent } from '../shared/detector';
import { Rng, deriveSeed } from '../shared/rng';
import { RunWriter, RunWriteError, type RunWriterOptions } from '../runs/writer';
import { detectorSummary } from '../runs/summary';
import { makeRunId } from '../runs/runId';
import { loadDataset, applyLabelNoise, trackedSubsets, BatchIterator, type Dataset } from './data';
import { selectBackend, tfjs } from './backend';
import { learningRate } from './schedule';
import { VERSION } from './version';
import { DivergenceMonitor } from './divergence';
import { installPatches, createModel, crossEntropy, oneHot, fisherTrace, batchFisherTrace, penaltyGradients, lossAndGradients, saveParams, type Model } from '../core';

export interface TrainOptions {
  config: RunConfig;
  runsRoot: string;
  runId?: string;
  /** Folder the config file lives in: relative dataset paths resolve against it. */
  configDir?: string;
  /** Base of the run id when the config has no name. */
  configName?: string;
  onEvent?: (e: RunEvent) => void;
  /** Install SIGINT/SIGTERM handlers that stop the run after the current step (CLI). */
  handleSignals?: boolean;
  /** Aborting stops the run after the current step (programmatic use, tests). */
  signal?: AbortSignal;
  /** Test hook: called after every step with the step index (e.g. to count tensors). */
  afterStep?: (step: number) => void;
  /** Options of the run writer (tests: heartbeat, throttling). */
  writerOptions?: RunWriterOptions;
}

/** One readable line of an error for status.json, summary.json and the CLI (the stack goes to the log only). */
function oneLine(e: unknown): string {
  const m = String((e as Error)?.message ?? e).split('\n').find((l) => l.trim()) ?? String(e);
  return m.length > 500 ? `${m.slice(0, 499)}…` : m;
}

const yieldToEventLoop = () => new Promise<void>((r) => setImmediate(r));

/** Error in the data a config points at (missing folder, bad IDX file): an input error, nothing is written. */
export { DataError } from './data';


interface EvalSet {
  x: Float32Array;
  y: Int32Array;
  n: number;
}

function gather(data: { x: Float32Array; y: Int32Array }, idx: ArrayLike<number>, dim: number): EvalSet {
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

/** Train one run to the end (or until stopped) and return its summary. Input errors throw before anything is written. */
export async function train(opts: TrainOptions): Promise<RunSummary> {
  const cfg = opts.config;
  const started = Date.now();
  const data: Dataset = loadDataset(cfg.dataset, { seed: cfg.seed, baseDir: opts.configDir ?? process.cwd() });
  const choice = await selectBackend(cfg.backend);
  const tf = tfjs();
  installPatches(choice.engineName);

  const [h, w, c] = data.inputShape;
  const dim = h * w * c;
  const K = data.numClasses;
  const noise = applyLabelNoise(data.train.y, K, cfg.labelNoise);
  const trainY = noise.y;
  const train = { x: data.train.x, y: trainY, n: data.train.n };
  const tracked = trackedSubsets(noise.noisyMask, cfg.labelNoise.trackSize, cfg.labelNoise.seed + 1);
  const rng = new Rng(cfg.seed, 'probe-and-tracking');
  const probeIdx = rng.sample(cfg.fisher.probeSize, train.n);
  const probe = gather(train, probeIdx, dim);
  const cleanSet = noise.noisyCount > 0 ? gather(train, tracked.clean, dim) : null;
  const noisySet = noise.noisyCount > 0 && tracked.noisy.length ? gather(train, tracked.noisy, dim) : null;
  // Training loss/accuracy on a plain random subset (its clean/noisy mix is the training set's); the clean and
  // noisy subsets above are tracked separately, each of `trackSize` examples.
  const trainTrackIdx = rng.sample(Math.min(train.n, cfg.labelNoise.trackSize), train.n);
  const trainTrack = gather(train, trainTrackIdx, dim);
  const test = { x: data.test.x, y: data.test.y, n: data.test.n };

  const spe = stepsPerEpochOf(cfg);
  const total = totalStepsOf(cfg);
  const B = cfg.optimizer.batchSize;
  let model: Model;
  try {
    model = createModel(cfg.model, data.inputShape, K, cfg.seed);
  } catch (e) {
    // e.g. an architecture that does not fit the input size: an input error, reported before anything is written
    throw new ConfigError([`model: ${(e as Error).message} (dataset ${data.name} is ${h}×${w}×${c})`]);
  }

  const runId = opts.runId ?? makeRunId(cfg.name ?? opts.configName ?? 'run', new Date(), opts.runsRoot);
  const header = {
    // The probe set, so Tr(F) can be recomputed from the run folder (README "Recomputing Tr(F)").
    probe: { split: 'train' as const, indices: Array.from(probeIdx) },
    backend: choice.backend,
    backendRejections: choice.rejections,
    dataset: { name: data.name, trainSize: train.n, testSize: test.n, inputShape: data.inputShape, numClasses: K, noisyCount: noise.noisyCount },
    model: { arch: cfg.model.arch, paramCount: model.paramCount },
    seed: cfg.seed,
    stepsPerEpoch: spe,
    totalSteps: total,
    version: VERSION,
  };
  const writer = RunWriter.create(opts.runsRoot, runId, cfg, header, opts.writerOptions);
  const emit = (e: RunEvent) => {
    writer.append(e as Exclude<RunEvent, HeaderEvent>);
    opts.onEvent?.(e);
  };
  /** For events after a failure (the disk may be the failure): never throws. */
  const emitSafe = (e: RunEvent) => {
    try {
      emit(e);
    } catch {
      /* the run ends failed with the first write error */
    }
  };
  const t0Run = Date.now();
  opts.onEvent?.({ type: 'header', t: t0Run, schemaVersion: EVENTS_SCHEMA_VERSION, runId, host: os.hostname(), pid: process.pid, ...header });
  opts.onEvent?.({ type: 'status', t: t0Run, step: 0, state: 'running' });
  if (cfg.dataset.name === 'idx') {
    let maxLabel = 0;
    for (const ys of [data.train.y, data.test.y]) for (let i = 0; i < ys.length; i++) if (ys[i] > maxLabel) maxLabel = ys[i];
    const seen = new Set(data.train.y);
    const missing = Array.from({ length: K }, (_, k) => k).filter((k) => !seen.has(k));
    emitSafe({
      type: 'log',
      t: Date.now(),
      level: 'info',
      message:
        `dataset idx: ${K} classes inferred from the labels (labels 0..${K - 1}; the largest label in the loaded examples is ${maxLabel})` +
        (missing.length ? `; ${missing.length} of them have no training example: ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ', …' : ''}` : ''),
    });
  }

  const detector = new ExplosionDetector(detectorOptionsFromConfig(cfg));
  const divergence = new DivergenceMonitor({ numClasses: K });
  let stopReason: string | null = null;
  const requestStop = (why: string) => {
    stopReason ??= why;
  };
  const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  let finished = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (!stopReason || finished) {
      requestStop(`received ${sig}`);
      return;
    }
    // Second signal: do not wait for the current phase (final evaluation, checkpoint); record `stopped` with
    // what the run has measured so far, synchronously, and exit.
    finished = true;
    const message = `stopped: ${stopReason}, then ${sig} (ended at once)`;
    opts.onEvent?.({ type: 'status', t: Date.now(), step, state: 'stopped', message });
    writer.finish('stopped', summaryNow('stopped', null), message);
    process.exit(130);
  };
  if (opts.handleSignals) for (const s of SIGNALS) process.on(s, onSignal);
  const onAbort = () => requestStop('aborted');
  opts.signal?.addEventListener('abort', onAbort);

  const toX = (s: EvalSet) => tf.tensor4d(s.x, [s.n, h, w, c]);

  /** Mean loss and accuracy of `s` w.r.t. its labels, in chunks (yielding between them). */
  const evaluate = async (s: EvalSet): Promise<{ loss: number; acc: number }> => {
    let lossSum = 0;
    let correct = 0;
    const chunk = 512;
    for (let i = 0; i < s.n; i += chunk) {
      const m = Math.min(chunk, s.n - i);
      const part = { x: s.x.subarray(i * dim, (i + m) * dim), y: s.y.subarray(i, i + m), n: m };
      const r = tf.tidy(() => {
        const logits = model.forward(toX(part));
        const l = tf.mul(crossEntropy(logits, oneHot(part.y, K)), m);
        const hit = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), tf.tensor1d(part.y, 'int32')), 'float32'));
        return tf.stack([l, hit]);
      });
      const [l, hit] = r.dataSync();
      r.dispose();
      lossSum += l;
      correct += hit;
      if (i + chunk < s.n) await yieldToEventLoop();
    }
    return { loss: lossSum / s.n, acc: correct / s.n };
  };

  let lastEval: Awaited<ReturnType<typeof evalNow>> | null = null;
  let bestTestAcc: number | null = null;
  async function evalNow(step: number) {
    const te = await evaluate(test);
    const tr = await evaluate(trainTrack);
    const cl = cleanSet ? await evaluate(cleanSet) : null;
    const no = noisySet ? await evaluate(noisySet) : null;
    const e = {
      type: 'eval' as const,
      t: Date.now(),
      step,
      epoch: step / spe,
      testLoss: te.loss,
      testAcc: te.acc,
      trainLoss: tr.loss,
      trainAcc: tr.acc,
      cleanLoss: cl?.loss ?? null,
      cleanAcc: cl?.acc ?? null,
      noisyLoss: no?.loss ?? null,
      noisyAcc: no?.acc ?? null,
    };
    bestTestAcc = Math.max(bestTestAcc ?? 0, te.acc);
    emit(e);
    return e;
  }

  const probeX = toX(probe);
  let lastTrF: number | null = null;
  function measureFisher(step: number) {
    const t0 = performance.now();
    const labelSeed = deriveSeed(cfg.seed, 'fisher', step);
    const f = fisherTrace(model, probeX, { seed: labelSeed });
    // Tr(F_B) on the probe with the same sampled labels: ||mean gradient||² ≤ mean ||gradient||² = Tr(F).
    const trFB = batchFisherTrace(model, probeX, f.labels!);
    lastTrF = f.trace;
    emit({ type: 'fisher', t: Date.now(), step, epoch: step / spe, trF: f.trace, trFStderr: f.stderr, probeSize: probe.n, labelSeed, trFB, ms: performance.now() - t0 });
    for (const d of detector.addFisher(step, f.trace)) emit(toDetectorEvent(d));
  }

  // Optimiser state: momentum buffers, one per parameter.
  const velocity: tfTypes.Tensor[] = model.params.map((p) => tf.keep(tf.zerosLike(p)));
  let penaltyGrads: tfTypes.Tensor[] | null = null;
  let penaltyValue: number | null = null;
  let lastPenaltyStep = -Infinity;
  const batches = new BatchIterator(train.n, B, deriveSeed(cfg.seed, 'batches'));
  const tensorsAtStart = tf.memory().numTensors;

  let state: RunState = 'running';
  let error: string | null = null;
  let step = 0;
  let lastLoss: number | null = null;
  let emaRate = 0;
  function summaryNow(st: RunState, err: string | null): RunSummary {
    return {
      runId,
      state: st,
      steps: step,
      epochs: step / spe,
      wallSeconds: (Date.now() - started) / 1000,
      backend: choice.backend,
      ...detectorSummary(detector.state),
      lossThreshold: cfg.fisher.lossThreshold,
      finalTrF: lastTrF,
      finalTrainLoss: lastLoss,
      finalTestLoss: lastEval?.testLoss ?? null,
      finalTestAcc: lastEval?.testAcc ?? null,
      bestTestAcc,
      finalTrainAcc: lastEval?.trainAcc ?? null,
      finalCleanAcc: lastEval?.cleanAcc ?? null,
      finalNoisyAcc: lastEval?.noisyAcc ?? null,
      error: err,
    };
  }

  try {
    for (; step < total; step++) {
      if (stopReason || writer.stopRequested()) {
        requestStop(stopReason ?? 'STOP file');
        state = 'stopped';
        break;
      }
      if (step % cfg.fisher.every === 0) measureFisher(step);
      if (step % cfg.evalEvery === 0 && step > 0) lastEval = await evalNow(step);

      const t0 = performance.now();
      const lr = learningRate(cfg, step, total);
      const batch = gather(train, batches.next(), dim);
      const xb = toX(batch);
      const pen = cfg.penalty;
      const penaltyOn = pen.kind !== 'none' && pen.alpha > 0 && step / spe >= pen.startEpoch;
      if (penaltyOn && step - lastPenaltyStep >= pen.every) {
        const r = penaltyGradients(pen.kind as Exclude<typeof pen.kind, 'none'>, model, xb, batch.y, { seed: deriveSeed(cfg.seed, 'penalty', step), numClasses: K });
        penaltyGrads?.forEach((g) => g.dispose());
        penaltyGrads = r.grads.map((g) => tf.keep(tf.mul(g, pen.alpha)));
        r.grads.forEach((g) => g.dispose());
        penaltyValue = pen.alpha * r.value;
        lastPenaltyStep = step;
      }
      const { loss, grads } = lossAndGradients(model, xb, batch.y);
      const normT = tf.tidy(() => {
        let sq: tfTypes.Tensor = tf.scalar(0);
        model.params.forEach((p, i) => {
          let g: tfTypes.Tensor = grads[i];
          if (penaltyOn && penaltyGrads) g = tf.add(g, penaltyGrads[i]);
          if (cfg.optimizer.weightDecay > 0) g = tf.add(g, tf.mul(p, cfg.optimizer.weightDecay));
          sq = tf.add(sq, tf.sum(tf.square(g)));
          // PyTorch-style momentum: v ← μ·v + g; θ ← θ − η·v
          const v = tf.add(tf.mul(velocity[i], cfg.optimizer.momentum), g);
          velocity[i].dispose();
          velocity[i] = tf.keep(v);
          p.assign(tf.sub(p, tf.mul(v, lr)) as tfTypes.Tensor);
        });
        return tf.sqrt(sq);
      });
      const gradNorm = normT.dataSync()[0];
      normT.dispose();
      grads.forEach((g) => g.dispose());
      xb.dispose();
      const dt = (performance.now() - t0) / 1000;
      const rate = B / Math.max(dt, 1e-6);
      emaRate = emaRate ? 0.9 * emaRate + 0.1 * rate : rate;
      lastLoss = loss;
      emit({ type: 'step', t: Date.now(), step: step + 1, epoch: (step + 1) / spe, loss, lr, penalty: penaltyOn ? penaltyValue : null, gradNorm, examplesPerSec: emaRate });
      const verdict = divergence.add(step + 1, loss, gradNorm);
      if (verdict) {
        state = 'diverged';
        error = `${verdict.message} (learning rate ${lr})`;
        step++;
        break;
      }
      for (const d of detector.addLoss(step + 1, loss)) emit(toDetectorEvent(d));
      opts.afterStep?.(step + 1);
      // Yield to the event loop after every step (cheap next to a step): signals, the STOP file and the
      // writer's heartbeat timer are only noticed while the loop runs.
      await yieldToEventLoop();
    }
    if (state === 'running') state = 'completed';
    if (state !== 'diverged') {
      measureFisher(step);
      lastEval = await evalNow(step);
      if (cfg.checkpoint) await writer.writeCheckpoint((dir) => saveParams(model, dir));
    }
  } catch (e) {
    state = 'failed';
    error = oneLine(e);
    // The log keeps the stack (events.jsonl, level error); a failing disk gets no further line.
    if (!(e instanceof RunWriteError)) emitSafe({ type: 'log', t: Date.now(), level: 'error', message: (e as Error)?.stack ?? String(e) });
  } finally {
    if (opts.handleSignals) for (const s of SIGNALS) process.off(s, onSignal);
    opts.signal?.removeEventListener('abort', onAbort);
  }

  penaltyGrads?.forEach((g) => g.dispose());
  velocity.forEach((v) => v.dispose());
  probeX.dispose();
  const leaked = tf.memory().numTensors - tensorsAtStart + velocity.length + 1;
  if (leaked > 0) emitSafe({ type: 'log', t: Date.now(), level: 'warn', message: `${leaked} tensors were not released during training` });
  model.dispose();

  finished = true;
  if (writer.writeError && state !== 'failed') {
    state = 'failed';
    error = writer.writeError.message;
  }
  const message = state === 'stopped' ? `stopped: ${stopReason}` : (error ?? undefined);
  const out = writer.finish(state, summaryNow(state, error), message ?? null);
  // The writer may have turned the run into `failed` (a write error at the end): report what it recorded.
  opts.onEvent?.({ type: 'status', t: Date.now(), step, state: out.state, message: out.state === state ? message : (out.error ?? undefined) });
  return out;
}
