/** `fisherLens.compareRuns` (Compare Runs…): the tree's multi-selection, else two or more picked runs. */
import * as vscode from 'vscode';
import { ComparePanel } from '../panels/comparePanel';
import { idOf, idsOf, runPickItem, type CommandHost, type RunArg } from './common';

export async function compareRuns(
  h: CommandHost,
  arg?: RunArg,
  selection?: unknown,
): Promise<void> {
  let ids = idsOf(selection);
  if (ids.length < 2) ids = idsOf(arg);
  if (ids.length < 2) ids = (await pickRuns(h, idOf(arg))) ?? [];
  if (ids.length >= 2) ComparePanel.show(h, ids);
}

/** Two or more runs picked (undefined after saying why not). */
async function pickRuns(h: CommandHost, first: string | undefined): Promise<string[] | undefined> {
  const runs = h.store.runs();
  if (runs.length < 2) {
    void vscode.window.showInformationMessage('Comparing needs at least two runs.');
    return undefined;
  }
  const picks = await vscode.window.showQuickPick(
    runs.map((r) => ({ ...runPickItem(r), picked: r.runId === first })),
    {
      canPickMany: true,
      placeHolder: 'Pick the runs to compare (two or more)',
      ignoreFocusOut: true,
    },
  );
  if (!picks) return undefined;
  if (picks.length < 2) {
    void vscode.window.showInformationMessage('Pick at least two runs to compare.');
    return undefined;
  }
  return picks.map((p) => p.runId);
}
