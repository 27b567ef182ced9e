/**
 * What the report needs from one finished run: its state, summary numbers and curves (Tr(F), evaluations), in
 * a compact form that synthetic tables in tests can build by hand. Pure.
 */
import type { RunEvent, RunSummary } from '../shared/protocol';
import { buildSeries } from '../shared/series';
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
): RunResult {
  const s = buildSeries(id, events);
  return {
    id,
    state,
    summary,
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

/** A placeholder for a run that has no result (not run, failed, or missing). */
export function missingResult(id: string, state = 'missing'): RunResult {
  return {
    id,
    state,
    summary: null,
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
/** Tr(F_i): the trainer's smoothed Tr(F) when the training loss first crossed ε. */
export const trFi = (r: RunResult | undefined): number | null =>
  r && r.state === 'completed' ? (r.summary?.trFi ?? null) : null;
