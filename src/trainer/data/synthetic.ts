/**
 * Synthetic data for tests and demos: seeded Gaussian class clusters. Class k has a mean image
 * μ_k = 0.5 + m·z_k (z_k standard normal per pixel); an example is clip(μ_k + σ·ε, 0, 1). With D pixels the
 * distance between two class means is ≈ m·√(2D); σ = 0.15 and m = 2.5·2σ/√(2D) put the means 2.5 noise
 * standard deviations from the midpoint between them, so the Bayes error is a few per cent: learnable
 * (a linear model gets most of it) but not trivial, and pixel values rarely need clipping.
 */
import { Rng } from '../../shared/rng';

export interface SyntheticOptions {
  shape: [number, number, number];
  classes: number;
  seed: number;
}

/** Class means, NHWC-flattened float32 (classes × D). */
export function syntheticMeans(o: SyntheticOptions): Float32Array {
  const d = o.shape[0] * o.shape[1] * o.shape[2];
  const sigma = 0.15;
  const m = (2.5 * 2 * sigma) / Math.sqrt(2 * d);
  const rng = new Rng(o.seed, 'synthetic-means');
  const mu = new Float32Array(o.classes * d);
  for (let i = 0; i < mu.length; i++) mu[i] = 0.5 + m * rng.normal();
  return mu;
}

/** `n` examples with balanced labels in random order; `stream` separates train from test. */
export function syntheticSplit(
  o: SyntheticOptions,
  n: number,
  stream: string,
): { x: Float32Array; y: Int32Array } {
  const d = o.shape[0] * o.shape[1] * o.shape[2];
  const mu = syntheticMeans(o);
  const rng = new Rng(o.seed, 'synthetic', stream);
  const y = rng.shuffle(Int32Array.from({ length: n }, (_, i) => i % o.classes));
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const base = y[i] * d;
    for (let p = 0; p < d; p++) {
      const v = mu[base + p] + 0.15 * rng.normal();
      x[i * d + p] = v < 0 ? 0 : v > 1 ? 1 : v;
    }
  }
  return { x, y };
}
