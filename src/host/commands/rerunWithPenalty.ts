/** `fisherLens.rerunWithFisherPenalty` (Rerun with Fisher Penalty): the run's config.json plus the Fisher penalty. */
import * as vscode from 'vscode';
import type { RunConfig } from '../../shared/config';
import { workspaceRoot } from '../settings';
import {
  configModule,
  idOf,
  presetsModule,
  showConfigError,
  type CommandHost,
  type RunArg,
} from './common';
import { launchRun } from './launchRun';

export async function rerunWithPenalty(h: CommandHost, arg?: RunArg): Promise<string | undefined> {
  const runId = idOf(arg);
  const r = runId ? h.store.get(runId) : undefined;
  if (!r?.config) {
    void vscode.window.showErrorMessage(
      `Cannot rerun ${runId ?? 'that run'}: its config.json is missing.`,
    );
    return undefined;
  }
  const { withFisherPenalty, fisherPenaltyRerunProblem } = await presetsModule();
  const problem = fisherPenaltyRerunProblem(r.config as unknown as RunConfig);
  if (problem) {
    void vscode.window.showInformationMessage(
      `Rerun with Fisher Penalty does not apply to ${r.runId}: ${problem}.`,
    );
    return undefined;
  }
  // A relative data folder in config.json was relative to a config file we no longer know: try the workspace.
  const { withResolvedDatasetPath } = await configModule();
  const base = withResolvedDatasetPath(
    structuredClone(r.config) as RunConfig,
    workspaceRoot() ?? h.store.root,
  );
  let config: RunConfig;
  try {
    config = withFisherPenalty(base, r.runId);
  } catch (e) {
    showConfigError(e, `Cannot rerun ${r.runId} with the Fisher penalty`);
    return undefined;
  }
  return launchRun(h, { kind: 'config', config }, config.name ?? `${r.runId}-fp`);
}
