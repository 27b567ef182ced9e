/**
 * `fisherLens.runConfigFile` (Run Config File): the file passed from the explorer or editor title, else the
 * active `*.fisher.json` editor, else a pick among the workspace's run configs.
 */
import path from 'node:path';
import * as vscode from 'vscode';
import type { RunConfig } from '../../shared/config';
import type { RunSource } from '../launcher';
import {
  activeOrPickedFile,
  configModule,
  showConfigError,
  trusted,
  type CommandHost,
} from './common';
import { launchRun } from './launchRun';

export async function runConfigFile(h: CommandHost, arg?: unknown): Promise<string | undefined> {
  if (!trusted()) return undefined;
  const uri = arg instanceof vscode.Uri ? arg : await activeOrPickedConfig();
  if (!uri) return undefined;
  const config = await readConfig(h, uri);
  if (!config) return undefined;
  if (uri.scheme !== 'file') {
    return launchRun(h, { kind: 'config', config }, config.name ?? path.basename(uri.path));
  }
  // A relative data folder is resolved against the config file now (the one rule, in shared/config.ts), so
  // the run's config.json names it absolutely and "Rerun with Fisher Penalty" finds the data too.
  const resolved = (await configModule()).withResolvedDatasetPath(config, path.dirname(uri.fsPath));
  const source: RunSource =
    resolved === config
      ? { kind: 'file', file: uri.fsPath, config }
      : { kind: 'config', config: resolved };
  return launchRun(h, source, config.name ?? uri.fsPath, uri.fsPath);
}

const activeOrPickedConfig = () =>
  activeOrPickedFile('.fisher.json', {
    none: 'No *.fisher.json run config in this workspace. Use "Fisher Lens: New Run…" to start from a preset.',
    placeHolder: 'Run which config?',
  });

/** The config in `uri` (its editor's text when open, saved first if dirty), validated; undefined after showing why not (also as problems of the file). */
async function readConfig(h: CommandHost, uri: vscode.Uri): Promise<RunConfig | undefined> {
  const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
  if (open?.isDirty) await open.save();
  let text: string | undefined;
  try {
    const cm = await configModule();
    // A local file goes through the CLI's reader: regular files only, size-capped, BOM accepted.
    text = open
      ? open.getText()
      : uri.scheme === 'file'
        ? cm.readConfigFile(uri.fsPath)
        : new TextDecoder().decode(await vscode.workspace.fs.readFile(uri));
    return cm.parseConfig(text, vscode.workspace.asRelativePath(uri));
  } catch (e) {
    showConfigError(e, 'Invalid run config');
    // Every problem also in the Problems panel, at its field (the notification may be cut short).
    if (text !== undefined) h.configProblems?.(uri, text, e);
    return undefined;
  }
}
