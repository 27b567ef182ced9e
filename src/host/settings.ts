/** The extension's settings (`fisherLens.*`), read fresh each time and resolved against the workspace. */
import os from 'node:os';
import path from 'node:path';
import * as vscode from 'vscode';
import type { BackendName } from '../shared/config';

/** Backends of the setting (the run-config schema module is not loaded at activation: it is heavy). */
const BACKENDS: readonly BackendName[] = [
  'auto',
  'tensorflow-gpu',
  'tensorflow',
  'webgpu',
  'wasm',
  'cpu',
];

export interface Settings {
  /** Absolute runs root. */
  runsDirectory: string;
  backend: BackendName;
  /** Node executable for the trainer ('' = `node` on PATH). */
  nodePath: string;
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
    backend: (BACKENDS as readonly string[]).includes(backend) ? (backend as BackendName) : 'auto',
    nodePath: c.get<string>('nodePath', '').trim(),
    maxConcurrentRuns: Math.max(1, Math.floor(c.get<number>('maxConcurrentRuns', 1) || 1)),
    presetOverrides:
      overrides && typeof overrides === 'object' && !Array.isArray(overrides)
        ? (overrides as Record<string, unknown>)
        : {},
  };
}
