/**
 * Show a file the extension wrote or reads (an export, a run's config) where the user can reach it — also in
 * code-server, a browser and remote windows, where `revealFileInOS` does nothing (the OS file manager is on
 * another machine, or there is none):
 * - inside a workspace folder: the Explorer selects it;
 * - in a local desktop window: the OS file manager;
 * - otherwise: the file is opened in an editor and its path offered for copying.
 */
import * as vscode from 'vscode';

export type RevealHow = 'explorer' | 'os' | 'editor';

/** Where {@link revealPath} shows a file: pure, for tests. */
export function revealHow(
  inWorkspace: boolean,
  remoteName: string | undefined,
  desktop: boolean,
): RevealHow {
  if (inWorkspace) return 'explorer';
  return !remoteName && desktop ? 'os' : 'editor';
}

export async function revealPath(file: string): Promise<RevealHow> {
  const uri = vscode.Uri.file(file);
  const how = revealHow(
    !!vscode.workspace.getWorkspaceFolder(uri),
    vscode.env?.remoteName,
    vscode.env?.uiKind === vscode.UIKind?.Desktop,
  );
  if (how === 'explorer') await vscode.commands.executeCommand('revealInExplorer', uri);
  else if (how === 'os') await vscode.commands.executeCommand('revealFileInOS', uri);
  else {
    await vscode.commands.executeCommand('vscode.open', uri);
    const copy = 'Copy Path';
    void vscode.window
      .showInformationMessage(
        `Fisher Lens: ${file} (outside the workspace; opened in the editor).`,
        copy,
      )
      .then((c) => (c === copy ? vscode.env.clipboard.writeText(file) : undefined));
  }
  return how;
}
