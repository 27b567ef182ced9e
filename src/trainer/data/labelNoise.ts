/**
 * Label noise as in the paper's memorisation experiments: exactly round(fraction · n) training examples,
 * chosen without replacement with a seeded generator, get a uniformly random label (among the *other*
 * classes with `forceChange`, otherwise among all classes, so ~1/K of them keep their label by chance).
 * The mask records the labels that actually changed, so clean and noisy subsets can be tracked.
 */
import { Rng } from '../../shared/rng';

export interface LabelNoiseOptions {
  fraction: number;
  seed: number;
  forceChange?: boolean;
}

export interface LabelNoiseResult {
  /** New labels (the input is not modified). */
  y: Int32Array;
  /** 1 where the label differs from the original. */
  noisyMask: Uint8Array;
  /** Labels that actually changed (= number of 1s in the mask). */
  noisyCount: number;
  /** Examples chosen for corruption (round(fraction · n); ≥ noisyCount without forceChange). */
  corruptedCount: number;
}

export function applyLabelNoise(
  y: Int32Array,
  numClasses: number,
  o: LabelNoiseOptions,
): LabelNoiseResult {
  if (!(o.fraction >= 0 && o.fraction <= 1))
    throw new RangeError(`labelNoise.fraction: got ${o.fraction}; expected a number in [0, 1]`);
  if (!Number.isInteger(numClasses) || numClasses < 2)
    throw new RangeError(`label noise needs at least 2 classes, got ${numClasses}`);
  const n = y.length;
  const out = Int32Array.from(y);
  const mask = new Uint8Array(n);
  const k = Math.round(o.fraction * n);
  const rng = new Rng(o.seed, 'label-noise');
  const chosen = rng.sample(k, n);
  let changed = 0;
  for (let j = 0; j < k; j++) {
    const i = chosen[j];
    let label: number;
    if (o.forceChange) {
      label = rng.int(numClasses - 1);
      if (label >= y[i]) label++; // skip the original class
    } else {
      label = rng.int(numClasses);
    }
    out[i] = label;
    if (label !== y[i]) {
      mask[i] = 1;
      changed++;
    }
  }
  return { y: out, noisyMask: mask, noisyCount: changed, corruptedCount: k };
}

/**
 * Fixed seeded subsets of the training set to track learning of clean and noisy labels: up to `size`
 * indices (sorted) among examples whose mask is 0 and among those whose mask is 1.
 */
export function trackedSubsets(
  mask: Uint8Array,
  size: number,
  seed: number,
): { clean: Int32Array; noisy: Int32Array } {
  const clean: number[] = [];
  const noisy: number[] = [];
  for (let i = 0; i < mask.length; i++) (mask[i] ? noisy : clean).push(i);
  const pick = (pool: number[], stream: string) => {
    const idx = new Rng(seed, 'tracked', stream).sample(Math.min(size, pool.length), pool.length);
    return Int32Array.from(idx, (j) => pool[j]);
  };
  return { clean: pick(clean, 'clean'), noisy: pick(noisy, 'noisy') };
}
