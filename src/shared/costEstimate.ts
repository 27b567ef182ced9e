/**
 * What a run will cost before it starts, from what this machine measured: the wall time per step of earlier
 * finished runs of the same model (and penalty or not, which roughly doubles a step) on the backend that will
 * run it, scaled by the steps the new run takes. Nothing is guessed without such a run: the estimate says what
 * it is based on, or that there is nothing to base it on. No I/O.
 */
import { TORCH_BACKENDS } from './backends';
import { eta } from './format';

/** One earlier finished run, as the estimate uses it. */
export interface PastRun {
  arch: string;
  penalty: boolean;
  /** The backend that ran it (summary.json's `backend`, e.g. `torch-cpu`, `wasm`). */
  backend: string;
  steps: number;
  wallSeconds: number;
  /** When it started (ms since the epoch): newer runs count first. */
  startedAt: number;
}

export interface CostEstimate {
  /** Estimated wall seconds; null when nothing comparable ran here. */
  seconds: number | null;
  /** The backend the estimate is for (null: not known yet). */
  backend: string | null;
  /** How many earlier runs it is based on. */
  basedOn: number;
  /** One line for a picker: `≈ 13m05s on torch-cpu (from 3 earlier simplecnn runs)` or why there is none. */
  text: string;
}

/** Whether a run's backend is the one asked for (`torch` = any torch device; `auto` = any). */
export function sameBackend(asked: string, ran: string): boolean {
  if (asked === 'auto' || asked === ran) return true;
  return asked === 'torch' && (TORCH_BACKENDS as readonly string[]).includes(ran);
}

/** At most this many of the newest comparable runs are used (the machine and versions change over time). */
const MAX_RUNS = 5;

/**
 * Estimate the wall time of a run of `arch` (with a penalty or not) taking `steps` steps on `backend`
 * (`auto`: the backend of the newest finished run here, as the trainer's choice on this machine).
 */
export function estimateCost(
  want: { arch: string; penalty: boolean; steps: number },
  backend: string,
  history: readonly PastRun[],
): CostEstimate {
  const usable = history
    .filter((r) => r.steps > 0 && r.wallSeconds > 0 && Number.isFinite(r.wallSeconds))
    .sort((a, b) => b.startedAt - a.startedAt);
  const on = backend === 'auto' ? (usable[0]?.backend ?? null) : backend;
  if (!on)
    return {
      seconds: null,
      backend: null,
      basedOn: 0,
      text: 'time unknown: no finished run here yet',
    };
  const same = usable
    .filter((r) => sameBackend(on, r.backend) && r.arch === want.arch && r.penalty === want.penalty)
    .slice(0, MAX_RUNS);
  const what = `${want.arch}${want.penalty ? ' + penalty' : ''}`;
  if (!same.length)
    return {
      seconds: null,
      backend: on,
      basedOn: 0,
      text: `time unknown on ${on}: no finished ${what} run there yet`,
    };
  // Seconds per step over the runs together (longer runs weigh more: start-up matters less in them).
  const perStep =
    same.reduce((a, r) => a + r.wallSeconds, 0) / same.reduce((a, r) => a + r.steps, 0);
  const seconds = perStep * want.steps;
  return {
    seconds,
    backend: on,
    basedOn: same.length,
    text: `≈ ${eta(seconds)} on ${on} (from ${same.length} earlier ${what} run${same.length > 1 ? 's' : ''})`,
  };
}
