/**
 * Sweeps in the editor: which runs belong to a sweep (the `sweep/<name>` tag `fisher-lens sweep` writes into
 * each run's user.json), and cancelling a run's pending Slurm task (scancel, then the run is marked stopped).
 * Everything comes from run folders, which are untrusted: a job id is used only when it is a plain Slurm id.
 */
import { execFile } from 'node:child_process';
import { stopQueuedRun } from '../runs/statusFixups';
import type { RunEntry } from './runsModel';

const SWEEP_TAG = /^sweep\/([A-Za-z0-9][A-Za-z0-9._+-]{0,39})$/;
/** `123` or an array task `123_4`. */
const JOB_ID = /^[0-9]{1,12}(_[0-9]{1,9})?$/;

/** The sweep a run belongs to, from its tags; null when none. */
export function sweepNameOf(r: Pick<RunEntry, 'user'>): string | null {
  for (const t of r.user?.tags ?? []) {
    const m = SWEEP_TAG.exec(t);
    if (m) return m[1];
  }
  return null;
}

/** The Slurm task of a run that is still queued (pending in Slurm), when its status names a valid one. */
export function pendingSlurmTask(r: Pick<RunEntry, 'state' | 'status'>): string | null {
  const id = r.status?.jobId;
  return r.state === 'queued' && typeof id === 'string' && JOB_ID.test(id) ? id : null;
}

/**
 * Cancel a queued run's pending Slurm task with scancel and mark the run stopped. Resolves with what happened
 * (a sentence); rejects with the reason scancel gave (e.g. not found on this machine).
 */
export function cancelPendingSlurmTask(r: RunEntry): Promise<string> {
  const job = pendingSlurmTask(r);
  if (!job) return Promise.resolve('not a pending Slurm task');
  return new Promise((resolve, reject) => {
    execFile('scancel', [job], { timeout: 30_000 }, (err, _out, stderr) => {
      if (err) {
        const code = (err as NodeJS.ErrnoException).code;
        reject(
          new Error(
            code === 'ENOENT'
              ? `scancel is not on this machine: cancel Slurm job ${job} where Slurm runs (fisher-lens sweep cancel)`
              : `scancel ${job} failed: ${String(stderr).trim().split('\n').pop() || err.message}`,
          ),
        );
        return;
      }
      resolve(
        stopQueuedRun(r.dir, `cancelled before it started (scancel ${job})`)
          ? `cancelled Slurm task ${job}`
          : `scancel ${job} sent; the run had already started`,
      );
    });
  });
}
