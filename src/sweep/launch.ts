/**
 * Launching a sweep: decide per run (skip finished and live runs, move the rest aside), write each run's config
 * (`<runs root>/.sweeps/<name>/configs/<id>.fisher.json`) and a `queued` run folder (adopted by the trainer when
 * it starts, tagged `sweep/<name>`), then either train them here, a bounded number at a time, or submit one Slurm
 * job array. The manifest (`.sweeps/<name>/sweep.json`) lists the runs and the Slurm jobs, for status and cancel.
 */
import fs from 'node:fs';
import path from 'node:path';
import { RUN_FILES } from '../shared/protocol';
import { USER_FILE } from '../shared/userMeta';
import { writeQueuedRun } from '../runs/runDir';
import { writeJsonAtomic } from '../runs/safeFs';
import { readRunText } from '../runs/reader';
import { stopQueuedRun as stopQueued } from '../runs/statusFixups';
import { sweepDir, sweepTag, type Sweep, type SweepRun } from './expand';
import { decide, moveAside, viewRun, type Decision, type RunView } from './state';
import {
  arrayJobOf,
  jobScript,
  queueStates,
  releaseJob,
  sbatch,
  sbatchArgs,
  scancel,
} from './slurm';

export type Launcher = 'local' | 'slurm';

export interface Manifest {
  name: string;
  file: string;
  runsRoot: string;
  runs: { id: string; index: number; seed: number; assignment: Record<string, unknown> }[];
  /** Slurm array jobs submitted for this sweep, oldest first. */
  jobs: { jobId: string; submittedAt: string; runs: string[]; script: string }[];
}

export const manifestPath = (sweep: Sweep) =>
  path.join(sweepDir(sweep.runsRoot, sweep.name), 'sweep.json');

export function readManifest(sweep: Sweep): Manifest | null {
  try {
    const m = JSON.parse(fs.readFileSync(manifestPath(sweep), 'utf8')) as Manifest;
    return m && Array.isArray(m.jobs) ? m : null;
  } catch {
    return null;
  }
}

function writeManifest(sweep: Sweep, jobs: Manifest['jobs']): void {
  const m: Manifest = {
    name: sweep.name,
    file: sweep.file,
    runsRoot: sweep.runsRoot,
    runs: sweep.runs.map((r) => ({
      id: r.id,
      index: r.index,
      seed: r.seed,
      assignment: r.assignment,
    })),
    jobs,
  };
  writeJsonAtomic(manifestPath(sweep), m, 'sweep.json');
}

export interface PlannedRun {
  run: SweepRun;
  view: RunView;
  decision: Decision;
}

/** Each run with its current view and what a launch would do with it (nothing is written). */
export function planSweep(sweep: Sweep, opts: { squeue?: boolean } = {}): PlannedRun[] {
  const views = sweep.runs.map((r) => viewRun(sweep.runsRoot, r));
  const jobs = [...new Set(views.flatMap((v) => (v.jobId ? [arrayJobOf(v.jobId)] : [])))];
  const q = opts.squeue !== false && jobs.length ? queueStates(jobs) : null;
  return sweep.runs.map((run, i) => {
    let v = views[i];
    const inQueue = q && v.jobId ? q.has(v.jobId) : undefined;
    // Still queued, but its task has left Slurm's queue: it ended without starting the run (killed, or its node
    // failed before the job script could say so).
    // Read again after squeue: a task may have started (and even ended) since the first read.
    if (v.state === 'queued' && inQueue === false) v = viewRun(sweep.runsRoot, run);
    if (v.state === 'queued' && inQueue === false) {
      const why = `Slurm task ${v.jobId} left the queue without starting the run (see ${path.join(sweepDir(sweep.runsRoot, sweep.name), 'logs')})`;
      v = { ...v, state: 'failed', stale: why, error: why };
    }
    return { run, view: v, decision: decide(v, inQueue) };
  });
}

/** Write a run's config file and its queued run folder (tagged with the sweep); returns the config file. */
function prepareRun(sweep: Sweep, run: SweepRun): string {
  const dir = sweepDir(sweep.runsRoot, sweep.name);
  const cfgDir = path.join(dir, 'configs');
  fs.mkdirSync(cfgDir, { recursive: true });
  fs.mkdirSync(path.join(dir, 'logs'), { recursive: true });
  const cfgFile = path.join(cfgDir, `${run.id}.fisher.json`);
  writeJsonAtomic(cfgFile, run.config, `${run.id}.fisher.json`);
  const runDir = writeQueuedRun(sweep.runsRoot, run.id, run.config, { totalSteps: run.steps });
  writeJsonAtomic(path.join(runDir, USER_FILE), { tags: [sweepTag(sweep.name)] }, USER_FILE);
  return cfgFile;
}

/** Set a queued run's Slurm job id (only while it is still queued). */
function setJobId(runsRoot: string, id: string, jobId: string): void {
  const file = path.join(runsRoot, id, RUN_FILES.status);
  const text = readRunText(file);
  if (text === null) return;
  const st = JSON.parse(text) as { state?: string };
  if (st.state !== 'queued') return;
  writeJsonAtomic(file, { ...st, jobId, updatedAt: new Date().toISOString() }, 'status.json');
}

/** Mark a queued run of the sweep that will never start `stopped` (only while it is still queued). */
export const stopQueuedRun = (runsRoot: string, id: string, why: string): boolean =>
  stopQueued(path.join(runsRoot, id), why);

/** The runs to launch now: the decisions' `run` and `rerun` (the latter moved aside first). */
export function takeForLaunch(
  sweep: Sweep,
  plan: PlannedRun[],
  log: (line: string) => void,
): SweepRun[] {
  const todo: SweepRun[] = [];
  for (const p of plan) {
    if (p.decision.action === 'skip') continue;
    if (p.decision.action === 'rerun') {
      const where = moveAside(sweep, p.run.id, p.decision.why);
      log(`${p.run.id}: ${p.decision.why}; moved aside to ${where}`);
    }
    todo.push(p.run);
  }
  return todo;
}

export interface SubmitOptions {
  node: string;
  cli: string;
  hold?: boolean;
}

/**
 * Submit `runs` as one job array (held while their job ids are recorded, then released unless `hold`).
 * Returns the array job id. On a failed submission the queued folders just written are removed again.
 */
export function submitSlurm(sweep: Sweep, runs: SweepRun[], o: SubmitOptions): string {
  const dir = sweepDir(sweep.runsRoot, sweep.name);
  const logDir = path.join(dir, 'logs');
  const cfgDir = path.join(dir, 'configs');
  for (const r of runs) prepareRun(sweep, r);
  const slurm = sweep.spec.slurm ?? {};
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
  const script = path.join(dir, `job-${stamp}.sbatch`);
  fs.writeFileSync(
    script,
    jobScript({
      runs: runs.map((r) => ({ index: r.index, id: r.id })),
      node: slurm.node ?? o.node,
      cli: o.cli,
      runsRoot: sweep.runsRoot,
      configDir: cfgDir,
      logDir,
      setup: slurm.setup,
    }),
    { mode: 0o755 },
  );
  let jobId: string;
  try {
    jobId = sbatch(
      sbatchArgs({
        name: sweep.name,
        indices: runs.map((r) => r.index),
        slurm,
        logDir,
        chdir: dir,
        script,
        hold: true,
      }),
    );
  } catch (e) {
    for (const r of runs) {
      if (stopQueuedRun(sweep.runsRoot, r.id, 'not submitted'))
        fs.rmSync(path.join(sweep.runsRoot, r.id), { recursive: true, force: true });
    }
    throw e;
  }
  for (const r of runs) setJobId(sweep.runsRoot, r.id, `${jobId}_${r.index}`);
  const jobs = readManifest(sweep)?.jobs ?? [];
  writeManifest(sweep, [
    ...jobs,
    { jobId, submittedAt: new Date().toISOString(), runs: runs.map((r) => r.id), script },
  ]);
  if (!o.hold) releaseJob(jobId);
  return jobId;
}

/** Release held array jobs of the sweep (`--hold` at submission). */
export function releaseSweep(sweep: Sweep): string[] {
  const jobs = (readManifest(sweep)?.jobs ?? []).map((j) => j.jobId);
  const q = queueStates(jobs);
  const live = jobs.filter((j) => !q || [...q.keys()].some((k) => arrayJobOf(k) === j));
  for (const j of live) releaseJob(j);
  return live;
}

/** A request that names something the sweep does not have (exit 2). */
export class SweepUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SweepUsageError';
  }
}

export interface CancelResult {
  cancelled: string[];
  stopRequested: string[];
}

/**
 * Stop runs of the sweep (all, or `only`): a queued Slurm task is cancelled with scancel and its run marked
 * `stopped`; a running run gets the STOP file (it stops after its current step, wherever it runs).
 */
export function cancelSweep(sweep: Sweep, only?: string[]): CancelResult {
  const want = only ? new Set(only) : null;
  if (want) {
    const known = new Set(sweep.runs.map((r) => r.id));
    const unknown = [...want].filter((id) => !known.has(id));
    if (unknown.length)
      throw new SweepUsageError(`--run: ${unknown.join(', ')} is not a run of sweep ${sweep.name}`);
  }
  const out: CancelResult = { cancelled: [], stopRequested: [] };
  const planned = planSweep(sweep, { squeue: false });
  const toCancel: PlannedRun[] = [];
  for (const p of planned) {
    if (want && !want.has(p.run.id)) continue;
    if (p.view.state === 'queued' && p.view.jobId) toCancel.push(p);
    else if (p.view.state === 'running' || p.view.state === 'queued') {
      writeStopFile(path.join(sweep.runsRoot, p.run.id));
      out.stopRequested.push(p.run.id);
    }
  }
  if (toCancel.length) {
    scancel(toCancel.map((p) => p.view.jobId!));
    for (const p of toCancel) {
      const why = `cancelled before it started (scancel ${p.view.jobId})`;
      if (stopQueuedRun(sweep.runsRoot, p.run.id, why)) out.cancelled.push(p.run.id);
      else {
        // It started meanwhile: scancel's SIGTERM stops it after its step; the STOP file says so too.
        writeStopFile(path.join(sweep.runsRoot, p.run.id));
        out.stopRequested.push(p.run.id);
      }
    }
  }
  return out;
}

/** `<dir>/STOP`, created without following a symlink; an existing one is fine. */
export function writeStopFile(dir: string): void {
  const st = fs.lstatSync(dir);
  if (!st.isDirectory()) throw new Error(`${dir} is not a run folder`);
  const file = path.join(dir, RUN_FILES.stop);
  try {
    const fd = fs.openSync(
      file,
      fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW,
      0o644,
    );
    fs.writeSync(fd, `stop requested by fisher-lens sweep at ${new Date().toISOString()}\n`);
    fs.closeSync(fd);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
}

export { prepareRun };
