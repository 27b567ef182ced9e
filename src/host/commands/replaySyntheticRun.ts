/**
 * `fisherLens.replaySyntheticRun` (Replay a Synthetic Run): a generated run written into the runs directory
 * step by step, so the monitor can be seen without training. Tests pass `{ explosion, steps, replayMs }`.
 */
import * as vscode from 'vscode';
import { ensureRunsRoot } from '../../runs/preflight';
import { makeRunId } from '../../runs/runId';
import { log } from '../log';
import { noLinks } from '../sanitize';
import type { CommandHost } from './common';

export async function replaySyntheticRun(
  h: CommandHost,
  opts?: { explosion?: boolean; steps?: number; replayMs?: number },
): Promise<string | undefined> {
  const s = h.settings();
  const runId = makeRunId(
    opts?.explosion === false ? 'synthetic-flat' : 'synthetic',
    new Date(),
    s.runsDirectory,
  );
  try {
    ensureRunsRoot(s.runsDirectory, 'fisherLens.runsDirectory');
  } catch (e) {
    void vscode.window.showErrorMessage(`Fisher Lens: ${noLinks((e as Error).message, 500)}`);
    return undefined;
  }
  const { writeFakeRun } = await import('../../runs/fakeRun');
  const done = writeFakeRun(
    s.runsDirectory,
    {
      runId,
      steps: opts?.steps ?? 800,
      explosion: opts?.explosion !== false,
      noise: true,
      seed: Date.now() % 1000,
    },
    { replayMs: opts?.replayMs ?? 150, chunkSteps: 10 },
  );
  h.store.refresh();
  h.setActiveRun(runId);
  h.openMonitor(runId);
  void done.then(
    () => h.store.refresh(),
    (e) => log.error('synthetic run:', e),
  );
  return runId;
}
