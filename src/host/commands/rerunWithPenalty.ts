/** `fisherLens.rerunWithFisherPenalty` (Rerun with Fisher Penalty): the run's config.json plus the Fisher penalty. */
import path from 'node:path';
import * as vscode from 'vscode';
import type { RunConfig } from '../../shared/config';
import { workspaceRoot } from '../settings';
import { idOf, presetsModule, showConfigError, type CommandHost, type RunArg } from './common';
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
  const { withFisherPenalty } = await presetsModule();
  const base = structuredClone(r.config) as RunConfig;
  const ds = base.dataset as { path?: string } | undefined;
  // A relative data folder in config.json was relative to a config file we no longer know: try the workspace.
  if (ds?.path && !path.isAbsolute(ds.path))
    ds.path = path.resolve(workspaceRoot() ?? h.store.root, ds.path);
  let config: RunConfig;
  try {
    config = withFisherPenalty(base, r.runId);
  } catch (e) {
    showConfigError(e, `Cannot rerun ${r.runId} with the Fisher penalty`);
    return undefined;
  }
  return launchRun(h, { kind: 'config', config }, config.name ?? `${r.runId}-fp`);
}
