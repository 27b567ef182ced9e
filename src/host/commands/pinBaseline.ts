/**
 * `fisherLens.pinExplosionBaseline` (Pin as Explosion Baseline, Runs tree): the run later runs' explosion warnings
 * compare with where it applies (same model and data, differing only in seed, learning rate or penalty: checked again
 * by `train --reference`), kept in the workspace's state; on the pinned run it unpins. See src/runs/reference.ts.
 */
import * as vscode from 'vscode';
import { fmt } from '../../shared/format';
import { noLinks } from '../sanitize';
import { idOf, type CommandHost, type RunArg } from './common';

/** Why a run cannot be the explosion baseline (null: it can). */
export function baselineProblem(r: {
  state: string;
  config: Record<string, unknown> | null;
  summary: { peakTrF?: number | null } | null;
}): string | null {
  if (!r.config)
    return 'it has no run config (a baseline is a run of a *.fisher.json config or preset)';
  if (r.state !== 'completed') return `it is ${r.state}, not completed`;
  const pen = (r.config.penalty as { kind?: string } | undefined)?.kind ?? 'none';
  if (pen !== 'none') return 'it trains with a penalty (a baseline is a plain run)';
  if (!(typeof r.summary?.peakTrF === 'number' && r.summary.peakTrF > 0))
    return 'it has no early Tr(F) peak';
  return null;
}

export async function pinExplosionBaseline(h: CommandHost, arg?: RunArg): Promise<void> {
  const runId = idOf(arg);
  const r = runId ? h.store.get(runId) : undefined;
  if (!runId || !r) {
    void vscode.window.showInformationMessage(
      'Pin as Explosion Baseline: choose a completed run in the Runs view.',
    );
    return;
  }
  const name = noLinks(r.name, 100);
  if (h.launcher.pinnedBaseline === runId) {
    await h.launcher.pinBaseline(null);
    void vscode.window.showInformationMessage(
      `${name} is no longer the explosion baseline: runs compare with the best known learning rate of their set-up.`,
    );
    return;
  }
  const problem = baselineProblem(r);
  if (problem) {
    void vscode.window.showInformationMessage(
      `${name} cannot be the explosion baseline: ${problem}.`,
    );
    return;
  }
  await h.launcher.pinBaseline(runId);
  const lr = (r.config?.optimizer as { lr?: number } | undefined)?.lr;
  void vscode.window.showInformationMessage(
    `${name} (lr ${lr}) is the explosion baseline: runs started from now on with the same model and data compare their early Tr(F) peak with its ${fmt(r.summary!.peakTrF!)}.`,
  );
}
