/** `fisherLens.deleteRun` (Delete Run): finished runs only, after a modal confirmation; never through a symlink. */
import fs from 'node:fs';
import * as vscode from 'vscode';
import { isRunDir } from '../../runs/reader';
import { isTerminal } from '../../shared/protocol';
import { runDirProblem } from '../launcher';
import { log } from '../log';
import { MonitorPanel } from '../panels/monitorPanel';
import { noLinks } from '../sanitize';
import { idOf, idsOf, pickRun, type CommandHost, type RunArg } from './common';

export async function deleteRun(h: CommandHost, arg?: RunArg, selection?: unknown): Promise<void> {
  const { store } = h;
  let ids = idsOf(selection);
  if (ids.length < 2) {
    const one =
      idOf(arg) ??
      (await pickRun(
        h,
        (r) => isTerminal(r.state),
        'Delete which run?',
        'No finished run to delete.',
      ));
    if (!one) return;
    ids = [one];
  }
  const live = ids.filter((id) => {
    const r = store.get(id);
    return r && !isTerminal(r.state);
  });
  if (live.length) {
    void vscode.window.showWarningMessage(
      `Cannot delete ${live.join(', ')}: still ${store.get(live[0])?.state}. Stop it first.`,
    );
    return;
  }
  const what = ids.length === 1 ? `run ${ids[0]}` : `${ids.length} runs (${ids.join(', ')})`;
  const ok = await vscode.window.showWarningMessage(
    `Delete ${what}? Its folder and all its data are removed.`,
    { modal: true },
    'Delete',
  );
  if (ok !== 'Delete') return;
  for (const id of ids) await deleteOne(h, id);
  store.refresh();
}

async function deleteOne(h: CommandHost, id: string) {
  const { store } = h;
  const r = store.get(id);
  if (!r) return;
  // Only ever remove a real folder (never a symlink to one) directly inside the runs root that holds a run.
  // rm itself never follows a symlink found inside it (it removes the link).
  const bad = runDirProblem(r.dir, store.root);
  if (bad || !isRunDir(r.dir)) {
    log.warn(`refused to delete ${r.dir}: ${bad ?? 'not a run folder'}`);
    void vscode.window.showErrorMessage(
      `Refusing to delete ${noLinks(r.dir, 300)}: not a run folder inside ${noLinks(store.root, 300)}.`,
    );
    return;
  }
  MonitorPanel.get(id)?.dispose();
  try {
    await fs.promises.rm(r.dir, { recursive: true, force: true });
    log.info(`deleted ${r.dir}`);
  } catch (e) {
    void vscode.window.showErrorMessage(`Could not delete ${id}: ${(e as Error).message}`);
  }
}
