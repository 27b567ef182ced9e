/**
 * The rules fixed before any claim run, besides η*: the α of each penalty (a search on the search seed, as the
 * paper tuned α per setting) and the length of the label-noise runs of (e) (long enough for the baseline to
 * memorise, or a stated budget). Pure functions of result tables, so synthetic tables test them; the
 * orchestrator runs what they ask for, the report prints the rules and how each search ended.
 */
import {
  SEARCH_TOL,
  runSpec,
  type AlphaChoice,
  type NoiseLength,
  type PenaltyWithAlpha,
  type RunSpec,
  type Setup,
} from './plan';
import { round3 } from './stats';

/** The α rule, as printed in the report. */
export const ALPHA_RULE =
  `On the search seed, at the claim's setting (η*/10; for (e) the noise level and length of the claim), one run ` +
  `per grid α and one unpenalised run. Among the α runs that completed, the best final test accuracy is found; ` +
  `α values within ${SEARCH_TOL * 100} percentage points of it that also lie no more than ${SEARCH_TOL * 100} points below the ` +
  `unpenalised run count as tied, and the largest of them is taken (more regularisation). If no α qualifies ` +
  `(every α costs more than ${SEARCH_TOL * 100} points against the unpenalised run, or none completed) the search ` +
  `**found no helpful α**: the arm runs at the grid's smallest α, is judged by the same verdict rule, and the ` +
  `report says so next to its verdict. For (e) the test accuracy is untouched by the noisy labels, so the same ` +
  `rule applies.`;

/** What an α search needs from each of its runs. */
export interface AlphaResult {
  alpha: number;
  state: string;
  finalTestAcc: number | null;
}

const okAcc = (r: { state: string; finalTestAcc: number | null }) =>
  r.state === 'completed' && r.finalTestAcc !== null && Number.isFinite(r.finalTestAcc);

const pp = (v: number) => `${(100 * v).toFixed(2)}%`;

/**
 * Pure: the α by {@link ALPHA_RULE}. `baseAcc` is the unpenalised run's final test accuracy (null when it has
 * none: then only the tie rule among the α runs applies). Throws on an empty grid.
 */
export function pickAlpha(
  grid: readonly number[],
  results: readonly AlphaResult[],
  baseAcc: number | null,
): AlphaChoice {
  if (!grid.length) throw new Error('α search: empty grid');
  const smallest = Math.min(...grid);
  const ok = results.filter(okAcc);
  if (!ok.length)
    return {
      alpha: smallest,
      found: false,
      reason: `no α run completed; the arm uses the smallest α ${smallest}`,
    };
  const best = Math.max(...ok.map((r) => r.finalTestAcc as number));
  const tied = ok.filter(
    (r) =>
      (r.finalTestAcc as number) >= best - SEARCH_TOL &&
      (baseAcc === null || (r.finalTestAcc as number) >= baseAcc - SEARCH_TOL),
  );
  if (!tied.length)
    return {
      alpha: smallest,
      found: false,
      reason: `every α cost accuracy: best ${pp(best)} against ${pp(baseAcc as number)} unpenalised; the arm uses the smallest α ${smallest}`,
    };
  const alpha = Math.max(...tied.map((r) => r.alpha));
  const at = ok.find((r) => r.alpha === alpha)!.finalTestAcc as number;
  return {
    alpha,
    found: true,
    reason: `α ${alpha}: ${pp(at)} (best ${pp(best)}${baseAcc === null ? ', unpenalised run has no result' : `, unpenalised ${pp(baseAcc)}`})`,
  };
}

/** The α search runs of one penalty at one setting on the search seed, and the unpenalised run to compare with. */
export function alphaSearchRuns(
  s: Setup,
  p: { kind: PenaltyWithAlpha; lr: number; noise: number; steps: number; grid: readonly number[] },
): { base: RunSpec; runs: { alpha: number; spec: RunSpec }[] } {
  const common = {
    prefix: 'search-',
    lr: p.lr,
    noise: p.noise,
    seed: s.search.seed,
    steps: p.steps,
  };
  return {
    base: runSpec(s, { ...common, penalty: 'none' }),
    runs: p.grid.map((alpha) => ({
      alpha: round3(alpha),
      spec: runSpec(s, { ...common, penalty: p.kind, alpha }),
    })),
  };
}

// ------------------------------------------------------------------------------------ (e) length rule

/** The lengths the (e) rule tries: the first, doubled while within the budget. */
export function noiseLengths(s: Pick<Setup, 'noiseSteps' | 'noiseLength'>): number[] {
  const out = [s.noiseSteps];
  while (out[out.length - 1] * 2 <= s.noiseLength.maxSteps) out.push(out[out.length - 1] * 2);
  return out;
}

export const lengthRule = (s: Pick<Setup, 'noiseSteps' | 'noiseLength'>): string =>
  `The unpenalised noisy run on the search seed (η*/10) trains for ${noiseLengths(s).join(', then ')} steps — ` +
  `each a fresh run, as the LR schedule scales with the length — and stops at the first length where its final ` +
  `training accuracy on the tracked noisy examples (w.r.t. their wrong labels) reaches ` +
  `${s.noiseLength.target * 100}% (**memorised**), or at the last one (**budget**: ${noiseLengths(s).slice(-1)[0]} steps). ` +
  `Every run of the noise level (baseline and FP, every seed, and FP's α search) then uses that length.`;

/** One tried length: the search-seed baseline's state and final noisy-subset accuracy. */
export interface LengthTry {
  steps: number;
  runId: string;
  state: string;
  noisyAcc: number | null;
}

/** What the rule asks for next: a run at `next`, or the length, and which rule ended it. */
export type LengthDecision =
  { done: false; next: number } | ({ done: true } & Omit<NoiseLength, 'noise' | 'tries'>);

/**
 * Pure: the (e) length rule over the tries made so far (any order; missing lengths are asked for in order).
 * A try that did not complete ends the rule at its length ('failed').
 */
export function decideNoiseLength(
  s: Pick<Setup, 'noiseSteps' | 'noiseLength'>,
  tries: readonly LengthTry[],
): LengthDecision {
  const lengths = noiseLengths(s);
  const target = s.noiseLength.target;
  for (const [i, L] of lengths.entries()) {
    const t = tries.find((x) => x.steps === L);
    if (!t) return { done: false, next: L };
    if (t.state !== 'completed')
      return {
        done: true,
        steps: L,
        endedBy: 'failed',
        reason: `the baseline at ${L} steps ended ${t.state}; the claim runs use ${L} steps`,
      };
    const n = t.noisyAcc;
    if (n !== null && Number.isFinite(n) && n >= target)
      return {
        done: true,
        steps: L,
        endedBy: 'memorised',
        reason: `the baseline memorised ${(100 * n).toFixed(1)}% of its noisy labels at ${L} steps (target ${target * 100}%)`,
      };
    if (i === lengths.length - 1)
      return {
        done: true,
        steps: L,
        endedBy: 'budget',
        reason: `the budget ran out: at ${L} steps the baseline memorised ${n === null ? 'an unknown share' : `${(100 * n).toFixed(1)}%`} of its noisy labels (target ${target * 100}%)`,
      };
  }
  throw new Error('unreachable');
}
