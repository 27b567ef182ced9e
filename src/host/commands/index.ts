/**
 * The commands, one module each, registered here. Each accepts what VS Code passes from its menus (a tree
 * element, plus the selection for multi-select) or a run id, and falls back to a quick pick when invoked from
 * the palette. A command that throws is logged and reported, never left as an unhandled rejection.
 */
import * as vscode from 'vscode';
import { log } from '../log';
import { RunsTablePanel } from '../panels/runsTablePanel';
import type { CommandHost } from './common';
import { compareRuns } from './compareRuns';
import { deleteRun } from './deleteRun';
import { exportRun } from './exportRun';
import { newRun } from './newRun';
import { openMonitor } from './openMonitor';
import { pinExplosionBaseline } from './pinBaseline';
import { replaySyntheticRun } from './replaySyntheticRun';
import { rerunWithPenalty } from './rerunWithPenalty';
import { revealRun } from './revealRun';
import { runConfigFile } from './runConfigFile';
import { runPythonScript } from './runPythonScript';
import { clearRunFilter, editRunNotes, editRunTags, filterRuns, renameRun } from './runMeta';
import { stopRun } from './stopRun';
import { launchSweep, showSweepRuns, stopSweep } from './sweep';

export type { CommandHost } from './common';

type Command = (h: CommandHost, ...args: never[]) => unknown;

/** Command id → implementation (the ids are package.json's `contributes.commands`). */
const COMMANDS: Record<string, Command> = {
  'fisherLens.newRun': newRun,
  'fisherLens.runConfigFile': runConfigFile,
  'fisherLens.runPythonScript': runPythonScript,
  'fisherLens.stopRun': stopRun,
  'fisherLens.openMonitor': openMonitor,
  'fisherLens.compareRuns': compareRuns,
  'fisherLens.deleteRun': deleteRun,
  'fisherLens.exportRun': exportRun,
  'fisherLens.revealRun': revealRun,
  'fisherLens.refreshRuns': (h) => {
    h.store.refresh();
    h.refreshTree();
  },
  'fisherLens.rerunWithFisherPenalty': rerunWithPenalty,
  'fisherLens.pinExplosionBaseline': pinExplosionBaseline,
  'fisherLens.replaySyntheticRun': replaySyntheticRun,
  'fisherLens.showLog': () => log.show(),
  'fisherLens.renameRun': renameRun,
  'fisherLens.editRunNotes': editRunNotes,
  'fisherLens.editRunTags': editRunTags,
  'fisherLens.filterRuns': filterRuns,
  'fisherLens.clearRunFilter': clearRunFilter,
  'fisherLens.openRunsTable': (h) => RunsTablePanel.show(h),
  'fisherLens.launchSweep': launchSweep,
  'fisherLens.showSweepRuns': showSweepRuns,
  'fisherLens.stopSweep': stopSweep,
};

export function registerCommands(h: CommandHost): vscode.Disposable[] {
  return Object.entries(COMMANDS).map(([id, fn]) =>
    vscode.commands.registerCommand(id, async (...args: unknown[]) => {
      try {
        return await (fn as (h: CommandHost, ...a: unknown[]) => unknown)(h, ...args);
      } catch (e) {
        log.error(`${id} failed:`, e);
        void vscode.window.showErrorMessage(
          `Fisher Lens: ${id} failed: ${(e as Error)?.message ?? String(e)}`,
        );
        return undefined;
      }
    }),
  );
}
