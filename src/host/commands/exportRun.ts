/**
 * `fisherLens.exportRun` (Export Run): CSV, TensorBoard event files and a PNG of the monitor's charts into
 * `<folder>/<runId>/`. Tests and scripts pass `{ formats, dir }` to skip the pickers.
 */
import os from 'node:os';
import path from 'node:path';
import * as vscode from 'vscode';
import {
  EXPORT_FORMATS,
  ensureRealDir,
  writeDataExports,
  writeFileNoFollow,
  type ExportFormat,
} from '../exporter';
import { log } from '../log';
import { revealPath } from '../reveal';
import { MonitorPanel } from '../panels/monitorPanel';
import { noLinks } from '../sanitize';
import { workspaceRoot } from '../settings';
import { idOf, pickRun, type CommandHost, type RunArg } from './common';

export async function exportRun(
  h: CommandHost,
  arg?: RunArg,
  opts?: { formats?: ExportFormat[]; dir?: string },
): Promise<string[] | undefined> {
  const runId =
    idOf(arg) ?? (await pickRun(h, () => true, 'Export which run?', 'No runs to export.'));
  if (!runId || !h.store.get(runId)) return undefined;
  const given = (opts?.formats ?? []).filter((f) => EXPORT_FORMATS.includes(f));
  const formats = given.length ? given : await pickFormats(runId);
  if (!formats?.length) return undefined;
  const base = opts?.dir ?? (await pickFolder(runId));
  if (!base) return undefined;
  const outDir = path.join(base, runId);
  const written = await writeExports(h, runId, outDir, formats);
  if (written.length) {
    log.info(`exported ${runId}: ${written.join(', ')}`);
    const reveal = 'Reveal';
    void vscode.window
      .showInformationMessage(
        `Exported ${runId} to ${outDir} (${written.map((f) => path.basename(f)).join(', ')}).`,
        reveal,
      )
      .then((c) => {
        if (c === reveal) void revealPath(written[0]);
      });
  }
  return written;
}

async function pickFormats(runId: string): Promise<ExportFormat[] | undefined> {
  const picks = await vscode.window.showQuickPick(
    [
      {
        label: 'CSV',
        description: 'every series, one row per step',
        format: 'csv' as const,
        picked: true,
      },
      {
        label: 'TensorBoard',
        description: 'events.out.tfevents.* scalars',
        format: 'tensorboard' as const,
        picked: true,
      },
      {
        label: 'PNG',
        description: 'the monitor charts as an image',
        format: 'png' as const,
        picked: true,
      },
    ],
    { canPickMany: true, placeHolder: `Export ${runId} as…` },
  );
  return picks?.map((p) => p.format);
}

/** The default export folder: `fisher-lens-exports` in the workspace (else the home folder), not its root. */
export function defaultExportFolder(): string {
  return path.join(workspaceRoot() ?? os.homedir(), EXPORTS_FOLDER);
}
const EXPORTS_FOLDER = 'fisher-lens-exports';

async function pickFolder(runId: string): Promise<string | undefined> {
  const def = defaultExportFolder();
  const choice = await vscode.window.showQuickPick(
    [
      { label: path.join(def, runId), description: 'default', dir: def },
      { label: 'Choose a folder…', description: `files go to <folder>/${runId}/`, dir: '' },
    ],
    { placeHolder: `Export ${runId} to…` },
  );
  if (!choice) return undefined;
  if (choice.dir) return choice.dir;
  const ws = workspaceRoot();
  const picked = await vscode.window.showOpenDialog({
    canSelectFolders: true,
    canSelectFiles: false,
    canSelectMany: false,
    openLabel: 'Export here',
    title: `Export ${runId}: a folder (files go to <folder>/${runId}/)`,
    defaultUri: ws ? vscode.Uri.file(ws) : undefined,
  });
  return picked?.[0]?.fsPath;
}

/** Write the exports (the run's history is loaded for it); the files written, also after a failure. */
async function writeExports(
  h: CommandHost,
  runId: string,
  outDir: string,
  formats: ExportFormat[],
): Promise<string[]> {
  const follow = h.store.follow(runId);
  const written: string[] = [];
  try {
    await follow.loaded;
    const series = h.store.series(runId);
    if (!series) throw new Error('no events to export');
    written.push(...writeDataExports(series, outDir, formats));
    if (formats.includes('png')) {
      const png = await MonitorPanel.show(h, runId, true).capturePng();
      const f = path.join(outDir, `${runId}.png`);
      ensureRealDir(outDir);
      writeFileNoFollow(f, png);
      written.push(f);
    }
  } catch (e) {
    void vscode.window.showErrorMessage(
      `Export of ${runId} failed: ${noLinks((e as Error).message, 500)}`,
    );
    log.error(`export ${runId}:`, e);
  } finally {
    follow.dispose();
  }
  return written;
}
