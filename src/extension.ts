/**
 * Fisher Lens extension entry: wiring only. Everything that touches `vscode` lives in src/host/; the trainer
 * runs in its own process (dist/cli.js) so the extension host never loads tfjs.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as vscode from 'vscode';
import { registerCommands, type CommandHost } from './host/commands';
import { ConfigDiagnostics, trainerConfigProblems } from './host/configDiagnostics';
import { ExplosionWatch } from './host/explosionWatch';
import { Launcher, type LaunchOutcome } from './host/launcher';
import { createLog, log } from './host/log';
import { ComparePanel } from './host/panels/comparePanel';
import { MonitorPanel } from './host/panels/monitorPanel';
import { RunsTablePanel } from './host/panels/runsTablePanel';
import { mementoViewSettings } from './host/panels/viewSettings';
import { RunsModel } from './host/runsModel';
import { RunsTreeProvider } from './host/runsTree';
import { getSettings, workspaceRoot } from './host/settings';
import { RunStatusBar } from './host/statusBar';
import { reportTrainerExit } from './host/trainerExit';
import { EXIT_CODES } from './runs/exitCodes';
import { fixed } from './shared/format';

const FILTER_KEY = 'fisherLens.runsFilter';

/** Everything goes into `context.subscriptions`: `sub(d)` adds `d` and returns it. */
type Sub = <T extends vscode.Disposable>(d: T) => T;

export function activate(context: vscode.ExtensionContext): {
  store: RunsModel;
  launcher: Launcher;
} {
  const t0 = performance.now();
  const sub: Sub = (d) => (context.subscriptions.push(d), d);
  sub(createLog());
  const host = createHost(context, sub);
  const { store, launcher } = host;
  for (const d of registerCommands(host)) sub(d);
  sub(
    new ExplosionWatch(
      store,
      {
        openMonitor: (runId) => host.openMonitor(runId),
        rerunWithPenalty: (runId) =>
          void vscode.commands.executeCommand('fisherLens.rerunWithFisherPenalty', runId),
      },
      { isLocalLive: (runId) => launcher.get(runId)?.state === 'running' },
    ),
  );
  sub(
    launcher.onDidExit((o) => {
      store.refresh();
      reportTrainerExit(o, host.openMonitor, store.get(o.runId)?.status?.error);
      if (o.code === EXIT_CODES.usage) showRefusedConfig(o, host);
    }),
  );
  registerPanels(host, sub);
  const ms = performance.now() - t0;
  log.info(
    `activated in ${fixed(ms, 1)} ms (runs root ${store.root}, ${store.runs().length} runs${vscode.workspace.isTrusted ? '' : ', untrusted workspace: no training'})`,
  );
  return { store, launcher };
}

export function deactivate(): void {
  // Everything is in context.subscriptions.
}

/** The runs model, launcher, Runs tree and status bar, and what commands and panels reach them by. */
function createHost(context: vscode.ExtensionContext, sub: Sub): CommandHost {
  const globalRuns = path.join(context.globalStorageUri.fsPath, 'runs');
  const settings = () => getSettings(globalRuns);
  const store = sub(new RunsModel(settings().runsDirectory));
  const launcher = sub(
    new Launcher(
      context.extensionPath,
      settings,
      () => workspaceRoot() ?? store.root,
      context.workspaceState,
    ),
  );
  // Runs this workspace queued before a reload start here (after trust is granted, in an untrusted one).
  launcher.resumeQueue();
  if (vscode.workspace.onDidGrantWorkspaceTrust)
    sub(vscode.workspace.onDidGrantWorkspaceTrust(() => launcher.resumeQueue()));
  const tree = sub(new RunsTreeProvider(store));
  const treeView = sub(
    vscode.window.createTreeView('fisherLens.runs', {
      treeDataProvider: tree,
      canSelectMany: true,
      showCollapseAll: false,
    }),
  );
  const statusBar = sub(new RunStatusBar(store));
  const configDiagnostics = sub(new ConfigDiagnostics());
  const onRootChange = () => store.setRoot(settings().runsDirectory);
  sub(
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (!e.affectsConfiguration('fisherLens.runsDirectory')) return;
      onRootChange();
      tree.refresh();
    }),
  );
  sub(vscode.workspace.onDidChangeWorkspaceFolders(onRootChange));
  const host: CommandHost = {
    context,
    extensionUri: context.extensionUri,
    store,
    launcher,
    settings,
    stopRun: (runId) => void vscode.commands.executeCommand('fisherLens.stopRun', runId),
    openMonitor: (runId) => void MonitorPanel.show(host, runId),
    setActiveRun: (runId) => statusBar.setActive(runId),
    isQueuedHere: (runId) => launcher.get(runId)?.state === 'queued',
    viewSettings: mementoViewSettings(context.workspaceState),
    revealInTree: (runId) => {
      const r = store.get(runId);
      if (r && treeView.visible) void treeView.reveal(r, { select: true, focus: false });
    },
    refreshTree: () => tree.refresh(),
    configProblems: (uri, text, e) =>
      Array.isArray(e)
        ? configDiagnostics.reportProblems(uri, text, e)
        : configDiagnostics.report(uri, text, e),
    runFilter: {
      get: () => tree.filter,
      set: (text) => {
        tree.setFilter(text);
        showFilter();
        void context.workspaceState?.update(FILTER_KEY, text || undefined);
        void vscode.commands.executeCommand('setContext', 'fisherLens.runsFiltered', !!text);
      },
    },
  };
  // The filter is named above the list while it hides runs, with how many it shows.
  const showFilter = () => {
    const { shown, total } = tree.counts();
    treeView.message = tree.filter
      ? `Filter "${tree.filter.slice(0, 80)}": ${shown} of ${total} runs`
      : undefined;
  };
  sub(store.onDidChange(() => tree.filter && showFilter()));
  const saved = context.workspaceState?.get<unknown>(FILTER_KEY);
  if (typeof saved === 'string' && saved.length <= 200) host.runFilter.set(saved);
  return host;
}

/** The trainer refused a launched run's config (exit code 2): its reasons in the Problems panel, on the config. */
function showRefusedConfig(o: LaunchOutcome, host: CommandHost): void {
  const problems = trainerConfigProblems(o.stderrTail);
  if (!problems.length) return;
  let text = '';
  try {
    // At most what a config may be (the CLI's limit): the positions of the fields named in the problems.
    const st = fs.lstatSync(o.configFile);
    if (st.isFile() && st.size <= 1 << 20) text = fs.readFileSync(o.configFile, 'utf8');
  } catch {
    // gone: the problems are shown at the top of the file
  }
  host.configProblems?.(vscode.Uri.file(o.configFile), text, problems);
}

/** Panels survive a reload (serializers) and close with the extension. */
function registerPanels(host: CommandHost, sub: Sub): void {
  sub(
    vscode.window.registerWebviewPanelSerializer(MonitorPanel.viewType, {
      deserializeWebviewPanel: async (panel, state) => MonitorPanel.revive(host, panel, state),
    }),
  );
  sub(
    vscode.window.registerWebviewPanelSerializer(ComparePanel.viewType, {
      deserializeWebviewPanel: async (panel, state) => ComparePanel.revive(host, panel, state),
    }),
  );
  sub(
    vscode.window.registerWebviewPanelSerializer(RunsTablePanel.viewType, {
      deserializeWebviewPanel: async (panel) => RunsTablePanel.revive(host, panel),
    }),
  );
  sub({ dispose: () => [...MonitorPanel.all()].forEach((p) => p.dispose()) });
}
