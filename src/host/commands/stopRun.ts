/**
 * `fisherLens.stopRun` (Stop Run): SIGTERM for a trainer of this window, a STOP file for any other run; a run
 * still pending as a Slurm task (`fisher-lens sweep --launcher slurm`) is also cancelled with scancel.
 */
import * as vscode from 'vscode';
import { isTerminal } from '../../shared/protocol';
import { log } from '../log';
import { noLinks } from '../sanitize';
import { cancelPendingSlurmTask, pendingSlurmTask } from '../sweeps';
import { idOf, pickRun, trusted, type CommandHost, type RunArg } from './common';

export async function stopRun(h: CommandHost, arg?: RunArg): Promise<void> {
  const { store } = h;
  const runId =
    idOf(arg) ??
    (await pickRun(
      h,
      (r) => r.state === 'running' || r.state === 'queued',
      'Stop which run?',
      'No run is running.',
    ));
  if (!runId) return;
  const r = store.get(runId);
  if (r && isTerminal(r.state)) {
    void vscode.window.showInformationMessage(`${runId} is not running (${r.state}).`);
    return;
  }
  if (r && pendingSlurmTask(r) && trusted()) {
    try {
      log.info(`stop ${noLinks(runId)}: ${await cancelPendingSlurmTask(r)}`);
    } catch (e) {
      log.warn(`stop ${noLinks(runId)}: ${(e as Error).message}`);
      void vscode.window.showWarningMessage(`Fisher Lens: ${noLinks((e as Error).message)}`);
    }
  }
  const how = h.launcher.stop(runId, r?.dir, store.root);
  log.info(`stop ${noLinks(runId)}: ${how}`);
  if (how === 'nothing')
    void vscode.window.showWarningMessage(
      `Could not stop ${noLinks(runId)}: its run directory was not found or is not a real folder inside the runs root (see the log).`,
    );
  store.refresh();
}
