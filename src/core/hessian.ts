// Trace of the loss Hessian by Hutchinson's estimator (paper Sec. 5: Gaussian probes, M = 30):
//   Tr(H) = E_v[vᵀHv], v ~ N(0, I);  Hv = ∇θ(∇θL · v) by double backprop (exact, no finite
//   differences).
import * as tf from '@tensorflow/tfjs';
import { withTapeGuard } from './backend';
import { crossEntropy, oneHot, type Labels } from './loss';
import { type Model } from './models';
import { meanAndStderr } from './fisher';
import { Rng } from '../shared/rng';

/**
 * Hessian-vector product of the mean cross-entropy on x [B,h,w,c], labels y [B]: H·v for v given as
 * tensors shaped like `model.params`. Returns new tensors (caller disposes).
 */
export function hessianVectorProduct(
  model: Model,
  x: tf.Tensor4D,
  y: Labels,
  v: readonly tf.Tensor[],
): tf.Tensor[] {
  return withTapeGuard(() =>
    tf.tidy(() => {
      const t = oneHot(y, model.numClasses);
      return tf.grads((...p: tf.Tensor[]) => {
        const g = tf.grads((...q: tf.Tensor[]) => crossEntropy(model.apply(q, x), t))(p);
        return tf.addN(g.map((gi, i) => tf.sum(tf.mul(gi, v[i]))));
      })(model.params);
    }),
  );
}

export interface HutchinsonResult {
  /** Mean of vᵀHv over the probes. */
  trace: number;
  /** Standard error over the probes. */
  stderr: number;
  /** vᵀHv per probe, [M]. */
  samples: Float64Array;
}

/**
 * Hutchinson estimate of Tr(∇²θ L) on one batch x [B,h,w,c] with labels y [B] (true labels: the
 * training loss's Hessian). Each probe costs one double-backprop pass (≈ 3 gradient evaluations).
 */
export async function hutchinsonTraceH(
  model: Model,
  x: tf.Tensor4D,
  y: Labels,
  opts: { probes?: number; seed?: number } = {},
): Promise<HutchinsonResult> {
  const M = opts.probes ?? 30;
  const rng = new Rng(opts.seed ?? 0);
  const samples = new Float64Array(M);
  for (let m = 0; m < M; m++) {
    const s = tf.tidy(() => {
      const v = model.params.map((p) => tf.tensor(rng.normalArray(p.size), p.shape, 'float32'));
      const hv = hessianVectorProduct(model, x, y, v);
      return tf.addN(hv.map((h, i) => tf.sum(tf.mul(h, v[i]))));
    });
    try {
      samples[m] = (await s.data())[0];
    } finally {
      s.dispose();
    }
  }
  const { mean, stderr } = meanAndStderr(samples);
  return { trace: mean, stderr, samples };
}
