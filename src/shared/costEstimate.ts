/**
 * What a run will cost before it starts, from what this machine measured: the wall time of earlier finished runs
 * of the same model (and penalty or not, which roughly doubles a step) on the backend that will run it.
 *
 * A run's time is its training steps plus its Tr(F) measurements (each `fisher.every` steps, one gradient per
 * probe example: `probeSize` per measurement), so the time is modelled as `a·steps + b·probeExamples`:
 * - earlier runs with the same measurement schedule: their seconds per step, scaled by the steps;
 * - else, when the earlier runs measured at two or more different rates: `a` and `b` fitted to them (least
 *   squares), and the new run's steps and probe examples priced with them;
 * - else their seconds per step, and the text says that their measurement schedule differs (not scaled).
 * Nothing is guessed without such a run: the text says what the estimate is based on, or that there is nothing
 * to base it on. No I/O.
 */
import { TORCH_BACKENDS } from './backends';
import { eta } from './format';

/** How a run measures Tr(F): every `every` steps on `probeSize` examples. */
export interface FisherSchedule {
  every: number;
  probeSize: number;
}

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
  /** Its Tr(F) measurement schedule (unknown: treated as different from any). */
  fisher?: FisherSchedule;
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

/** Examples through per-example gradients over `steps` steps (a measurement at each multiple of `every`). */
export function probeExamples(steps: number, f: FisherSchedule): number {
  return f.every > 0 ? Math.floor(steps / f.every) * f.probeSize : 0;
}

const sameSchedule = (a: FisherSchedule | undefined, b: FisherSchedule) =>
  !!a && a.every === b.every && a.probeSize === b.probeSize;
const scheduleText = (f: FisherSchedule) =>
  `Tr(F) every ${f.every === 1 ? 'step' : `${f.every} steps`} on ${f.probeSize} examples`;

/** Whether a run's backend is the one asked for (`torch` = any torch device; `auto` = any). */
export function sameBackend(asked: string, ran: string): boolean {
  if (asked === 'auto' || asked === ran) return true;
  return asked === 'torch' && (TORCH_BACKENDS as readonly string[]).includes(ran);
}

/** At most this many of the newest comparable runs are used (the machine and versions change over time). */
const MAX_RUNS = 5;

/**
 * Estimate the wall time of a run of `arch` (with a penalty or not) taking `steps` steps and measuring Tr(F) on
 * `fisher`'s schedule, on `backend` (`auto`: the backend of the newest finished run here, as the trainer's choice
 * on this machine).
 */
export function estimateCost(
  want: { arch: string; penalty: boolean; steps: number; fisher: FisherSchedule },
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
  const comparable = usable.filter(
    (r) => sameBackend(on, r.backend) && r.arch === want.arch && r.penalty === want.penalty,
  );
  const what = `${want.arch}${want.penalty ? ' + penalty' : ''}`;
  if (!comparable.length)
    return {
      seconds: null,
      backend: on,
      basedOn: 0,
      text: `time unknown on ${on}: no finished ${what} run there yet`,
    };
  const runs = (n: number) => `${n} earlier ${what} run${n > 1 ? 's' : ''}`;
  const done = (seconds: number, n: number, basis: string): CostEstimate => ({
    seconds,
    backend: on,
    basedOn: n,
    text: `≈ ${eta(seconds)} on ${on} (${basis})`,
  });
  // Seconds per step over the runs together (longer runs weigh more: start-up matters less in them).
  const perStep = (rs: readonly PastRun[]) =>
    rs.reduce((a, r) => a + r.wallSeconds, 0) / rs.reduce((a, r) => a + r.steps, 0);
  const same = comparable.filter((r) => sameSchedule(r.fisher, want.fisher)).slice(0, MAX_RUNS);
  if (same.length)
    return done(
      perStep(same) * want.steps,
      same.length,
      `from ${runs(same.length)}, same Tr(F) schedule`,
    );
  const known = comparable.filter((r) => r.fisher).slice(0, MAX_FIT_RUNS);
  const fit = fitStepAndProbe(known);
  if (fit)
    return done(
      fit.perStep * want.steps + fit.perProbe * probeExamples(want.steps, want.fisher),
      known.length,
      `fitted to ${runs(known.length)}: per step and per Tr(F) probe example`,
    );
  const newest = comparable.slice(0, MAX_RUNS);
  const theirs = newest[0].fisher;
  return done(
    perStep(newest) * want.steps,
    newest.length,
    `from ${runs(newest.length)}${theirs ? ` measuring ${scheduleText(theirs)}` : ''}; this one: ${scheduleText(want.fisher)}, not scaled`,
  );
}

/** At most this many runs in a fit (the newest). */
const MAX_FIT_RUNS = 20;

/**
 * Least squares for `wall ≈ a·steps + b·probeExamples` (no intercept) over runs with a known schedule; null when
 * the runs do not tell the two apart (fewer than two different probe rates) or the fit is not physical (a or b
 * negative: noise larger than the measurement cost).
 */
export function fitStepAndProbe(
  runs: readonly PastRun[],
): { perStep: number; perProbe: number } | null {
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  let sxw = 0;
  let syw = 0;
  const rates = new Set<number>();
  for (const r of runs) {
    if (!r.fisher) continue;
    const x = r.steps;
    const y = probeExamples(r.steps, r.fisher);
    rates.add(Math.round((y / x) * 1e9) / 1e9);
    sxx += x * x;
    sxy += x * y;
    syy += y * y;
    sxw += x * r.wallSeconds;
    syw += y * r.wallSeconds;
  }
  const det = sxx * syy - sxy * sxy;
  if (rates.size < 2 || !(Math.abs(det) > 1e-12 * sxx * syy)) return null;
  const perStep = (sxw * syy - syw * sxy) / det;
  const perProbe = (syw * sxx - sxw * sxy) / det;
  return perStep >= 0 && perProbe >= 0 && Number.isFinite(perStep + perProbe)
    ? { perStep, perProbe }
    : null;
}
