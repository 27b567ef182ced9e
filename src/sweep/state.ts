/**
 * What a sweep's runs are now, read from their run folders (status.json, summary.json, config.json: untrusted,
 * validated) and, for Slurm, from squeue; and what a (re)launch does with each: skip a finished run made with the
 * same config or a live one, move the rest aside (never deleted) and run them again.
 */
import fs from 'node:fs';
import path from 'node:path';
import { jsonEqual } from '../shared/configDiff';
import { RUN_FILES, type RunState, type RunStatus } from '../shared/protocol';
import { checkStatus, checkSummary, effectiveState, readRunText } from '../runs/reader';
import { sweepDir, type Sweep, type SweepRun } from './expand';

export interface RunView {
  id: string;
  /** `absent`, or the state shown for the run (a live run whose writer is gone is `failed`, with `stale`). */
  state: RunState | 'absent';
  stale?: string;
  step: number;
  totalSteps: number;
  jobId: string | null;
  host: string | null;
  error: string | null;
  /** The stored config.json equals the sweep's config for this run. */
  sameConfig: boolean;
}

const readJson = (file: string): unknown => {
  try {
    const t = readRunText(file);
    return t === null ? null : JSON.parse(t);
  } catch {
    return null;
  }
};

/** One run folder's view (nothing is written). */
export function viewRun(runsRoot: string, run: SweepRun, now?: () => number): RunView {
  const dir = path.join(runsRoot, run.id);
  let st: fs.Stats;
  try {
    st = fs.lstatSync(dir);
  } catch {
    return {
      id: run.id,
      state: 'absent',
      step: 0,
      totalSteps: run.steps,
      jobId: null,
      host: null,
      error: null,
      sameConfig: false,
    };
  }
  const status = st.isDirectory()
    ? checkStatus(readJson(path.join(dir, RUN_FILES.status))).status
    : null;
  const summary = st.isDirectory()
    ? checkSummary(readJson(path.join(dir, RUN_FILES.summary))).summary
    : null;
  let statusMtimeMs: number | undefined;
  try {
    statusMtimeMs = fs.statSync(path.join(dir, RUN_FILES.status)).mtimeMs;
  } catch {
    /* none */
  }
  const eff = effectiveState(status, summary, { statusMtimeMs, now });
  return {
    id: run.id,
    state: eff.state,
    ...(eff.stale ? { stale: eff.stale } : {}),
    step: status?.step ?? 0,
    totalSteps: status?.totalSteps ?? run.steps,
    jobId: status?.jobId ?? null,
    host: status?.host ?? null,
    error: eff.stale ?? summary?.error ?? status?.error ?? null,
    sameConfig: jsonEqual(readJson(path.join(dir, RUN_FILES.config)), run.config),
  };
}

/** States that are a result: kept on a rerun (when made with the same config). */
export const DONE_STATES: readonly string[] = ['completed', 'diverged'];

export type Decision =
  { action: 'skip'; why: 'done' | 'active' } | { action: 'run' } | { action: 'rerun'; why: string };

/**
 * What a launch does with one run. `inQueue`: for a queued/running Slurm run, whether squeue still lists its
 * job (undefined: unknown, e.g. no squeue here — the run folder's own state then decides).
 */
export function decide(v: RunView, inQueue?: boolean): Decision {
  if (v.state === 'absent') return { action: 'run' };
  if (DONE_STATES.includes(v.state))
    return v.sameConfig
      ? { action: 'skip', why: 'done' }
      : { action: 'rerun', why: 'found a finished run made with a different config' };
  if (v.state === 'queued' || v.state === 'running') {
    if (v.state === 'queued' && v.jobId && inQueue === false)
      return { action: 'rerun', why: `queued, but Slurm job ${v.jobId} is no longer in the queue` };
    return { action: 'skip', why: 'active' };
  }
  return {
    action: 'rerun',
    why: `found an unfinished run (state ${v.state}${v.error ? `: ${v.error}` : ''})`,
  };
}

/** Move a run folder into `<sweep dir>/aside/` (never deleted); returns where it went. */
export function moveAside(sweep: Sweep, id: string, why: string): string {
  const aside = path.join(sweepDir(sweep.runsRoot, sweep.name), 'aside');
  fs.mkdirSync(aside, { recursive: true });
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
  let target = path.join(aside, `${id}-${stamp}`);
  for (let k = 2; fs.existsSync(target); k++) target = path.join(aside, `${id}-${stamp}-${k}`);
  fs.renameSync(path.join(sweep.runsRoot, id), target);
  fs.writeFileSync(path.join(target, 'MOVED_ASIDE.txt'), `${why}\n`);
  return target;
}

/** Counts by state, in a fixed order: `completed 2, running 1, queued 1`. */
export function stateCounts(views: RunView[]): string {
  const order = ['completed', 'diverged', 'running', 'queued', 'stopped', 'failed', 'absent'];
  const n = new Map<string, number>();
  for (const v of views) n.set(v.state, (n.get(v.state) ?? 0) + 1);
  return order
    .filter((s) => n.has(s))
    .map((s) => `${s === 'absent' ? 'not started' : s} ${n.get(s)}`)
    .join(', ');
}

export type { RunStatus };
