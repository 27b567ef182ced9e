/**
 * Fix-ups of a run's status.json by whoever launched its trainer (the editor): a queued placeholder's heartbeat
 * while it waits, and the final state of a run whose trainer ended without writing one (it never started, it
 * was killed hard, or the launching window closed before it started). Never through a symlink; only a run
 * still `queued`/`running` is touched.
 */
import os from 'node:os';
import path from 'node:path';
import { errorLineOf } from '../shared/format';
import { isTerminal, RUN_FILES, type RunStatus } from '../shared/protocol';
import { readRunText } from './reader';
import { writeJsonAtomic } from './safeFs';
import { EXIT_CODES } from './exitCodes';

/** status.json of `dir` when it is still live (queued or running); null when there is none or it has ended. */
function liveStatus(dir: string): { file: string; status: RunStatus } | null {
  const file = path.join(dir, RUN_FILES.status);
  const text = readRunText(file);
  if (text === null) return null;
  const status = JSON.parse(text) as RunStatus;
  return isTerminal(status.state) ? null : { file, status };
}

/**
 * Rewrite a queued placeholder's status.json as owned by this process, now: `claim` takes it over, otherwise
 * only a placeholder this process already owns is refreshed. Nothing happens once it is no longer queued.
 */
export function beatQueuedStatus(dir: string, claim: boolean, heartbeatSeconds: number): void {
  const live = liveStatus(dir);
  if (!live || live.status.state !== 'queued' || (!claim && live.status.pid !== process.pid))
    return;
  writeJsonAtomic(live.file, {
    ...live.status,
    pid: process.pid,
    host: os.hostname(),
    heartbeatSeconds,
    updatedAt: new Date().toISOString(),
  });
}

/**
 * After the trainer of `dir` exited: a status still `queued`/`running` becomes `stopped` when a stop was asked
 * for (and the trainer did not fail), otherwise `failed` with the reason (exit code or signal, and the last
 * lines of its stderr).
 */
export function settleExitedRun(
  dir: string,
  exit: {
    code: number | null;
    signal: NodeJS.Signals | null;
    stderrTail: string;
    stopRequested: boolean;
  },
): void {
  const live = liveStatus(dir);
  if (!live) return;
  const now = new Date().toISOString();
  const { code, signal } = exit;
  // Stopped before it could handle the signal (e.g. still starting up): stopped is what the user asked for.
  if (exit.stopRequested && code !== EXIT_CODES.usage && code !== EXIT_CODES.failed) {
    writeJsonAtomic(live.file, {
      ...live.status,
      state: 'stopped',
      pid: null,
      updatedAt: now,
      error: null,
    });
    return;
  }
  // The line that says what went wrong, not the last frame of a stack trace.
  const last = errorLineOf(exit.stderrTail);
  const why =
    code === EXIT_CODES.usage
      ? 'invalid config'
      : `trainer exited with ${signal ?? `code ${code}`}`;
  writeJsonAtomic(live.file, {
    ...live.status,
    state: 'failed',
    pid: null,
    updatedAt: now,
    error: last ? `${why}: ${last}` : why,
  });
}

/** A queued placeholder whose trainer will never start now: `failed` with `reason` (kept, so viewers show why). */
export function failQueuedRun(dir: string, reason: string): void {
  const live = liveStatus(dir);
  if (!live || live.status.state !== 'queued') return;
  writeJsonAtomic(live.file, {
    ...live.status,
    state: 'failed',
    pid: null,
    updatedAt: new Date().toISOString(),
    error: reason,
  });
}

/**
 * A queued run that will never start because it was cancelled (e.g. its pending Slurm task, by scancel):
 * `stopped` with `why`. Only while it is still queued; returns whether it was.
 */
export function stopQueuedRun(dir: string, why: string): boolean {
  const live = liveStatus(dir);
  if (!live || live.status.state !== 'queued') return false;
  writeJsonAtomic(live.file, {
    ...live.status,
    state: 'stopped',
    pid: null,
    updatedAt: new Date().toISOString(),
    error: why,
  });
  return true;
}
