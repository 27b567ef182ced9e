/**
 * The compare panel (`fisherLens.compare`): one panel overlaying any number of runs. Same replica protocol as
 * the monitor: a snapshot of every run when the webview is ready, then increments of the live ones.
 */
import * as vscode from 'vscode';
import type { RunEvent } from '../shared/protocol';
import {
  validateCompareViewState,
  validateFromCompare,
  type CompareRun,
  type ToCompareMessage,
} from '../shared/webviewProtocol';
import { Disposable } from './dispose';
import { log } from './log';
import { stateMessage, type PanelHost } from './monitorPanel';
import { esc, panelOptions, webviewHtml } from './webviewHtml';

function compareBody(runIds: readonly string[]): string {
  const opt = (v: string, label: string, sel = false) => `<vscode-option value="${v}"${sel ? ' selected' : ''}>${label}</vscode-option>`;
  return `<header class="toolbar">
  <div class="run-title"><span class="run-id">Comparing ${runIds.length} runs</span></div>
  <div class="controls">
    <label class="ctl">align by <vscode-single-select id="x-axis">${opt('step', 'step', true)}${opt('epoch', 'epoch')}</vscode-single-select></label>
    <label class="ctl">smoothing <vscode-single-select id="smoothing">${['0', '0.6', '0.8', '0.9', '0.95'].map((v, i) => opt(v, v === '0' ? 'off' : v, i === 0)).join('')}</vscode-single-select></label>
    <vscode-checkbox id="log-scale">log Tr(F)</vscode-checkbox>
  </div>
</header>
<div id="compare-legend" class="legend">${runIds.map((id) => `<span class="legend-item" data-run="${esc(id)}"><span class="swatch"></span>${esc(id)}</span>`).join('')}</div>
<section class="charts" id="compare-charts"></section>
<section class="details">
  <h3>Summary</h3>
  <table id="summary-table" class="grid"><thead></thead><tbody></tbody></table>
  <h3>Config differences</h3>
  <table id="config-diff" class="grid"><thead></thead><tbody></tbody></table>
</section>`;
}

export class ComparePanel extends Disposable {
  static readonly viewType = 'fisherLens.compare';
  private static current: ComparePanel | undefined;

  private ready = false;
  private queue = new Map<string, RunEvent[]>();
  private flushTimer: NodeJS.Timeout | null = null;
  private follows: { loaded: Promise<void>; dispose(): void }[] = [];
  private lastStates = new Map<string, string>();

  /** Show the runs in the compare panel (replacing what it showed). */
  static show(host: PanelHost, runIds: string[]): ComparePanel {
    const cur = ComparePanel.current;
    if (cur) {
      cur.setRuns(runIds);
      cur.panel.reveal();
      return cur;
    }
    const panel = vscode.window.createWebviewPanel(ComparePanel.viewType, 'Compare runs', vscode.ViewColumn.Active, panelOptions(host.extensionUri));
    return new ComparePanel(host, panel, runIds);
  }

  /** Restore after a reload (panel serializer). */
  static revive(host: PanelHost, panel: vscode.WebviewPanel, state: unknown): void {
    const s = validateCompareViewState(state);
    if (!s || ComparePanel.current) {
      if (!s) log.warn('compare: could not restore a panel without a valid saved state; closing it');
      panel.dispose();
      return;
    }
    panel.webview.options = panelOptions(host.extensionUri);
    new ComparePanel(host, panel, s.runIds);
  }

  private runIds: string[] = [];

  private constructor(
    private readonly host: PanelHost,
    readonly panel: vscode.WebviewPanel,
    runIds: string[],
  ) {
    super();
    ComparePanel.current = this;
    this.register({ dispose: () => ComparePanel.current === this && (ComparePanel.current = undefined) });
    panel.iconPath = vscode.Uri.joinPath(host.extensionUri, 'media', 'fisher-lens.svg');
    this.register(panel.webview.onDidReceiveMessage((m: unknown) => this.receive(m)));
    this.register(panel.onDidChangeViewState(({ webviewPanel }) => !webviewPanel.visible && (this.ready = false)));
    this.register(panel.onDidDispose(() => this.dispose()));
    this.register(
      host.store.onEvents((c) => {
        if (!this.runIds.includes(c.runId)) return;
        if (c.reset) this.ready && void this.sendSnapshot();
        else if (!c.initial) this.enqueue(c.runId, c.events);
      }),
    );
    this.register(host.store.onDidChange((id) => this.onRunChanged(id)));
    this.register({ dispose: () => this.follows.forEach((f) => f.dispose()) });
    this.register({ dispose: () => this.flushTimer && clearTimeout(this.flushTimer) });
    this.setRuns(runIds);
  }

  private setRuns(runIds: string[]) {
    this.runIds = [...new Set(runIds)];
    for (const f of this.follows) f.dispose();
    this.follows = this.runIds.map((id) => this.host.store.follow(id));
    this.panel.title = `Compare ${this.runIds.length} runs`;
    this.ready = false;
    // A new document: the webview posts `ready` when loaded and gets the snapshot then.
    this.panel.webview.html = webviewHtml(this.panel.webview, this.host.extensionUri, 'compare', 'Fisher Lens: compare', compareBody(this.runIds));
  }

  private onRunChanged(id: string | undefined) {
    if (!this.ready) return;
    for (const runId of id ? [id] : this.runIds) {
      if (!this.runIds.includes(runId)) continue;
      const r = this.host.store.get(runId);
      if (!r) continue;
      const key = `${r.state}|${r.summary ? 1 : 0}`;
      if (this.lastStates.get(runId) === key) continue;
      this.lastStates.set(runId, key);
      this.flushEvents(); // events before the state change
      this.post({ type: 'state', runId, state: r.state, message: stateMessage(r), summary: r.summary });
    }
  }

  private enqueue(runId: string, events: RunEvent[]) {
    if (!this.ready || !this.panel.visible) return;
    const q = this.queue.get(runId) ?? [];
    q.push(...events);
    this.queue.set(runId, q);
    this.flushTimer ??= setTimeout(() => this.flushEvents(), 300);
  }

  private flushEvents() {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    if (!this.ready) return;
    for (const [id, evs] of this.queue) this.post({ type: 'events', runId: id, events: evs });
    this.queue.clear();
  }

  private async sendSnapshot() {
    await Promise.all(this.follows.map((f) => f.loaded));
    if (!this.ready) return;
    this.queue.clear();
    const runs: CompareRun[] = [];
    for (const id of this.runIds) {
      const r = this.host.store.get(id);
      const series = this.host.store.viewSeries(id);
      if (!r || !series) {
        log.warn(`compare: run ${id} is not in ${this.host.store.root}; left out`);
        continue;
      }
      this.lastStates.set(id, `${r.state}|${r.summary ? 1 : 0}`);
      runs.push({ runId: id, series, config: r.config, state: r.state, summary: r.summary });
    }
    this.post({ type: 'compareSnapshot', runs });
  }

  private post(msg: ToCompareMessage) {
    void this.panel.webview.postMessage(msg).then(undefined, (e) => log.debug(`compare: post failed: ${String(e)}`));
  }

  private receive(raw: unknown) {
    const v = validateFromCompare(raw);
    if (!v.ok) {
      log.warn(`compare: dropped a malformed message: ${v.error}`);
      return;
    }
    const m = v.msg;
    if (m.type === 'ready') {
      this.ready = true;
      void this.sendSnapshot();
    } else if (m.type === 'openMonitor') {
      if (this.runIds.includes(m.runId)) this.host.openMonitor(m.runId);
      else log.warn(`compare: ignored openMonitor for a run it does not show (${m.runId})`);
    } else if (m.type === 'log') {
      log[m.level](`compare: ${m.message}`);
    }
  }

  override dispose(): void {
    if (this.disposed) return;
    super.dispose();
    this.panel.dispose();
  }
}
