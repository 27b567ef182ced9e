/** Start a run from a config (New Run…, Run Config File, Rerun with Fisher Penalty) and open its monitor. */
import fs from 'node:fs';
import * as vscode from 'vscode';
import { makeRunId } from '../../runs/runId';
import type { RunSource } from '../launcher';
import { log } from '../log';
import { resolvePython } from '../python';
import { configModule, showConfigError, trusted, type CommandHost } from './common';

/** Launch `source` as a new run named after `nameOrFile`; its id, or undefined when nothing started. */
export async function launchRun(
  h: CommandHost,
  source: RunSource,
  nameOrFile: string,
  /** The user's config file `source` was read from (the trainer's refusals are shown on it). */
  configFile?: string,
  /** A run of ours to wait for: this one starts once it has ended. */
  after?: string,
): Promise<string | undefined> {
  if (!trusted()) return undefined;
  const { launcher, store } = h;
  const s = h.settings();
  if (!fs.existsSync(launcher.cliPath)) {
    void vscode.window.showErrorMessage(
      `Fisher Lens: the trainer is missing (${launcher.cliPath}). Reinstall the extension or run \`npm run build\`.`,
    );
    return undefined;
  }
  const runId = makeRunId(nameOrFile, new Date(), s.runsDirectory);
  const { totalSteps } = await configModule();
  // The interpreter for the PyTorch engine (`auto` may pick it too): the setting, the Python extension's, python3.
  // `python3` on the PATH is also the trainer's own default (after $FISHER_LENS_PYTHON): no --python then.
  const python = await resolvePython(s.pythonPath, vscode.workspace.workspaceFolders?.[0]?.uri);
  log.info(
    `${runId}: Python for the PyTorch engine: ${python.exe} (${python.source === 'path' ? "on the PATH, the trainer's default" : python.source})`,
  );
  try {
    launcher.launch({
      runId,
      source,
      totalSteps: source.kind === 'script' ? 0 : totalSteps(source.config),
      python: python.source === 'path' || source.kind === 'script' ? undefined : python.exe,
      configFile,
      ...(after ? { after } : {}),
    });
  } catch (e) {
    showConfigError(e, `Could not start ${runId}`);
    return undefined;
  }
  store.refresh();
  h.setActiveRun(runId);
  h.openMonitor(runId);
  if (launcher.get(runId)?.state === 'queued') {
    void vscode.window.showInformationMessage(
      `${runId} is queued: ${s.maxConcurrentRuns} run(s) already running (fisherLens.maxConcurrentRuns).`,
    );
  }
  return runId;
}
