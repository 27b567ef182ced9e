/**
 * Sweeps from the editor. `fisherLens.launchSweep` (Launch Sweep…): the `*.sweep.json` from the explorer or
 * editor title, else the active one, else a pick; checked (every problem shown, one line each), then
 * `fisher-lens sweep <file> --launcher local|slurm --runs-dir <fisherLens.runsDirectory>` runs in a terminal, where
 * its progress and errors show. Its runs appear in the Runs view as they are queued, run and finish (grouped
 * under the sweep). `fisherLens.showSweepRuns` opens the runs table filtered to a sweep (`#sweep/<name>`);
 * `fisherLens.stopSweep` stops every live run of a sweep: pending Slurm tasks are cancelled (scancel), running
 * runs get the STOP file.
 */
import path from 'node:path';
import * as vscode from 'vscode';
import { isTerminal } from '../../shared/protocol';
import { log } from '../log';
import { RunsTablePanel } from '../panels/runsTablePanel';
import { isSweepNode, type SweepNode } from '../runsTree';
import { noLinks } from '../sanitize';
import { cancelPendingSlurmTask, pendingSlurmTask, sweepNameOf } from '../sweeps';
import { activeOrPickedFile, trusted, type CommandHost } from './common';

export async function launchSweep(h: CommandHost, arg?: unknown): Promise<string | undefined> {
  if (!trusted()) return undefined;
  const uri = arg instanceof vscode.Uri ? arg : await activeOrPickedSweep();
  if (!uri) return undefined;
  if (uri.scheme !== 'file') {
    void vscode.window.showErrorMessage('Fisher Lens: a sweep file must be on disk to launch it.');
    return undefined;
  }
  const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
  if (open?.isDirty) await open.save();
  const s = h.settings();
  // Checked here first, so a mistake shows at once (one line per problem) rather than in a terminal.
  const { loadSweep } = await import('../../sweep/expand');
  let name: string;
  let count: number;
  try {
    const sw = loadSweep(uri.fsPath, { runsDir: s.runsDirectory });
    name = sw.name;
    count = sw.runs.length;
  } catch (e) {
    const problems = (e as { problems?: string[] }).problems;
    const msg = problems?.length ? problems.join('; ') : (e as Error).message;
    log.error(`sweep ${uri.fsPath}: ${msg}`);
    void vscode.window.showErrorMessage(`Fisher Lens: ${path.basename(uri.fsPath)}: ${msg}`);
    return undefined;
  }
  const pick = await vscode.window.showQuickPick(
    [
      {
        label: 'local',
        description: `train the ${count} runs on this machine (maxParallel at a time)`,
      },
      {
        label: 'slurm',
        description:
          'submit one Slurm job array (sbatch must work here: a cluster login node, e.g. over Remote-SSH)',
      },
    ],
    { placeHolder: `Launch sweep ${name} (${count} runs) where?`, ignoreFocusOut: true },
  );
  if (!pick) return undefined;
  const node = s.nodePath || 'node';
  const args = [
    h.launcher.cliPath,
    'sweep',
    uri.fsPath,
    '--launcher',
    pick.label,
    '--runs-dir',
    s.runsDirectory,
  ];
  const env: Record<string, string> = {};
  if (node === process.execPath && process.versions.electron) env.ELECTRON_RUN_AS_NODE = '1';
  log.info(
    `sweep ${name}: ${node} ${args.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ')}`,
  );
  // No shell: the arguments go to the process as they are (paths with spaces need no quoting).
  const term = vscode.window.createTerminal({
    name: `Fisher Lens sweep ${name}`,
    shellPath: node,
    shellArgs: args,
    cwd: path.dirname(uri.fsPath),
    env,
  });
  term.show(true);
  return name;
}

const activeOrPickedSweep = () =>
  activeOrPickedFile('.sweep.json', {
    none: 'No *.sweep.json in this workspace: write one (a base config, a grid and seeds; see the README, "Sweeps on a cluster").',
    placeHolder: 'Launch which sweep?',
  });

/** The sweep a command argument names: a sweep node of the tree, or a sweep name. */
const sweepNameArg = (arg: unknown): string | undefined =>
  isSweepNode(arg) ? arg.name : typeof arg === 'string' ? arg : undefined;

export function showSweepRuns(h: CommandHost, arg?: SweepNode | string): void {
  const name = sweepNameArg(arg);
  if (!name) return;
  RunsTablePanel.show(h, `#sweep/${name}`);
}

export async function stopSweep(h: CommandHost, arg?: SweepNode | string): Promise<void> {
  const name = sweepNameArg(arg);
  if (!name) return;
  const runs = h.store.runs().filter((r) => sweepNameOf(r) === name && !isTerminal(r.state));
  if (!runs.length) {
    void vscode.window.showInformationMessage(
      `Sweep ${noLinks(name)} has no queued or running run.`,
    );
    return;
  }
  const failures: string[] = [];
  for (const r of runs) {
    if (pendingSlurmTask(r)) {
      if (!trusted()) return;
      try {
        log.info(`stop ${noLinks(r.runId)}: ${await cancelPendingSlurmTask(r)}`);
      } catch (e) {
        failures.push((e as Error).message);
      }
    }
    log.info(`stop ${noLinks(r.runId)}: ${h.launcher.stop(r.runId, r.dir, h.store.root)}`);
  }
  if (failures.length)
    void vscode.window.showWarningMessage(`Fisher Lens: ${noLinks(failures[0])}`);
  h.store.refresh();
}
