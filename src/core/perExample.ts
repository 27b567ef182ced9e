// Per-example squared gradient norms n_i = ||∇θ ℓ(x_i, y_i)||² for a whole batch in ONE backward
// pass.
//
// Zero "taps" are added to every layer's pre-activation z_l; the gradient of the *summed* loss
// w.r.t. the taps is δ_{l,i} = ∂ℓ_i/∂z_{l,i} for every example at once (examples do not interact:
// no batch-coupled layers). With the layer inputs a_{l,i} recorded on the way, a layer contributes
//   dense W [in,out]:       ||a_i||²·||δ_i||² + ||δ_i||² (bias)      (the gradient is rank one);
//   conv  K [kh,kw,C,Co]:   ||dK_i||² + ||Σ_hw δ_i||² (bias), dK_i = Σ_positions patch(a_i) ⊗ δ_i,
//                           all i at once by ONE depthwise conv (batch ↔ channel axes swapped).
// The naive alternative (one backward pass per example) is kept for tests and the benchmark.
import * as tf from '@tensorflow/tfjs';
import { hasSyncReads, withTapeGuard } from './backend';
import { crossEntropy, crossEntropySum, labelsToArray, oneHot, type Labels } from './loss';
import { releaseInputs, type Model, type Taps } from './models';

/**
 * Labels for the per-example pass: fixed labels, or a function that picks them from the logits of
 * the same forward pass (e.g. sampling ŷ from the model without a second forward pass).
 */
export type LabelSource = Labels | ((logits: tf.Tensor2D) => Int32Array);

/** Result of `perExampleSqNorms`. */
export interface PerExampleResult {
  /** n_i = ||∇θ ℓ(x_i, y_i)||², [B]. */
  norms: Float32Array;
  /** The labels that were used, [B]. */
  labels: Int32Array;
}

/**
 * Squared norms of the per-example gradients of the cross-entropy, all parameters together.
 * @param x inputs [B, h, w, c]
 * @param labels y [B], or a function of the logits [B, K] returning them (called once, inside
 *   the pass; on a backend without synchronous reads (webgpu) on the logits of a forward pass of
 *   their own, read back first — the same values, one more forward pass)
 */
export async function perExampleSqNorms(
  model: Model,
  x: tf.Tensor4D,
  labels: LabelSource,
): Promise<PerExampleResult> {
  const B = x.shape[0];
  if (typeof labels === 'function' && !hasSyncReads())
    labels = await labelsFromLogits(model, x, labels);
  const fixed = typeof labels === 'function' ? null : await labelsToArray(labels);
  let used: Int32Array | null = null;
  const taps: Taps = { inputs: [] };
  let out: tf.Tensor1D;
  try {
    out = withTapeGuard(() =>
      tf.tidy(() => {
        const add = model.tapShapes(B).map((s) => tf.zeros(s));
        const deltas = tf.grads((...t: tf.Tensor[]) => {
          const logits = model.forward(x, { add: t, inputs: taps.inputs });
          used = fixed ?? (labels as (z: tf.Tensor2D) => Int32Array)(logits);
          return crossEntropySum(logits, oneHot(used, model.numClasses));
        })(add);
        const terms = model.layers.map((L, l) => layerSqNorms(L.kind, taps.inputs![l], deltas[l]));
        return tf.addN(terms) as tf.Tensor1D;
      }),
    );
  } finally {
    releaseInputs(taps, x);
  }
  // Read back outside tidy (a typed array returned from tidy is slow to hand over, per
  // ARCHITECTURE).
  try {
    return { norms: (await out.data()) as Float32Array, labels: used! };
  } finally {
    out.dispose();
  }
}

/** `pick` applied to the logits of x, read back to the host first (for backends without synchronous reads). */
async function labelsFromLogits(
  model: Model,
  x: tf.Tensor4D,
  pick: (logits: tf.Tensor2D) => Int32Array,
): Promise<Int32Array> {
  const logits = tf.tidy(() => model.forward(x));
  try {
    await logits.data(); // cached on the host: `pick` may now read it synchronously
    return pick(logits);
  } finally {
    logits.dispose();
  }
}

/**
 * One layer's per-example squared gradient norm (kernel + bias).
 * @param a layer input: dense [B, in]; conv [B, H, W, C] (padded, as the 'valid' conv sees it)
 * @param d δ = ∂(Σℓ)/∂z: dense [B, out]; conv [B, OH, OW, Co]
 * @returns [B]
 */
export function layerSqNorms(kind: 'dense' | 'conv', a: tf.Tensor, d: tf.Tensor): tf.Tensor1D {
  return tf.tidy(() => {
    if (kind === 'dense') {
      const dd = tf.sum(tf.square(d), 1);
      return tf.mul(tf.add(tf.sum(tf.square(a), 1), 1), dd) as tf.Tensor1D;
    }
    const [B, H, W, C] = a.shape as [number, number, number, number];
    const [, OH, OW, Co] = d.shape as [number, number, number, number];
    const kh = H - OH + 1;
    const kw = W - OW + 1;
    // Depthwise conv of aᵀ [C,H,W,B] (B as channels) with δᵀ [OH,OW,B,Co] (multiplier Co):
    // out[c,i,j,b·Co+o] = Σ_{h,w} a[b,h+i,w+j,c]·δ[b,h,w,o] = dK_b[i,j,c,o].
    const dK = tf.depthwiseConv2d(
      tf.transpose(a, [3, 1, 2, 0]) as tf.Tensor4D,
      tf.transpose(d, [1, 2, 0, 3]) as tf.Tensor4D,
      1,
      'valid',
    ); // [C, kh, kw, B·Co]
    const kernel = tf.sum(tf.square(tf.reshape(dK, [C * kh * kw, B, Co])), [0, 2]);
    const bias = tf.sum(tf.square(tf.sum(d, [1, 2])), 1);
    return tf.add(kernel, bias) as tf.Tensor1D;
  });
}

/**
 * The same norms by one backward pass per example (slow; reference for tests and the benchmark).
 * @param x [B, h, w, c]; labels [B]
 */
export async function naivePerExampleSqNorms(
  model: Model,
  x: tf.Tensor4D,
  labels: Labels,
): Promise<Float32Array> {
  const y = await labelsToArray(labels);
  const B = x.shape[0];
  const out = new Float32Array(B);
  for (let i = 0; i < B; i++) {
    const s = withTapeGuard(() =>
      tf.tidy(() => {
        const xi = tf.slice(x, [i, 0, 0, 0], [1, -1, -1, -1]) as tf.Tensor4D;
        const yi = oneHot(y.subarray(i, i + 1), model.numClasses);
        const g = tf.grads((...p: tf.Tensor[]) => crossEntropy(model.apply(p, xi), yi))(
          model.params,
        );
        return tf.addN(g.map((t) => tf.sum(tf.square(t))));
      }),
    );
    out[i] = (await s.data())[0];
    s.dispose();
  }
  return out;
}
