// Trace of the Fisher information matrix.
//   Tr(F)   = E_x E_{ŷ~p_θ(·|x)} ||∇θ ℓ(x, ŷ)||²  — the TRUE Fisher: labels sampled from the model;
//   Tr(F_B) = ||(1/B) Σ_i ∇θ ℓ(x_i, ŷ_i)||²      — the mini-batch quantity the Fisher penalty uses.
import * as tf from '@tensorflow/tfjs';
import { withTapeGuard } from './backend';
import {
  crossEntropy,
  labelsToArray,
  oneHot,
  sampleLabels,
  softmaxRows,
  type Labels,
} from './loss';
import { type Model } from './models';
import { perExampleSqNorms } from './perExample';
import { deriveSeed } from '../shared/rng';

export interface FisherTraceOptions {
  /** Seed for the sampled labels (labels: 'sampled'); the same seed and model give the same ŷ. */
  seed?: number;
  /**
   * 'sampled' (default): one ŷ_i ~ p_θ(·|x_i) per example — the paper's estimator.
   * 'exact': the expectation over ŷ computed exactly, Σ_k p_ik ||∇ℓ(x_i, k)||² (K backward passes).
   * 'given': the labels in `labels` (empirical-Fisher-style norms, for the `trace` CLI).
   */
  mode?: 'sampled' | 'exact' | 'given';
  /** Labels [N] for mode 'given'. */
  labels?: Labels;
  /**
   * Examples per backward pass (default 128); the result does not depend on it except for sampling
   * order.
   */
  batchSize?: number;
}

export interface FisherTraceResult {
  /** Mean over the examples of n_i (an unbiased estimate of Tr(F) over their distribution). */
  trace: number;
  /** Standard error of that mean, sd(n_i)/√N (sampling of x and, for 'sampled', of ŷ). */
  stderr: number;
  /** n_i per example, [N]: ||∇ℓ(x_i, ŷ_i)||², or its expectation over ŷ for 'exact'. */
  perExample: Float32Array;
  /** Labels used ('sampled' / 'given'), [N]. */
  labels?: Int32Array;
}

/**
 * Tr(F) from exact per-example gradients over the examples x [N, h, w, c] (one batched backward
 * pass per `batchSize` chunk). Labels are sampled inside the same forward pass, so sampling costs
 * no extra pass.
 */
export async function fisherTrace(
  model: Model,
  x: tf.Tensor4D,
  opts: FisherTraceOptions = {},
): Promise<FisherTraceResult> {
  const mode = opts.mode ?? 'sampled';
  const N = x.shape[0];
  const bs = Math.max(1, opts.batchSize ?? 128);
  const seed = opts.seed ?? 0;
  if (mode === 'given' && !opts.labels) throw new Error("fisherTrace: mode 'given' needs labels");
  const given = mode === 'given' ? await labelsToArray(opts.labels!) : null;
  if (given && given.length !== N)
    throw new Error(`fisherTrace: ${given.length} labels for ${N} examples`);
  const perExample = new Float32Array(N);
  const labels = mode === 'exact' ? undefined : new Int32Array(N);

  for (let s = 0; s < N; s += bs) {
    const n = Math.min(bs, N - s);
    const xb = n === N ? x : (tf.slice(x, [s, 0, 0, 0], [n, -1, -1, -1]) as tf.Tensor4D);
    try {
      if (mode === 'exact') {
        perExample.set(await expectedSqNorms(model, xb), s);
      } else {
        // A chunk's stream depends only on (seed, chunk start): reproducible for any N.
        const src = given
          ? given.subarray(s, s + n)
          : (z: tf.Tensor2D) => sampleLabels(z, deriveSeed(seed, s));
        const r = await perExampleSqNorms(model, xb, src);
        perExample.set(r.norms, s);
        labels!.set(r.labels, s);
      }
    } finally {
      if (xb !== x) xb.dispose();
    }
  }
  const { mean, stderr } = meanAndStderr(perExample);
  return { trace: mean, stderr, perExample, labels };
}

/** E_ŷ ||∇ℓ(x_i, ŷ)||² = Σ_k p_ik n_i(k) for x [B,h,w,c] → [B]; K backward passes. */
async function expectedSqNorms(model: Model, x: tf.Tensor4D): Promise<Float64Array> {
  const B = x.shape[0];
  const K = model.numClasses;
  const logits = tf.tidy(() => model.forward(x));
  const z = await logits.data();
  logits.dispose();
  const p = softmaxRows(z as Float32Array, K);
  const out = new Float64Array(B);
  for (let k = 0; k < K; k++) {
    const { norms } = await perExampleSqNorms(model, x, new Int32Array(B).fill(k));
    for (let i = 0; i < B; i++) out[i] += p[i * K + k] * norms[i];
  }
  return out;
}

/**
 * Tr(F_B) = ||(1/B) Σ_i ∇θ ℓ(x_i, ŷ_i)||² = ||∇θ of the mean loss||² for x [B,h,w,c] and labels ŷ
 * [B] (sample them with `sampleLabels` for the Fisher penalty's quantity; true labels give GP's).
 */
export async function batchFisherTrace(
  model: Model,
  x: tf.Tensor4D,
  yhat: Labels,
): Promise<number> {
  const s = withTapeGuard(() =>
    tf.tidy(() => {
      const y = oneHot(yhat, model.numClasses);
      const g = tf.grads((...p: tf.Tensor[]) => crossEntropy(model.apply(p, x), y))(model.params);
      return tf.addN(g.map((t) => tf.sum(tf.square(t))));
    }),
  );
  try {
    return (await s.data())[0];
  } finally {
    s.dispose();
  }
}

/** Mean and standard error (sample sd / √N) in float64. */
export function meanAndStderr(v: ArrayLike<number>): { mean: number; stderr: number } {
  const N = v.length;
  if (N === 0) return { mean: NaN, stderr: NaN };
  let m = 0;
  for (let i = 0; i < N; i++) m += v[i];
  m /= N;
  let ss = 0;
  for (let i = 0; i < N; i++) ss += (v[i] - m) ** 2;
  return { mean: m, stderr: N > 1 ? Math.sqrt(ss / (N - 1) / N) : NaN };
}
