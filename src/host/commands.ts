/**
 * The commands. Each accepts what VS Code passes from its menus (a tree element, plus the selection for
 * multi-select) or a run id, and falls back to a quick pick when invoked from the palette.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as vscode from 'vscode';
import { makeRunId } from '../runs/runId';
import type { ConfigError, RunConfig } from '../shared/config';
import { isTerminal, RUN_FILES } from '../shared/protocol';
import { ComparePanel } from './comparePanel';
import { EXPORT_FORMATS, ensureRealDir, writeDataExports, writeFileNoFollow, type ExportFormat } from './exporter';
import { runDirProblem, type Launcher, type RunSource } from './launcher';
import { isRunDir } from '../runs/reader';
import { ensureDir } from '../runs/preflight';
import { log } from './log';
import { MonitorPanel, type PanelHost } from './monitorPanel';
import type { RunInfo, RunStore } from './runStore';
import { noIcons, noLinks } from './sanitize';
import { fmt, pct } from '../shared/series';
import { workspaceRoot, type Settings } from './settings';

/** What the commands work with. */
export interface CommandHost extends PanelHost {
  context: vscode.ExtensionContext;
  store: RunStore;
  launcher: Launcher;
  settings(): Settings;
  revealInTree(runId: string): void;
  refreshTree(): void;
}

/** A run argument as VS Code passes it: a tree element, a run id, or nothing. */
type RunArg = RunInfo | string | undefined | null;

const idOf = (a: unknown): string | undefined =>
  typeof a === 'string' ? a : a && typeof a === 'object' && typeof (a as RunInfo).runId === 'string' ? (a as RunInfo).runId : undefined;

/** Is the workspace trusted? If not, say why nothing is launched. */
function trusted(): boolean {
  if (vscode.workspace.isTrusted) return true;
  const manage = 'Manage Workspace Trust';
  void vscode.window
    .showWarningMessage('Fisher Lens does not start training in an untrusted workspace (it runs a trainer process and writes files). Existing runs can still be viewed.', manage)
    .then((c) => c === manage && vscode.commands.executeCommand('workbench.trust.manage'));
  return false;
}

// The run-config schema (TypeBox + Ajv), presets and the synthetic-run writer load on first use, not at
// activation: they are most of the bundle's start-up cost.
const configModule = () => import('../shared/config');
const presetsModule = () => import('../shared/presets');

const isConfigError = (e: unknown): e is ConfigError => e instanceof Error && e.name === 'ConfigError' && Array.isArray((e as ConfigError).problems);

function showConfigError(e: unknown, what: string) {
  if (isConfigError(e)) {
    log.error(e.message);
    void vscode.window.showErrorMessage(`${what}: ${e.problems.join('; ')}`);
  } else {
    log.error(`${what}:`, e);
    void vscode.window.showErrorMessage(`${what}: ${(e as Error)?.message ?? String(e)}`);
  }
}

export function registerCommands(h: CommandHost): vscode.Disposable[] {
  const { store, launcher } = h;
  const settings = () => h.settings();

  /** Start a run from a config; opens its monitor. */
  const launch = async (source: RunSource, nameOrFile: string): Promise<string | undefined> => {
    if (!trusted()) return undefined;
    const s = settings();
    if (!fs.existsSync(launcher.cliPath)) {
      void vscode.window.showErrorMessage(`Fisher Lens: the trainer is missing (${launcher.cliPath}). Reinstall the extension or run \`npm run build\`.`);
      return undefined;
    }
    const runId = makeRunId(nameOrFile, new Date(), s.runsDirectory);
    const { totalSteps } = await configModule();
    try {
      launcher.launch({ runId, source, totalSteps: totalSteps(source.config) });
    } catch (e) {
      showConfigError(e, `Could not start ${runId}`);
      return undefined;
    }
    store.refresh();
    h.setActiveRun(runId);
    h.openMonitor(runId);
    const queued = launcher.get(runId)?.state === 'queued';
    if (queued) void vscode.window.showInformationMessage(`${runId} is queued: ${s.maxConcurrentRuns} run(s) already running (fisherLens.maxConcurrentRuns).`);
    return runId;
  };

  const pickRun = async (filter: (r: RunInfo) => boolean, placeHolder: string, empty: string): Promise<string | undefined> => {
    const runs = store.runs().filter(filter);
    if (!runs.length) {
      void vscode.window.showInformationMessage(empty);
      return undefined;
    }
    // ignoreFocusOut on every picker: live runs re-render views while the user chooses, and a picker that
    // closed when one of them took focus would lose the choice.
    const pick = await vscode.window.showQuickPick(
      runs.map((r) => ({ label: noIcons(r.runId), description: r.stale ? 'stale' : r.state, detail: describeRun(r), runId: r.runId })),
      { placeHolder, matchOnDescription: true, ignoreFocusOut: true },
    );
    return pick?.runId;
  };

  const newRun = async (presetId?: unknown) => {
    if (!trusted()) return undefined;
    type Item = vscode.QuickPickItem & { presetId?: string; file?: vscode.Uri };
    const { PRESETS, presetConfig } = await presetsModule();
    let chosen: Item | undefined;
    if (typeof presetId === 'string') {
      chosen = { label: presetId, presetId };
    } else {
      const files = await vscode.workspace.findFiles('**/*.fisher.json', '**/node_modules/**', 500);
      const items: Item[] = [
        { label: 'Presets (from the paper)', kind: vscode.QuickPickItemKind.Separator },
        ...PRESETS.map((p) => ({ label: p.label, description: p.id, detail: p.detail, presetId: p.id })),
      ];
      if (files.length) {
        items.push({ label: 'Config files', kind: vscode.QuickPickItemKind.Separator });
        for (const f of files.sort((a, b) => a.fsPath.localeCompare(b.fsPath))) {
          items.push({ label: `$(file) ${path.basename(f.fsPath)}`, description: vscode.workspace.asRelativePath(f), file: f });
        }
      }
      chosen = await vscode.window.showQuickPick(items, { placeHolder: 'Start a training run: pick a preset or a *.fisher.json config', matchOnDetail: true, matchOnDescription: true, ignoreFocusOut: true });
    }
    if (!chosen) return undefined;
    if (chosen.file) return runFile(chosen.file);
    const preset = PRESETS.find((p) => p.id === chosen!.presetId);
    if (!preset) {
      void vscode.window.showErrorMessage(`Fisher Lens: unknown preset ${JSON.stringify(chosen.presetId)}; presets: ${PRESETS.map((p) => p.id).join(', ')}`);
      return undefined;
    }
    let config: RunConfig;
    try {
      config = presetConfig(preset, settings().presetOverrides);
    } catch (e) {
      showConfigError(e, `Preset ${preset.id} with fisherLens.presetOverrides is not a valid run config`);
      return undefined;
    }
    return launch({ kind: 'config', config }, config.name ?? preset.id);
  };

  const runFile = async (arg?: unknown) => {
    if (!trusted()) return undefined;
    let uri = arg instanceof vscode.Uri ? arg : undefined;
    if (!uri) {
      const active = vscode.window.activeTextEditor?.document;
      if (active && /\.fisher\.json$/i.test(active.fileName)) uri = active.uri;
    }
    if (!uri) {
      const files = await vscode.workspace.findFiles('**/*.fisher.json', '**/node_modules/**', 500);
      if (!files.length) {
        void vscode.window.showInformationMessage('No *.fisher.json run config in this workspace. Use "Fisher Lens: New Run…" to start from a preset.');
        return undefined;
      }
      const pick = await vscode.window.showQuickPick(
        files.map((f) => ({ label: path.basename(f.fsPath), description: vscode.workspace.asRelativePath(f), uri: f })),
        { placeHolder: 'Run which config?', ignoreFocusOut: true },
      );
      uri = pick?.uri;
    }
    if (!uri) return undefined;
    const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri!.toString());
    if (open?.isDirty) await open.save();
    let config: RunConfig;
    try {
      const cm = await configModule();
      // A local file goes through the CLI's reader: regular files only, size-capped, BOM accepted.
      const text = open
        ? open.getText()
        : uri.scheme === 'file'
          ? cm.readConfigFile(uri.fsPath)
          : new TextDecoder().decode(await vscode.workspace.fs.readFile(uri));
      config = cm.parseConfig(text, vscode.workspace.asRelativePath(uri));
    } catch (e) {
      showConfigError(e, 'Invalid run config');
      return undefined;
    }
    if (uri.scheme !== 'file') {
      return launch({ kind: 'config', config }, config.name ?? path.basename(uri.path));
    }
    const dsPath = config.dataset.path;
    if (dsPath && !path.isAbsolute(dsPath)) {
      // Resolve the data folder against the config file now, so the run's config.json names it absolutely
      // and "Rerun with Fisher Penalty" (which starts from config.json) finds the data too.
      config.dataset.path = path.resolve(path.dirname(uri.fsPath), dsPath);
      return launch({ kind: 'config', config }, config.name ?? uri.fsPath);
    }
    return launch({ kind: 'file', file: uri.fsPath, config }, config.name ?? uri.fsPath);
  };

  const stopRun = async (arg?: RunArg) => {
    const runId = idOf(arg) ?? (await pickRun((r) => r.state === 'running' || r.state === 'queued', 'Stop which run?', 'No run is running.'));
    if (!runId) return;
    const r = store.get(runId);
    if (r && isTerminal(r.state)) {
      void vscode.window.showInformationMessage(`${runId} is not running (${r.state}).`);
      return;
    }
    const how = launcher.stop(runId, r?.dir, store.root);
    log.info(`stop ${noLinks(runId)}: ${how}`);
    if (how === 'nothing') void vscode.window.showWarningMessage(`Could not stop ${noLinks(runId)}: its run directory was not found or is not a real folder inside the runs root (see the log).`);
    store.refresh();
  };

  const openMonitor = async (arg?: RunArg) => {
    const runId =
      idOf(arg) ??
      (await pickRun(
        () => true,
        'Open the monitor of which run?',
        'No runs yet. Start one with "Fisher Lens: New Run…".',
      ));
    if (runId) h.openMonitor(runId);
  };

  const compareRuns = async (arg?: RunArg, selection?: unknown) => {
    let ids = Array.isArray(selection) ? selection.map(idOf).filter((x): x is string => !!x) : [];
    if (ids.length < 2 && Array.isArray(arg)) ids = arg.map(idOf).filter((x): x is string => !!x);
    if (ids.length < 2) {
      const runs = store.runs();
      if (runs.length < 2) {
        void vscode.window.showInformationMessage('Comparing needs at least two runs.');
        return;
      }
      const first = idOf(arg);
      const picks = await vscode.window.showQuickPick(
        runs.map((r) => ({ label: noIcons(r.runId), description: r.stale ? 'stale' : r.state, detail: describeRun(r), picked: r.runId === first, runId: r.runId })),
        { canPickMany: true, placeHolder: 'Pick the runs to compare (two or more)', ignoreFocusOut: true },
      );
      if (!picks) return;
      ids = picks.map((p) => p.runId);
      if (ids.length < 2) {
        void vscode.window.showInformationMessage('Pick at least two runs to compare.');
        return;
      }
    }
    ComparePanel.show(h, ids);
  };

  const deleteRun = async (arg?: RunArg, selection?: unknown) => {
    let ids = Array.isArray(selection) && selection.length > 1 ? selection.map(idOf).filter((x): x is string => !!x) : [];
    if (!ids.length) {
      const one = idOf(arg) ?? (await pickRun((r) => isTerminal(r.state), 'Delete which run?', 'No finished run to delete.'));
      if (!one) return;
      ids = [one];
    }
    const live = ids.filter((id) => {
      const r = store.get(id);
      return r && !isTerminal(r.state);
    });
    if (live.length) {
      void vscode.window.showWarningMessage(`Cannot delete ${live.join(', ')}: still ${store.get(live[0])?.state}. Stop it first.`);
      return;
    }
    const what = ids.length === 1 ? `run ${ids[0]}` : `${ids.length} runs (${ids.join(', ')})`;
    const ok = await vscode.window.showWarningMessage(`Delete ${what}? Its folder and all its data are removed.`, { modal: true }, 'Delete');
    if (ok !== 'Delete') return;
    for (const id of ids) {
      const r = store.get(id);
      if (!r) continue;
      // Only ever remove a real folder (never a symlink to one) directly inside the runs root that holds a run.
      // rm itself never follows a symlink found inside it (it removes the link).
      const bad = runDirProblem(r.dir, store.root);
      if (bad || !isRunDir(r.dir)) {
        log.warn(`refused to delete ${r.dir}: ${bad ?? 'not a run folder'}`);
        void vscode.window.showErrorMessage(`Refusing to delete ${noLinks(r.dir, 300)}: not a run folder inside ${noLinks(store.root, 300)}.`);
        continue;
      }
      MonitorPanel.get(id)?.dispose();
      try {
        await fs.promises.rm(r.dir, { recursive: true, force: true });
        log.info(`deleted ${r.dir}`);
      } catch (e) {
        void vscode.window.showErrorMessage(`Could not delete ${id}: ${(e as Error).message}`);
      }
    }
    store.refresh();
  };

  const exportRun = async (arg?: RunArg, opts?: { formats?: ExportFormat[]; dir?: string }) => {
    const runId = idOf(arg) ?? (await pickRun(() => true, 'Export which run?', 'No runs to export.'));
    if (!runId || !store.get(runId)) return undefined;
    let formats = (opts?.formats ?? []).filter((f) => EXPORT_FORMATS.includes(f));
    if (!formats.length) {
      const picks = await vscode.window.showQuickPick(
        [
          { label: 'CSV', description: 'every series, one row per step', format: 'csv' as const, picked: true },
          { label: 'TensorBoard', description: 'events.out.tfevents.* scalars', format: 'tensorboard' as const, picked: true },
          { label: 'PNG', description: 'the monitor charts as an image', format: 'png' as const, picked: true },
        ],
        { canPickMany: true, placeHolder: `Export ${runId} as…` },
      );
      if (!picks?.length) return undefined;
      formats = picks.map((p) => p.format);
    }
    let base = opts?.dir;
    if (!base) {
      const ws = workspaceRoot();
      const picked = await vscode.window.showOpenDialog({
        canSelectFolders: true,
        canSelectFiles: false,
        canSelectMany: false,
        openLabel: 'Export here',
        title: `Export ${runId}: a folder (files go to <folder>/${runId}/)`,
        defaultUri: ws ? vscode.Uri.file(ws) : undefined,
      });
      if (!picked?.[0]) return undefined;
      base = picked[0].fsPath;
    }
    const outDir = path.join(base, runId);
    const follow = store.follow(runId);
    const written: string[] = [];
    try {
      await follow.loaded;
      const series = store.series(runId);
      if (!series) throw new Error('no events to export');
      written.push(...writeDataExports(series, outDir, formats));
      if (formats.includes('png')) {
        const panel = MonitorPanel.show(h, runId, true);
        const png = await panel.capturePng();
        const f = path.join(outDir, `${runId}.png`);
        ensureRealDir(outDir);
        writeFileNoFollow(f, png);
        written.push(f);
      }
    } catch (e) {
      void vscode.window.showErrorMessage(`Export of ${runId} failed: ${noLinks((e as Error).message, 500)}`);
      log.error(`export ${runId}:`, e);
    } finally {
      follow.dispose();
    }
    if (written.length) {
      log.info(`exported ${runId}: ${written.join(', ')}`);
      const reveal = 'Reveal';
      void vscode.window.showInformationMessage(`Exported ${runId} to ${outDir} (${written.map((f) => path.basename(f)).join(', ')}).`, reveal).then((c) => {
        if (c === reveal) void vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(written[0]));
      });
    }
    return written;
  };

  const revealRun = async (arg?: RunArg) => {
    const runId = idOf(arg) ?? (await pickRun(() => true, 'Reveal which run?', 'No runs yet.'));
    const r = runId ? store.get(runId) : undefined;
    if (!r) return;
    const target = vscode.Uri.file(path.join(r.dir, fs.existsSync(path.join(r.dir, RUN_FILES.config)) ? RUN_FILES.config : ''));
    const inWorkspace = !!vscode.workspace.getWorkspaceFolder(target);
    await vscode.commands.executeCommand(inWorkspace ? 'revealInExplorer' : 'revealFileInOS', target);
    h.revealInTree(r.runId);
  };

  const rerunWithPenalty = async (arg?: RunArg) => {
    const runId = idOf(arg);
    const r = runId ? store.get(runId) : undefined;
    if (!r?.config) {
      void vscode.window.showErrorMessage(`Cannot rerun ${runId ?? 'that run'}: its config.json is missing.`);
      return undefined;
    }
    const { withFisherPenalty } = await presetsModule();
    const base = structuredClone(r.config) as RunConfig;
    const ds = base.dataset as { path?: string } | undefined;
    // A relative data folder in config.json was relative to a config file we no longer know: try the workspace.
    if (ds?.path && !path.isAbsolute(ds.path)) ds.path = path.resolve(workspaceRoot() ?? store.root, ds.path);
    let config: RunConfig;
    try {
      config = withFisherPenalty(base, r.runId);
    } catch (e) {
      showConfigError(e, `Cannot rerun ${r.runId} with the Fisher penalty`);
      return undefined;
    }
    return launch({ kind: 'config', config }, config.name ?? `${r.runId}-fp`);
  };

  const demoRun = async (opts?: { explosion?: boolean; steps?: number; replayMs?: number }) => {
    const s = settings();
    const runId = makeRunId(opts?.explosion === false ? 'synthetic-flat' : 'synthetic', new Date(), s.runsDirectory);
    try {
      ensureDir(s.runsDirectory, 'fisherLens.runsDirectory');
    } catch (e) {
      void vscode.window.showErrorMessage(`Fisher Lens: ${noLinks((e as Error).message, 500)}`);
      return undefined;
    }
    const { writeFakeRun } = await import('../shared/fakeRun');
    const done = writeFakeRun(
      s.runsDirectory,
      { runId, steps: opts?.steps ?? 800, explosion: opts?.explosion !== false, noise: true, seed: Date.now() % 1000 },
      { replayMs: opts?.replayMs ?? 150, chunkSteps: 10 },
    );
    store.refresh();
    h.setActiveRun(runId);
    h.openMonitor(runId);
    void done.then(() => store.refresh(), (e) => log.error('synthetic run:', e));
    return runId;
  };

  const reg = (id: string, fn: (...args: never[]) => unknown) =>
    vscode.commands.registerCommand(id, async (...args: unknown[]) => {
      try {
        return await (fn as (...a: unknown[]) => unknown)(...args);
      } catch (e) {
        log.error(`${id} failed:`, e);
        void vscode.window.showErrorMessage(`Fisher Lens: ${id} failed: ${(e as Error)?.message ?? String(e)}`);
        return undefined;
      }
    });

  return [
    reg('fisherLens.newRun', newRun),
    reg('fisherLens.runConfigFile', runFile),
    reg('fisherLens.stopRun', stopRun),
    reg('fisherLens.openMonitor', openMonitor),
    reg('fisherLens.compareRuns', compareRuns),
    reg('fisherLens.deleteRun', deleteRun),
    reg('fisherLens.exportRun', exportRun),
    reg('fisherLens.revealRun', revealRun),
    reg('fisherLens.refreshRuns', () => {
      store.refresh();
      h.refreshTree();
    }),
    reg('fisherLens.rerunWithFisherPenalty', rerunWithPenalty),
    reg('fisherLens.replaySyntheticRun', demoRun),
    reg('fisherLens.showLog', () => log.show()),
  ];
}

/** One line about a run for quick picks (never throws for a damaged run; no icons or markup from its files). */
export function describeRun(r: RunInfo): string {
  const h = r.headline;
  const parts = [r.name !== r.runId ? r.name : ''];
  if (typeof h.peakTrF === 'number' && Number.isFinite(h.peakTrF)) parts.push(`${h.peakKind} Tr(F) ${fmt(h.peakTrF)}`);
  if (typeof h.testAcc === 'number' && Number.isFinite(h.testAcc)) parts.push(`test ${pct(h.testAcc)}`);
  if (r.stale) parts.push(`stale: ${r.stale}`);
  if (r.problems.length) parts.push(`⚠ ${r.problems[0]}`);
  return noIcons(noLinks(parts.filter(Boolean).join(' · '), 300), 320);
}

