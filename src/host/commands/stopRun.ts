/** `fisherLens.stopRun` (Stop Run): SIGTERM for a trainer of this window, a STOP file for any other run. */
import * as vscode from 'vscode';
import { isTerminal } from '../../shared/protocol';
import { log } from '../log';
import { noLinks } from '../sanitize';
import { idOf, pickRun, type CommandHost, type RunArg } from './common';

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
  const how = h.launcher.stop(runId, r?.dir, store.root);
  log.info(`stop ${noLinks(runId)}: ${how}`);
  if (how === 'nothing')
    void vscode.window.showWarningMessage(
      `Could not stop ${noLinks(runId)}: its run directory was not found or is not a real folder inside the runs root (see the log).`,
    );
  store.refresh();
}
