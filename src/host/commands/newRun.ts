/** `fisherLens.newRun` (New Run…): a preset or a `*.fisher.json` from the workspace; a preset id as argument skips the pick. */
import path from 'node:path';
import * as vscode from 'vscode';
import type { RunConfig } from '../../shared/config';
import type { Preset } from '../../shared/presets';
import {
  findConfigFiles,
  presetsModule,
  showConfigError,
  trusted,
  type CommandHost,
} from './common';
import { launchRun } from './launchRun';
import { runConfigFile } from './runConfigFile';

type Item = vscode.QuickPickItem & { presetId?: string; file?: vscode.Uri };

export async function newRun(h: CommandHost, presetId?: unknown): Promise<string | undefined> {
  if (!trusted()) return undefined;
  const { PRESETS, presetConfig } = await presetsModule();
  const chosen: Item | undefined =
    typeof presetId === 'string' ? { label: presetId, presetId } : await pickPresetOrFile(PRESETS);
  if (!chosen) return undefined;
  if (chosen.file) return runConfigFile(h, chosen.file);
  const preset = PRESETS.find((p) => p.id === chosen.presetId);
  if (!preset) {
    void vscode.window.showErrorMessage(
      `Fisher Lens: unknown preset ${JSON.stringify(chosen.presetId)}; presets: ${PRESETS.map((p) => p.id).join(', ')}`,
    );
    return undefined;
  }
  let config: RunConfig;
  try {
    config = presetConfig(preset, h.settings().presetOverrides);
  } catch (e) {
    showConfigError(
      e,
      `Preset ${preset.id} with fisherLens.presetOverrides is not a valid run config`,
    );
    return undefined;
  }
  return launchRun(h, { kind: 'config', config }, config.name ?? preset.id);
}

async function pickPresetOrFile(presets: readonly Preset[]): Promise<Item | undefined> {
  const files = await findConfigFiles();
  const items: Item[] = [
    { label: 'Presets (from the paper)', kind: vscode.QuickPickItemKind.Separator },
    ...presets.map((p) => ({
      label: p.label,
      description: p.id,
      detail: p.detail,
      presetId: p.id,
    })),
  ];
  if (files.length) {
    items.push({ label: 'Config files', kind: vscode.QuickPickItemKind.Separator });
    for (const f of files.sort((a, b) => a.fsPath.localeCompare(b.fsPath))) {
      items.push({
        label: `$(file) ${path.basename(f.fsPath)}`,
        description: vscode.workspace.asRelativePath(f),
        file: f,
      });
    }
  }
  return vscode.window.showQuickPick(items, {
    placeHolder: 'Start a training run: pick a preset or a *.fisher.json config',
    matchOnDetail: true,
    matchOnDescription: true,
    ignoreFocusOut: true,
  });
}
