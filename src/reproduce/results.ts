/**
 * What the report needs from one finished run: its state, summary numbers and curves (Tr(F), evaluations), in
 * a compact form that synthetic tables in tests can build by hand. Pure.
 */
import type { RunEvent, RunSummary } from '../shared/protocol';
import { buildSeries } from '../shared/series';
import { ExplosionDetector, detectorOptionsFromConfig, mergeSeries } from '../shared/detector';
import type { Curve } from './stats';

export interface EvalCurves {
  step: number[];
  testAcc: (number | null)[];
  trainAcc: (number | null)[];
  cleanAcc: (number | null)[];
  noisyAcc: (number | null)[];
}

export interface RunResult {
  id: string;
  /** Run state from status/summary; `missing` when the run directory does not exist. */
  state: string;
  summary: Partial<RunSummary> | null;
  /** Tr(F) per measured step. */
  trF: Curve;
  /**
   * The trainer's detector's numbers (src/shared/detector.ts): early peak (highest mean of 3 measurements from
   * step 0 to the first LR drop) and Tr(F_i). From the summary's `peakTrF`/`trFi` when the run wrote them, else
   * by replaying the run's events through the same detector; null when the run has none.
   */
  peak: number | null;
  trFi: number | null;
  evals: EvalCurves;
}

export type Results = Record<string, RunResult>;

/** A run counts as a result when it ran to its end: `completed` (and `diverged`, a legitimate LR-search outcome). */
export const isFinal = (state: string): boolean => state === 'completed' || state === 'diverged';

/** A run's result from its events and summary. */
export function resultFromEvents(
  id: string,
  state: string,
  events: readonly RunEvent[],
  summary: Partial<RunSummary> | null,
  config?: Parameters<typeof detectorOptionsFromConfig>[0] | null,
): RunResult {
  const s = buildSeries(id, events);
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  let peak = num(summary?.peakTrF);
  let fi = num(summary?.trFi);
  if ((peak === null || fi === null) && config?.fisher) {
    const st = replayDetector(events, config);
    peak ??= st.earlyPeak?.value ?? null;
    fi ??= st.trFi?.value ?? null;
  }
  return {
    id,
    state,
    summary,
    peak,
    trFi: fi,
    trF: { step: s.fisher.step.slice(), y: s.fisher.trF.slice() },
    evals: {
      step: s.evals.step.slice(),
      testAcc: s.evals.testAcc.slice(),
      trainAcc: s.evals.trainAcc.slice(),
      cleanAcc: s.evals.cleanAcc.slice(),
      noisyAcc: s.evals.noisyAcc.slice(),
    },
  };
}

/** Replay a run's Tr(F) and loss events through the trainer's detector (as `fisher-lens detect` does). */
export function replayDetector(
  events: readonly RunEvent[],
  config: Parameters<typeof detectorOptionsFromConfig>[0],
) {
  const fisher: { step: number; trF: number; stderr: number | null }[] = [];
  const loss: { step: number; loss: number }[] = [];
  for (const e of events) {
    if (e.type === 'fisher' && typeof e.trF === 'number')
      fisher.push({ step: e.step, trF: e.trF, stderr: e.trFStderr ?? null });
    else if (e.type === 'step' && typeof e.loss === 'number')
      loss.push({ step: e.step, loss: e.loss });
  }
  const det = new ExplosionDetector(detectorOptionsFromConfig(config));
  for (const x of mergeSeries({ fisher, loss })) det.add(x);
  return det.state;
}

/** A placeholder for a run that has no result (not run, failed, or missing). */
export function missingResult(id: string, state = 'missing'): RunResult {
  return {
    id,
    state,
    summary: null,
    peak: null,
    trFi: null,
    trF: { step: [], y: [] },
    evals: { step: [], testAcc: [], trainAcc: [], cleanAcc: [], noisyAcc: [] },
  };
}

const last = (ys: readonly (number | null)[]): number | null => {
  for (let i = ys.length - 1; i >= 0; i--)
    if (ys[i] !== null && Number.isFinite(ys[i])) return ys[i];
  return null;
};

/** Final test accuracy (summary, else last eval), in [0, 1]; null unless the run completed. */
export const finalTestAcc = (r: RunResult | undefined): number | null =>
  r && r.state === 'completed' ? (r.summary?.finalTestAcc ?? last(r.evals.testAcc)) : null;
export const finalCleanAcc = (r: RunResult | undefined): number | null =>
  r && r.state === 'completed' ? (r.summary?.finalCleanAcc ?? last(r.evals.cleanAcc)) : null;
export const finalNoisyAcc = (r: RunResult | undefined): number | null =>
  r && r.state === 'completed' ? (r.summary?.finalNoisyAcc ?? last(r.evals.noisyAcc)) : null;
export const finalTrainLoss = (r: RunResult | undefined): number | null =>
  r && r.state === 'completed' ? (r.summary?.finalTrainLoss ?? null) : null;
/** Tr(F_i): the detector's level when the smoothed training loss first crossed ε. */
export const trFi = (r: RunResult | undefined): number | null =>
  r && r.state === 'completed' ? r.trFi : null;
/** Early peak of Tr(F): the detector's (step 0 to the first LR drop, mean of 3 measurements). */
export const earlyPeakOf = (r: RunResult | undefined): number | null =>
  r && r.state === 'completed' ? r.peak : null;
