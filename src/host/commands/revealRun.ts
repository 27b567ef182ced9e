/** `fisherLens.revealRun` (Reveal Run): its config.json (see ../reveal: Explorer, OS or editor), and the run in the tree. */
import fs from 'node:fs';
import path from 'node:path';
import * as vscode from 'vscode';
import { RUN_FILES } from '../../shared/protocol';
import { revealPath } from '../reveal';
import { idOf, pickRun, type CommandHost, type RunArg } from './common';

export async function revealRun(h: CommandHost, arg?: RunArg): Promise<void> {
  const runId = idOf(arg) ?? (await pickRun(h, () => true, 'Reveal which run?', 'No runs yet.'));
  const r = runId ? h.store.get(runId) : undefined;
  if (!r) return;
  const target = vscode.Uri.file(
    path.join(r.dir, fs.existsSync(path.join(r.dir, RUN_FILES.config)) ? RUN_FILES.config : ''),
  );
  await revealPath(target.fsPath);
  h.revealInTree(r.runId);
}
