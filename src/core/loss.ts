// Cross-entropy written out by hand so that it is differentiable twice. tfjs's own
// (tf.losses.softmaxCrossEntropy, tf.logSoftmax) are customGrad ops whose gradients drop the
// second-order terms silently; tf.softmax's gradient reuses its saved output, which an outer
// gradient cannot see.
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../shared/rng';

/** Class labels: one int per example (Int32Array or an int32 tf.Tensor1D). */
export type Labels = Int32Array | tf.Tensor1D;

/**
 * Row max of z with a zero gradient. The log-sum-exp below is exactly invariant to the shift, so
 * its true gradient w.r.t. m is zero; detaching it avoids Max's gradient (an Equal mask) on every
 * pass. customGrad's forward runs with the tape off, so m is a constant to any outer gradient too.
 */
const detachedRowMax = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const z = args[0] as tf.Tensor2D;
  const shape = z.shape;
  return { value: tf.max(z, 1, true) as tf.Tensor2D, gradFunc: () => tf.zeros(shape) };
}) as (z: tf.Tensor2D) => tf.Tensor2D;

/**
 * Per-example cross-entropy ℓ_i = −Σ_k y_ik (z_ik − lse_i), lse_i = m_i + log Σ_k exp(z_ik − m_i).
 * @param logits z [B, K]
 * @param y targets [B, K] (one-hot or any distribution; rows are assumed to sum to 1)
 * @returns ℓ [B]
 */
export function crossEntropyPerExample(logits: tf.Tensor2D, y: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const m = detachedRowMax(logits);
    const lse = tf.add(m, tf.log(tf.sum(tf.exp(tf.sub(logits, m)), 1, true))); // [B,1]
    return tf.neg(tf.sum(tf.mul(y, tf.sub(logits, lse)), 1)) as tf.Tensor1D;
  });
}

/** Mean cross-entropy over the batch (scalar). Shapes as `crossEntropyPerExample`. */
export function crossEntropy(logits: tf.Tensor2D, y: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => tf.mean(crossEntropyPerExample(logits, y)));
}

/**
 * Summed cross-entropy Σ_i ℓ_i (scalar): its gradient w.r.t. per-example quantities is per-example.
 */
export function crossEntropySum(logits: tf.Tensor2D, y: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => tf.sum(crossEntropyPerExample(logits, y)));
}

/** One-hot float32 targets [B, K] from class labels. */
export function oneHot(labels: Labels, numClasses: number): tf.Tensor2D {
  return tf.tidy(() => {
    const t = labels instanceof tf.Tensor ? labels : tf.tensor1d(labels, 'int32');
    return tf.cast(tf.oneHot(tf.cast(t, 'int32'), numClasses), 'float32') as tf.Tensor2D;
  });
}

/** Labels as an Int32Array (reads a tensor back, asynchronously: every backend can). */
export async function labelsToArray(labels: Labels): Promise<Int32Array> {
  return labels instanceof tf.Tensor ? Int32Array.from(await labels.data()) : labels;
}

/**
 * Softmax probabilities of each row, in float64 on the host: logits [B, K] → p, row-major [B·K].
 * A tensor is read synchronously: on a backend without synchronous reads (webgpu) pass its values, or a tensor
 * already read with `await t.data()` (the values are then cached on the host).
 */
export function softmaxRows(logits: tf.Tensor2D | Float32Array, numClasses?: number): Float64Array {
  const z = logits instanceof tf.Tensor ? logits.dataSync() : logits;
  const K = logits instanceof tf.Tensor ? logits.shape[1] : numClasses!;
  const p = new Float64Array(z.length);
  for (let i = 0; i < z.length; i += K) {
    let m = -Infinity;
    for (let k = 0; k < K; k++) m = Math.max(m, z[i + k]);
    let s = 0;
    for (let k = 0; k < K; k++) s += p[i + k] = Math.exp(z[i + k] - m);
    for (let k = 0; k < K; k++) p[i + k] /= s;
  }
  return p;
}

/**
 * Samples ŷ_i ~ softmax(z_i) for each row (the model's own predictive distribution — what the true
 * Fisher needs). Deterministic for a seed: probabilities in float64 and our own generator, one
 * uniform per example in order.
 * @param logits z [B, K] (a tensor, or its row-major values with `numClasses`)
 */
export function sampleLabels(
  logits: tf.Tensor2D | Float32Array,
  seed: number,
  numClasses?: number,
): Int32Array {
  const K = logits instanceof tf.Tensor ? logits.shape[1] : numClasses!;
  const p = softmaxRows(logits, K);
  const B = p.length / K;
  const rng = new Rng(seed);
  const out = new Int32Array(B);
  for (let i = 0; i < B; i++) {
    const u = rng.next();
    let c = 0;
    let k = 0;
    for (; k < K - 1; k++) {
      c += p[i * K + k];
      if (u < c) break;
    }
    out[i] = k;
  }
  return out;
}

/** n labels uniform over {0..K−1} (GPr's random labels), deterministic for a seed. */
export function uniformLabels(n: number, numClasses: number, seed: number): Int32Array {
  const rng = new Rng(seed);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.int(numClasses);
  return out;
}
