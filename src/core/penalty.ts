// Gradient-norm penalties and their parameter gradients by double backprop, plus the plain loss
// gradient.
//
//   fisher (FP): P = ||∇θ L(x, ŷ)||²  ŷ_i ~ p_θ(·|x_i) sampled once, then held fixed (no gradient
//                flows through the sampling) — = Tr(F_B), the paper's Eq. 3/5 penalty;
//   gp:          P = ||∇θ L(x, y)||²  with the true labels;
//   gpr:         P = ||∇θ L(x, r)||²  with labels r uniform over the classes (seeded);
//   gpx:         P = ||∇x L(x, y)||²  gradient w.r.t. the INPUT batch x [B,h,w,c], summed over all
//                its entries. With L the batch mean, ∇_{x_i} L = (1/B)·∇_{x_i} ℓ_i, so
//                P = (1/B²) Σ_i ||∇_{x_i} ℓ_i||²: it scales as 1/B for a fixed per-example size
//                (tune α with the batch size in mind).
// L is always the mean cross-entropy over the batch. The trainer adds α·∇θP to ∇θL; because P is
// costly (≈ 3 gradient evaluations), it may recompute ∇θP every k steps and reuse the last one in
// between (paper: k = 10) — `penaltyGradients` returns kept tensors for exactly that, and
// `addScaled` combines.
// `addScaled` combines.
import * as tf from '@tensorflow/tfjs';
import { hasSyncReads, withTapeGuard } from './backend';
import {
  crossEntropy,
  labelsToArray,
  oneHot,
  sampleLabels,
  uniformLabels,
  type Labels,
} from './loss';
import { type Model } from './models';
import { deriveSeed } from '../shared/rng';

export type PenaltyKind = 'fisher' | 'gp' | 'gpr' | 'gpx';

export interface PenaltyOptions {
  /** Seed for ŷ (fisher) or the random labels (gpr). */
  seed: number;
  /** Class count; defaults to the model's. */
  numClasses?: number;
  /**
   * Use these labels instead of sampling (fisher / gpr) — for tests and reproducing a computation.
   */
  labels?: Labels;
}

export interface PenaltyResult {
  /** P at the current parameters. */
  value: number;
  /** ∂P/∂θ, same order and shapes as `model.params`; kept: the caller disposes them. */
  grads: tf.Tensor[];
  /** Labels the penalty used (ŷ for fisher, y for gp/gpx, r for gpr), [B]. */
  labels: Int32Array;
}

/**
 * The penalty P of `kind` on the batch x [B,h,w,c] with true labels yTrue [B], and its gradient
 * w.r.t. the model parameters (back-propagated through the inner gradient).
 */
export async function penaltyGradients(
  kind: PenaltyKind,
  model: Model,
  x: tf.Tensor4D,
  yTrue: Labels,
  opts: PenaltyOptions,
): Promise<PenaltyResult> {
  const K = opts.numClasses ?? model.numClasses;
  const B = x.shape[0];
  let labels: Int32Array | null =
    kind === 'gp' || kind === 'gpx'
      ? await labelsToArray(yTrue)
      : opts.labels
        ? await labelsToArray(opts.labels)
        : kind === 'gpr'
          ? uniformLabels(B, K, deriveSeed(opts.seed, 0x67707200))
          : null; // fisher: sampled from the logits of the same forward pass, below
  if (labels === null && !hasSyncReads()) {
    // No synchronous read inside the pass (webgpu): sample ŷ from the logits of a forward pass of
    // their own (the same values; one more forward pass).
    const logits = tf.tidy(() => model.forward(x));
    try {
      labels = sampleLabels((await logits.data()) as Float32Array, opts.seed, K);
    } finally {
      logits.dispose();
    }
  }
  const targets = (logits: tf.Tensor2D) => {
    labels ??= sampleLabels(logits, opts.seed);
    return oneHot(labels, K);
  };

  const { value, grads } = withTapeGuard(() =>
    tf.tidy(() =>
      tf.valueAndGrads((...p: tf.Tensor[]) => {
        let g: tf.Tensor[];
        if (kind === 'gpx') {
          const y = oneHot(labels!, K);
          g = [tf.grad((xx: tf.Tensor) => crossEntropy(model.apply(p, xx as tf.Tensor4D), y))(x)];
        } else {
          g = tf.grads((...q: tf.Tensor[]) => {
            const logits = model.apply(q, x);
            return crossEntropy(logits, targets(logits));
          })(p);
        }
        return sumOfSquares(g);
      })(model.params),
    ),
  );
  let v: number;
  try {
    v = (await value.data())[0];
  } catch (e) {
    tf.dispose(grads);
    throw e;
  } finally {
    value.dispose();
  }
  return { value: v, grads: grads.map((t) => tf.keep(t)), labels: labels! };
}

export interface LossGradResult {
  /** Mean cross-entropy of the batch. */
  loss: number;
  /** ∂L/∂θ, same order as `model.params`; the caller disposes them. */
  grads: tf.Tensor[];
  /** Number of examples whose argmax logit equals the label (only with `withAccuracy`). */
  correct?: number;
}

/**
 * Mean cross-entropy of x [B,h,w,c] with labels y [B] and its parameter gradient, in one forward
 * and one backward pass (the plain SGD step's work).
 */
export async function lossAndGradients(
  model: Model,
  x: tf.Tensor4D,
  y: Labels,
  opts: { withAccuracy?: boolean } = {},
): Promise<LossGradResult> {
  let correct: tf.Scalar | undefined;
  const { value, grads } = withTapeGuard(() =>
    tf.tidy(() => {
      const t = oneHot(y, model.numClasses);
      return tf.valueAndGrads((...p: tf.Tensor[]) => {
        const logits = model.apply(p, x);
        if (opts.withAccuracy) {
          correct = tf.keep(
            tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), tf.argMax(t, 1)), 'int32')) as tf.Scalar,
          );
        }
        return crossEntropy(logits, t);
      })(model.params);
    }),
  );
  try {
    const loss = (await value.data())[0];
    const c = correct ? (await correct.data())[0] : undefined;
    return { loss, grads, correct: c };
  } catch (e) {
    tf.dispose(grads);
    throw e;
  } finally {
    value.dispose();
    correct?.dispose();
  }
}

/**
 * g + α·h elementwise for two gradient lists (e.g. loss gradient + cached penalty gradient); new
 * tensors, inputs untouched.
 */
export function addScaled(
  g: readonly tf.Tensor[],
  h: readonly tf.Tensor[],
  alpha: number,
): tf.Tensor[] {
  if (g.length !== h.length) throw new Error(`addScaled: ${g.length} vs ${h.length} tensors`);
  return tf.tidy(() => g.map((t, i) => tf.add(t, tf.mul(h[i], alpha))));
}

/** Σ over all tensors of the sum of squares (scalar). */
export function sumOfSquares(ts: readonly tf.Tensor[]): tf.Scalar {
  return tf.tidy(() => tf.addN(ts.map((t) => tf.sum(tf.square(t)))) as tf.Scalar);
}
