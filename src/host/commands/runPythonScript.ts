/**
 * `fisherLens.runPythonScript` (Run Python Script with Fisher Lens): the user's own training script — one that
 * creates a `fisher_lens_engine.Monitor` (README "Your own PyTorch script") — run as `fisher-lens run -- <python>
 * <script>` like any other run: queued within `fisherLens.maxConcurrentRuns`, its monitor opened, shown in the
 * Runs tree and in Compare. The interpreter is the one the PyTorch engine would use (`fisherLens.pythonPath`, the
 * Python extension's, else `python3`); the working directory is the script's workspace folder.
 */
import path from 'node:path';
import * as vscode from 'vscode';
import { scriptRunName, type ScriptRunConfig } from '../../shared/protocol';
import { resolvePython } from '../python';
import { trusted, type CommandHost } from './common';
import { launchRun } from './launchRun';

export async function runPythonScript(h: CommandHost, arg?: unknown): Promise<string | undefined> {
  if (!trusted()) return undefined;
  const active = vscode.window.activeTextEditor?.document;
  const uri =
    arg instanceof vscode.Uri
      ? arg
      : active && /\.py$/i.test(active.fileName)
        ? active.uri
        : undefined;
  if (!uri || uri.scheme !== 'file' || !/\.py$/i.test(uri.fsPath)) {
    void vscode.window.showInformationMessage(
      'Fisher Lens: open a Python training script (a local .py file that creates a fisher_lens_engine.Monitor) and run this command again.',
    );
    return undefined;
  }
  const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
  if (open?.isDirty) await open.save();
  const folder = vscode.workspace.getWorkspaceFolder(uri);
  const python = await resolvePython(h.settings().pythonPath, folder?.uri);
  const name = scriptRunName(path.basename(uri.fsPath).replace(/\.py$/i, ''));
  const config: ScriptRunConfig = {
    kind: 'script',
    name,
    command: [python.exe, uri.fsPath],
    cwd: folder?.uri.fsPath ?? path.dirname(uri.fsPath),
  };
  return launchRun(h, { kind: 'script', config }, name);
}
