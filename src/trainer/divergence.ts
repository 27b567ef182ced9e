/**
 * When is a run `diverged`? A pure rule over the per-step training loss (mini-batch cross-entropy, penalty
 * excluded), shared by the trainer and its tests. No tfjs.
 *
 * A run diverges at the first step where one of these holds:
 *  1. the loss or the gradient norm is not finite (NaN / ±Infinity);
 *  2. runaway: the *smoothed* loss exceeds `absoluteFactor × ln K` (default 1e6·ln K);
 *  3. sustained blow-up: the smoothed loss has stayed above
 *        max(relativeFactor × (lowest smoothed loss so far), chanceFactor × ln K)      (defaults 4 and 4)
 *     for `sustainSteps` consecutive steps (default 100) — i.e. 4 × max(best, ln K) with the defaults.
 * The smoothed loss is the running (lower) MEDIAN of the last `window` step losses (default 25): it is above a
 * value only when more than half of those steps are.
 *
 * Why these choices (none is tuned to a dataset):
 * - ln K is the cross-entropy of the uniform prediction over K classes, the loss any network can reach by
 *   predicting nothing; noisy labels do not change it. A loss sustained at several times that is a model that
 *   is confidently wrong on most examples, for any K.
 * - The relative term (4× the best smoothed loss so far) makes the rule scale-free: a run that starts above
 *   ln K (large initialisation) is judged against its own level, never against a fixed number. The floor
 *   (4 ln K) keeps a run that had reached a tiny loss (the relative term alone would then be tiny) from being
 *   called diverged for climbing back to a moderate loss. For a usual start (loss ≈ ln K) the floor decides.
 *   (A factor of 10 on the best was tried first: MNIST MLP at lr 20 then sat at ≈ 10 ln K, 10 % accuracy,
 *   just under 10 × its initial loss, and was never flagged.)
 * - A median ignores up to ⌊window/2⌋ outliers of any height, so single spikes — common at a large but
 *   workable learning rate — never move it; a mean or EMA would be dragged up for many steps by one 1e5 spike.
 * - 100 steps of sustained excess (≈ 110 steps of mostly-high loss with the median's delay) is several times
 *   longer than the loss spikes and catapult phases of large-learning-rate training, which recover within a
 *   few tens of steps; runs shorter than that can only diverge by rules 1 and 2.
 * - 1e6·ln K means logits millions apart: float32 softmax is exactly one-hot there, so no step of any sane
 *   size brings the run back; waiting the full window would only waste compute.
 * Not caught, on purpose: a run that blows up and then collapses to a near-constant predictor with a loss
 * around ln K (e.g. MNIST MLP at lr 2–10 settles at ≈ 1–1.6 ln K and 7–15 % accuracy). Its loss is bounded
 * and chance-level, not diverging; telling it apart from a healthy run still on its initial plateau near
 * ln K (deep nets without normalisation sit there for hundreds of steps) would need a threshold close to ln K.
 * The run ends `completed` and its accuracy shows it.
 */
import { lossValue } from '../shared/format';

export interface DivergenceOptions {
  /** Number of classes K (chance-level loss ln K). */
  numClasses: number;
  /** Steps in the running median (default 25). */
  window?: number;
  /** Consecutive steps above the threshold that make a divergence (default 100). */
  sustainSteps?: number;
  /** Threshold factor on the lowest smoothed loss so far (default 4). */
  relativeFactor?: number;
  /** Threshold floor as a multiple of ln K (default 4). */
  chanceFactor?: number;
  /** Immediate divergence above this multiple of ln K for the smoothed loss (default 1e6). */
  absoluteFactor?: number;
}

export const DIVERGENCE_DEFAULTS = {
  window: 25,
  sustainSteps: 100,
  relativeFactor: 4,
  chanceFactor: 4,
  absoluteFactor: 1e6,
} as const;

export interface DivergenceVerdict {
  rule: 'non-finite' | 'absolute' | 'sustained';
  step: number;
  /** One readable sentence. */
  message: string;
}

/** Feed it every step's loss (and gradient norm); `add` returns a verdict at the first diverging step. */
export class DivergenceMonitor {
  readonly chance: number;
  private readonly o: Required<Omit<DivergenceOptions, 'numClasses'>>;
  private readonly recent: number[] = [];
  private best = Infinity;
  private above = 0;
  private aboveSince = 0;
  private verdict: DivergenceVerdict | null = null;

  constructor(opts: DivergenceOptions) {
    if (!(opts.numClasses >= 2))
      throw new RangeError(`numClasses must be ≥ 2, got ${opts.numClasses}`);
    this.o = {
      ...DIVERGENCE_DEFAULTS,
      ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)),
    } as Required<Omit<DivergenceOptions, 'numClasses'>>;
    this.chance = Math.log(opts.numClasses);
  }

  /**
   * The running (lower) median of the last `window` losses (NaN before the first step): it exceeds a value only
   * when more than half of those losses do, also while the window is still filling (two steps: both).
   */
  get smoothed(): number {
    if (!this.recent.length) return NaN;
    const s = [...this.recent].sort((a, b) => a - b);
    return s[(s.length - 1) >> 1];
  }

  /** The lowest smoothed loss so far. */
  get lowest(): number {
    return this.best;
  }

  /** The current sustained-rule threshold. */
  get threshold(): number {
    return Math.max(this.o.relativeFactor * this.best, this.o.chanceFactor * this.chance);
  }

  /** Take step `step`'s loss; returns the verdict once the run has diverged (and from then on). */
  add(step: number, loss: number, gradNorm = 0): DivergenceVerdict | null {
    if (this.verdict) return this.verdict;
    if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
      return (this.verdict = {
        rule: 'non-finite',
        step,
        message: `training diverged at step ${step}: loss ${lossValue(loss)}, gradient norm ${lossValue(gradNorm)}`,
      });
    }
    this.recent.push(loss);
    if (this.recent.length > this.o.window) this.recent.shift();
    const med = this.smoothed;
    const limit = this.o.absoluteFactor * this.chance;
    if (med > limit) {
      return (this.verdict = {
        rule: 'absolute',
        step,
        message: `training diverged at step ${step}: the training loss (median of the last ${this.recent.length} steps) is ${lossValue(med)}, above ${lossValue(this.o.absoluteFactor)} × ln K = ${lossValue(limit)}`,
      });
    }
    const thr = this.threshold; // against the best *before* this step
    if (med > thr) {
      if (this.above === 0) this.aboveSince = step;
      this.above++;
      if (this.above >= this.o.sustainSteps) {
        return (this.verdict = {
          rule: 'sustained',
          step,
          message:
            `training diverged at step ${step}: the training loss (median of the last ${this.o.window} steps) has stayed above ${lossValue(thr)} ` +
            `= max(${this.o.relativeFactor} × its lowest value ${lossValue(this.best)}, ${this.o.chanceFactor} × ln K = ${lossValue(this.o.chanceFactor * this.chance)}) ` +
            `for ${this.above} steps since step ${this.aboveSince} (now ${lossValue(med)})`,
        });
      }
    } else {
      this.above = 0;
    }
    if (med < this.best) this.best = med;
    return null;
  }
}

/** The rule over a whole loss sequence (steps numbered from 1): the first verdict, or null. */
export function checkDivergence(
  losses: ArrayLike<number>,
  opts: DivergenceOptions,
): DivergenceVerdict | null {
  const m = new DivergenceMonitor(opts);
  for (let i = 0; i < losses.length; i++) {
    const v = m.add(i + 1, losses[i]);
    if (v) return v;
  }
  return null;
}
