/**
 * How fast a run goes and when it will end, from its own step events: steps/s and examples/s over a recent
 * window (one that spans Fisher measurements and evaluations, which are part of the wall time), and the time
 * left at that rate. Shown in the monitor header and the status bar. No DOM.
 */
import { eta, fmt } from './format';
import type { RunSeries } from './series';

export interface RunProgress {
  step: number;
  totalSteps: number | null;
  /** Steps per second of wall time over the window; null until two step events a second or more apart. */
  stepsPerSec: number | null;
  /** Training examples per second (the trainer's own measure, latest), null when not reported. */
  examplesPerSec: number | null;
  /** Seconds left at `stepsPerSec`; null when unknown (no rate, no total, finished). */
  etaSeconds: number | null;
}

/** The window the rate is measured over: the last minute, or the last quarter of the run when that is longer. */
const WINDOW_MS = 60_000;

/** Progress of a run from its series (`totalSteps`: the header's, else the status's). */
export function runProgress(s: RunSeries, totalSteps?: number | null): RunProgress {
  const total = totalSteps ?? s.header?.totalSteps ?? null;
  const steps = s.steps.step;
  const ts = s.steps.t;
  const n = steps.length;
  const step = s.lastStep;
  let stepsPerSec: number | null = null;
  if (n >= 2) {
    const tEnd = ts[n - 1];
    const t0 = s.t0 ?? ts[0];
    const window = Math.max(WINDOW_MS, (tEnd - t0) / 4);
    let i = n - 2;
    while (i > 0 && tEnd - ts[i - 1] <= window) i--;
    const dt = (tEnd - ts[i]) / 1000;
    const ds = (steps[n - 1] as number) - (steps[i] as number);
    if (dt >= 1 && ds > 0) stepsPerSec = ds / dt;
  }
  const eps = s.steps.examplesPerSec;
  let examplesPerSec: number | null = null;
  for (let i = (eps?.length ?? 0) - 1; i >= 0 && i >= (eps?.length ?? 0) - 20; i--) {
    const v = eps![i];
    if (typeof v === 'number' && Number.isFinite(v) && v > 0) {
      examplesPerSec = v;
      break;
    }
  }
  const left = total && total > step ? total - step : null;
  return {
    step,
    totalSteps: total,
    stepsPerSec,
    examplesPerSec,
    etaSeconds: left !== null && stepsPerSec ? left / stepsPerSec : null,
  };
}

/** `ETA 3m05s · 12.4 steps/s · 1.59k ex/s` (only the parts that are known; '' when none). */
export function progressText(p: RunProgress): string {
  const parts: string[] = [];
  if (p.etaSeconds !== null) parts.push(`ETA ${eta(p.etaSeconds)}`);
  if (p.stepsPerSec !== null)
    parts.push(`${fmt(p.stepsPerSec, p.stepsPerSec >= 10 ? 3 : 2)} steps/s`);
  if (p.examplesPerSec !== null) parts.push(`${si(p.examplesPerSec)} ex/s`);
  return parts.join(' · ');
}

const si = (v: number) =>
  v >= 1e6 ? `${fmt(v / 1e6, 3)}M` : v >= 1e3 ? `${fmt(v / 1e3, 3)}k` : fmt(v, 3);
