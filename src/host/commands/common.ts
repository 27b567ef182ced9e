/**
 * What the commands share: the host they work with, how a run argument from a menu is read, the trust gate,
 * how a config error is shown, and the run quick pick.
 */
import path from 'node:path';
import * as vscode from 'vscode';
import type { ConfigError } from '../../shared/config';
import { fmt, isFiniteNumber, pct } from '../../shared/format';
import type { Launcher } from '../launcher';
import { log } from '../log';
import type { PanelHost } from '../panels/panelBase';
import type { RunEntry, RunsModel } from '../runsModel';
import { noIcons, noLinks } from '../sanitize';
import type { Settings } from '../settings';

/** What the commands work with. */
export interface CommandHost extends PanelHost {
  context: vscode.ExtensionContext;
  store: RunsModel;
  launcher: Launcher;
  settings(): Settings;
  revealInTree(runId: string): void;
  refreshTree(): void;
  /** Put a refused config's problems in the Problems panel, on its file. */
  configProblems?(uri: vscode.Uri, text: string, e: unknown): void;
  /** The Runs view's filter text ('' = all runs). */
  runFilter: { get(): string; set(text: string): void };
}

/** A run argument as VS Code passes it: a tree element, a run id, or nothing. */
export type RunArg = RunEntry | string | undefined | null;

/** The run id of a command argument (a run id or a tree element), if it is one. */
export const idOf = (a: unknown): string | undefined =>
  typeof a === 'string'
    ? a
    : a && typeof a === 'object' && typeof (a as RunEntry).runId === 'string'
      ? (a as RunEntry).runId
      : undefined;

/** The run ids of a multi-selection (what VS Code passes as a menu command's second argument). */
export const idsOf = (selection: unknown): string[] =>
  Array.isArray(selection) ? selection.map(idOf).filter((x): x is string => !!x) : [];

// The run-config schema (TypeBox + Ajv), presets and the synthetic-run writer load on first use, not at
// activation: they are most of the bundle's start-up cost.
export const configModule = () => import('../../shared/config');
export const presetsModule = () => import('../../shared/presets');

/** The workspace's run configs (`*.fisher.json`), at most 500. */
export const findConfigFiles = () =>
  vscode.workspace.findFiles('**/*.fisher.json', '**/node_modules/**', 500);

/**
 * The file a command acts on: the active editor's when its name ends with `suffix` (e.g. `.sweep.json`), else one
 * picked from the workspace's files with that ending; undefined (after saying `none`) when there are none.
 */
export async function activeOrPickedFile(
  suffix: string,
  texts: { none: string; placeHolder: string },
): Promise<vscode.Uri | undefined> {
  const active = vscode.window.activeTextEditor?.document;
  if (active && active.fileName.toLowerCase().endsWith(suffix)) return active.uri;
  const files = await vscode.workspace.findFiles(`**/*${suffix}`, '**/node_modules/**', 500);
  if (!files.length) {
    void vscode.window.showInformationMessage(texts.none);
    return undefined;
  }
  const pick = await vscode.window.showQuickPick(
    files.map((f) => ({
      label: path.basename(f.fsPath),
      description: vscode.workspace.asRelativePath(f),
      uri: f,
    })),
    { placeHolder: texts.placeHolder, ignoreFocusOut: true },
  );
  return pick?.uri;
}

/** Is the workspace trusted? If not, say why nothing is launched. */
export function trusted(): boolean {
  if (vscode.workspace.isTrusted) return true;
  const manage = 'Manage Workspace Trust';
  void vscode.window
    .showWarningMessage(
      'Fisher Lens does not start training in an untrusted workspace (it runs a trainer process and writes files). Existing runs can still be viewed.',
      manage,
    )
    .then((c) => c === manage && vscode.commands.executeCommand('workbench.trust.manage'));
  return false;
}

const isConfigError = (e: unknown): e is ConfigError =>
  e instanceof Error && e.name === 'ConfigError' && Array.isArray((e as ConfigError).problems);

/** Show why a config could not be used: every problem of a ConfigError, else the error's message. */
export function showConfigError(e: unknown, what: string): void {
  if (isConfigError(e)) {
    log.error(e.message);
    void vscode.window.showErrorMessage(`${what}: ${e.problems.join('; ')}`);
  } else {
    log.error(`${what}:`, e);
    void vscode.window.showErrorMessage(`${what}: ${(e as Error)?.message ?? String(e)}`);
  }
}

/** A quick-pick item for a run (label, state, headline; nothing from its files renders as an icon or link). */
export const runPickItem = (r: RunEntry) => ({
  label: noIcons(r.runId),
  description: r.stale ? 'stale' : r.state,
  detail: describeRun(r),
  runId: r.runId,
});

/** Ask for one run among those passing `filter`; says `empty` when there is none. */
export async function pickRun(
  h: CommandHost,
  filter: (r: RunEntry) => boolean,
  placeHolder: string,
  empty: string,
): Promise<string | undefined> {
  const runs = h.store.runs().filter(filter);
  if (!runs.length) {
    void vscode.window.showInformationMessage(empty);
    return undefined;
  }
  // ignoreFocusOut on every picker: live runs re-render views while the user chooses, and a picker that
  // closed when one of them took focus would lose the choice.
  const pick = await vscode.window.showQuickPick(runs.map(runPickItem), {
    placeHolder,
    matchOnDescription: true,
    ignoreFocusOut: true,
  });
  return pick?.runId;
}

/** One line about a run for quick picks (never throws for a damaged run; no icons or markup from its files). */
export function describeRun(r: RunEntry): string {
  const h = r.headline;
  const parts = [r.name !== r.runId ? r.name : ''];
  if (isFiniteNumber(h.peakTrF)) parts.push(`${h.peakKind} Tr(F) ${fmt(h.peakTrF)}`);
  if (isFiniteNumber(h.testAcc)) parts.push(`test ${pct(h.testAcc)}`);
  if (r.stale) parts.push(`stale: ${r.stale}`);
  if (r.problems.length) parts.push(`⚠ ${r.problems[0]}`);
  return noIcons(noLinks(parts.filter(Boolean).join(' · '), 300), 320);
}
