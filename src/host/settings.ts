/** The extension's settings (`fisherLens.*`), read fresh each time and resolved against the workspace. */
import os from 'node:os';
import path from 'node:path';
import * as vscode from 'vscode';
import { BACKENDS } from '../shared/backends';

/** Backends of the setting: the run config's (`torch*` ones run the PyTorch engine, see src/host/python.ts). */
export const SETTING_BACKENDS = BACKENDS;
export type SettingBackend = (typeof SETTING_BACKENDS)[number];

export interface Settings {
  /** Absolute runs root. */
  runsDirectory: string;
  backend: SettingBackend;
  /** Node executable for the trainer ('' = `node` on PATH). */
  nodePath: string;
  /**
   * Python interpreter for the PyTorch engine ('' = the Python extension's interpreter, else `python3` on the
   * PATH: see src/host/python.ts). A path is expanded like the runs directory; a bare name is looked up on the PATH.
   */
  pythonPath: string;
  maxConcurrentRuns: number;
  /** Object merged into every preset. */
  presetOverrides: Record<string, unknown>;
}

/** The first workspace folder's path, if any. */
export const workspaceRoot = (): string | undefined =>
  vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;

/** Expand `${workspaceFolder}`, `${userHome}`, `~`; relative paths resolve against the workspace (or `fallback`). */
export function resolvePath(p: string, fallback: string): string {
  const ws = workspaceRoot();
  let s = p.trim();
  if (!s) return fallback;
  if (s.includes('${workspaceFolder}')) {
    if (!ws) return fallback;
    s = s.split('${workspaceFolder}').join(ws);
  }
  s = s.split('${userHome}').join(os.homedir());
  if (s === '~' || s.startsWith('~/')) s = path.join(os.homedir(), s.slice(1));
  return path.isAbsolute(s) ? path.normalize(s) : path.resolve(ws ?? path.dirname(fallback), s);
}

/**
 * An executable setting: '' stays '' (not set); a bare command name (`python3.11`) is left for the PATH; a path
 * (`~/venv/bin/python`, `${workspaceFolder}/.venv/bin/python`, `.venv/bin/python`) is expanded and made absolute.
 */
export function executablePath(v: unknown): string {
  const s = typeof v === 'string' ? v.trim() : '';
  if (!s || !/[\\/~]|\$\{/.test(s)) return s;
  // Without a workspace folder `${workspaceFolder}` cannot expand: left as written, the launch names it.
  if (s.includes('${workspaceFolder}') && !workspaceRoot()) return s;
  // A relative path without a workspace folder: relative to the home folder.
  return resolvePath(s, path.join(os.homedir(), 'python'));
}

/** Current settings; `globalRuns` is where runs go without a workspace folder. */
export function getSettings(globalRuns: string): Settings {
  const c = vscode.workspace.getConfiguration('fisherLens');
  const backend = c.get<string>('backend', 'auto');
  const overrides = c.get<unknown>('presetOverrides', {});
  return {
    runsDirectory: resolvePath(
      c.get<string>('runsDirectory', '${workspaceFolder}/.fisherlens/runs'),
      globalRuns,
    ),
    backend: (SETTING_BACKENDS as readonly string[]).includes(backend)
      ? (backend as SettingBackend)
      : 'auto',
    nodePath: c.get<string>('nodePath', '').trim(),
    pythonPath: executablePath(c.get<string>('pythonPath', '')),
    maxConcurrentRuns: Math.max(1, Math.floor(c.get<number>('maxConcurrentRuns', 1) || 1)),
    presetOverrides:
      overrides && typeof overrides === 'object' && !Array.isArray(overrides)
        ? (overrides as Record<string, unknown>)
        : {},
  };
}
