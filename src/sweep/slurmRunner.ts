/**
 * One run as a Slurm job, waited for: the runner `fisher-lens reproduce --launcher slurm` trains with. The run is
 * submitted as a one-task job array through the sweep path (its config in `<runs root>/.sweeps/<group>/configs/`,
 * its queued folder tagged `sweep/<group>`), then its run folder is followed until it ends: steps are reported,
 * an abort cancels it (scancel while pending, STOP once running), and a task that leaves the queue without
 * starting the run, or a run whose heartbeat stops, ends it `failed`.
 */
import path from 'node:path';
import type { RunConfig } from '../shared/config';
import { isTerminal, type RunState } from '../shared/protocol';
import type { SlurmOptions } from '../shared/sweep';
import { failQueuedRun, stopQueuedRun as stopQueued } from '../runs/statusFixups';
import type { Sweep, SweepRun } from './expand';
import { submitSlurm, writeStopFile } from './launch';
import { queueStates, scancel } from './slurm';
import { viewRun } from './state';

export interface SlurmRunSpec {
  id: string;
  config: RunConfig;
  steps: number;
}

export interface SlurmRunnerOptions {
  node: string;
  cli: string;
  slurm: SlurmOptions;
  /** The `.sweeps/<group>` folder and tag of these runs (default `reproduce`). */
  group?: string;
  /** How often the run folder is looked at (ms; default 2000). */
  pollMs?: number;
  /** How often squeue is asked (ms; default 15000). */
  queuePollMs?: number;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

/** A runner (the reproduction's `Runner` shape) that trains each run as a Slurm job. */
export function slurmRunner(o: SlurmRunnerOptions) {
  const group = o.group ?? 'reproduce';
  return async (
    spec: SlurmRunSpec,
    ctx: { runsRoot: string; onStep: (step: number) => void; signal: AbortSignal },
  ): Promise<{ state: string; error?: string | null }> => {
    const run: SweepRun = {
      id: spec.id,
      index: 0,
      assignment: {},
      seed: spec.config.seed,
      config: spec.config,
      steps: spec.steps,
    };
    const sweep: Sweep = {
      file: '',
      name: group,
      spec: { name: group, base: 'reproduce', slurm: o.slurm },
      runsRoot: ctx.runsRoot,
      runs: [run],
    };
    const jobId = submitSlurm(sweep, [run], { node: o.node, cli: o.cli });
    const task = `${jobId}_0`;
    let lastStep = 0;
    let lastQueue = 0;
    let cancelled = false;
    for (;;) {
      const v = viewRun(ctx.runsRoot, run);
      if (v.step > lastStep) {
        lastStep = v.step;
        ctx.onStep(v.step);
      }
      if (v.state !== 'absent' && isTerminal(v.state as RunState))
        return { state: v.state, error: v.error };
      if (ctx.signal.aborted && !cancelled) {
        cancelled = true;
        if (v.state === 'queued') {
          scancel([task]);
          if (
            stopQueued(
              path.join(ctx.runsRoot, run.id),
              `cancelled before it started (scancel ${task})`,
            )
          )
            return { state: 'stopped', error: null };
        }
        writeStopFile(path.join(ctx.runsRoot, run.id));
      }
      if (Date.now() - lastQueue > (o.queuePollMs ?? 15_000)) {
        lastQueue = Date.now();
        const q = queueStates([jobId]);
        // Gone from the queue while still queued: one more look (the job script may just have settled it).
        if (q && !q.has(task) && viewRun(ctx.runsRoot, run).state === 'queued') {
          const why = `Slurm task ${task} left the queue without starting the run`;
          failQueuedRun(path.join(ctx.runsRoot, run.id), why);
          return { state: 'failed', error: why };
        }
      }
      await sleep(o.pollMs ?? 2000, cancelled ? undefined : ctx.signal);
    }
  };
}
