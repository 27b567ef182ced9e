/**
 * The monitor panel (`fisherLens.monitor`), one per run. The host owns the history (RunStore); the webview is
 * a replica: it gets one snapshot when it is ready (first load, becoming visible again, restore after a
 * reload) and then batched increments while visible. Hidden panels get nothing.
 */
import * as vscode from 'vscode';
import type { RunEvent } from '../shared/protocol';
import {
  validateFromMonitor,
  validateMonitorViewState,
  type FromMonitorMessage,
  type ToMonitorMessage,
} from '../shared/webviewProtocol';
import { Disposable } from './dispose';
import { log } from './log';
import type { Follow, RunStore } from './runStore';
import { esc, panelOptions, webviewHtml } from './webviewHtml';

/** What panels need from the rest of the host. */
export interface PanelHost {
  extensionUri: vscode.Uri;
  store: RunStore;
  stopRun(runId: string): void;
  openMonitor(runId: string): void;
  setActiveRun(runId: string): void;
  /** Whether this window has queued the run and not started it yet (its folder may not be listed yet). */
  isQueuedHere?(runId: string): boolean;
}

/** The line a view shows next to a run's state: why it is stale, its error, or what is wrong with its files. */
export function stateMessage(r: { stale: string | null; status: { error?: string | null } | null; summary: { error?: string | null } | null; problems: string[] }): string | null {
  const parts: string[] = [];
  if (r.stale) parts.push(`stale: ${r.stale}`);
  const err = r.status?.error ?? r.summary?.error;
  if (err) parts.push(err);
  if (r.problems.length) parts.push(r.problems.slice(0, 3).join('; '));
  const s = parts.join(' · ');
  return s ? (s.length > 2000 ? `${s.slice(0, 1999)}…` : s) : null;
}

const FLUSH_MS = 200;

function monitorBody(runId: string): string {
  const opt = (v: string, label: string, sel = false) => `<vscode-option value="${v}"${sel ? ' selected' : ''}>${label}</vscode-option>`;
  const chart = (id: string, title: string, cls = '') =>
    `<div class="chart${cls ? ' ' + cls : ''}" id="${id}" data-points="0"><div class="chart-head"><h3>${title}</h3><span class="chart-note"></span></div><div class="plot"></div></div>`;
  return `<header class="toolbar">
  <div class="run-title"><span class="run-id" id="run-id">${esc(runId)}</span>
    <span id="run-state" class="state" data-state="">loading</span>
    <span id="run-progress" class="muted"></span></div>
  <div class="controls">
    <label class="ctl">x <vscode-single-select id="x-axis">${opt('step', 'step', true)}${opt('epoch', 'epoch')}${opt('time', 'time (s)')}</vscode-single-select></label>
    <label class="ctl">smoothing <vscode-single-select id="smoothing">${['0', '0.6', '0.8', '0.9', '0.95', '0.99'].map((v, i) => opt(v, v === '0' ? 'off' : v, i === 0)).join('')}</vscode-single-select></label>
    <vscode-checkbox id="log-scale">log Tr(F)</vscode-checkbox>
    <vscode-button id="stop-button" disabled>Stop</vscode-button>
  </div>
</header>
<div id="banner" class="banner" hidden></div>
<section class="charts">
  ${chart('chart-trf', 'Tr(F) <span class="muted">± s.e., early peak and Tr(F<sub>i</sub>) marked</span>', 'wide')}
  ${chart('chart-trfb', 'Tr(F<sub>B</sub>) <span class="muted">mini-batch</span>')}
  ${chart('chart-loss', 'Loss')}
  ${chart('chart-acc', 'Accuracy')}
  ${chart('chart-noise', 'Clean vs noisy-label training accuracy')}
  ${chart('chart-lr', 'Learning rate and penalty')}
</section>
<section class="details">
  <vscode-collapsible title="Run config" id="config-section" open>
    <div id="config-summary" class="config-summary"></div>
  </vscode-collapsible>
</section>`;
}

export class MonitorPanel extends Disposable {
  static readonly viewType = 'fisherLens.monitor';
  private static readonly open = new Map<string, MonitorPanel>();

  private ready = false;
  private queue: RunEvent[] = [];
  private flushTimer: NodeJS.Timeout | null = null;
  private follow: Follow | null = null;
  private lastState = '';
  private nextRequest = 1;
  private readonly pngWaiters = new Map<number, (r: { dataUrl: string | null; error: string | null }) => void>();
  private readyWaiters: (() => void)[] = [];

  /** Show the monitor of `runId` (reveal it when open). */
  static show(host: PanelHost, runId: string, preserveFocus = false): MonitorPanel {
    const existing = MonitorPanel.open.get(runId);
    if (existing) {
      existing.panel.reveal(undefined, preserveFocus);
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(
      MonitorPanel.viewType,
      `Tr(F) · ${runId}`,
      { viewColumn: vscode.ViewColumn.Active, preserveFocus },
      panelOptions(host.extensionUri),
    );
    return new MonitorPanel(host, panel, runId);
  }

  /** Restore a panel after a reload (panel serializer). */
  static revive(host: PanelHost, panel: vscode.WebviewPanel, state: unknown): void {
    const s = validateMonitorViewState(state);
    if (!s) {
      log.warn('monitor: could not restore a panel without a valid saved state; closing it');
      panel.dispose();
      return;
    }
    const existing = MonitorPanel.open.get(s.runId);
    if (existing) {
      panel.dispose();
      return;
    }
    panel.webview.options = panelOptions(host.extensionUri);
    new MonitorPanel(host, panel, s.runId);
  }

  static get(runId: string): MonitorPanel | undefined {
    return MonitorPanel.open.get(runId);
  }

  static all(): MonitorPanel[] {
    return [...MonitorPanel.open.values()];
  }

  private constructor(
    private readonly host: PanelHost,
    readonly panel: vscode.WebviewPanel,
    readonly runId: string,
  ) {
    super();
    MonitorPanel.open.set(runId, this);
    this.register({ dispose: () => MonitorPanel.open.get(runId) === this && MonitorPanel.open.delete(runId) });
    panel.iconPath = vscode.Uri.joinPath(host.extensionUri, 'media', 'fisher-lens.svg');
    panel.webview.html = webviewHtml(panel.webview, host.extensionUri, 'monitor', `Fisher Lens: ${runId}`, monitorBody(runId));
    this.register(panel.webview.onDidReceiveMessage((m: unknown) => this.receive(m)));
    this.register(
      panel.onDidChangeViewState(({ webviewPanel }) => {
        if (!webviewPanel.visible) this.ready = false; // the webview is torn down; it says `ready` again
        if (webviewPanel.active) host.setActiveRun(runId);
      }),
    );
    this.register(panel.onDidDispose(() => this.dispose()));
    this.register(
      host.store.onEvents((c) => {
        if (c.runId !== runId) return;
        if (c.reset) this.ready && this.sendSnapshot();
        else if (!c.initial) this.enqueue(c.events);
      }),
    );
    this.register(host.store.onDidChange((id) => (id === runId || id === undefined) && this.onRunChanged()));
    this.register({ dispose: () => this.follow?.dispose() });
    this.register({ dispose: () => this.flushTimer && clearTimeout(this.flushTimer) });
    this.startFollowing();
    host.setActiveRun(runId);
  }

  private startFollowing() {
    // Works before the run directory is listed (a run just launched): the tailer waits for its files.
    this.follow = this.host.store.follow(this.runId);
    void this.follow.loaded.then(() => this.ready && this.sendSnapshot());
  }

  private onRunChanged() {
    const r = this.host.store.get(this.runId);
    if (!r || !this.ready) return;
    const message = stateMessage(r);
    const key = `${r.state}|${r.summary ? 1 : 0}|${message ?? ''}`;
    if (key === this.lastState) return;
    this.lastState = key;
    this.flushEvents(); // events before the state change: a finished run never shows with its last points missing
    this.post({ type: 'state', runId: this.runId, state: r.state, message, summary: r.summary });
  }

  private enqueue(events: RunEvent[]) {
    if (!this.ready || !this.panel.visible) return; // a snapshot follows when it is visible again
    this.queue.push(...events);
    this.flushTimer ??= setTimeout(() => this.flushEvents(), FLUSH_MS);
  }

  private flushEvents() {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    if (!this.queue.length || !this.ready) return;
    const events = this.queue;
    this.queue = [];
    this.post({ type: 'events', runId: this.runId, events });
  }

  private sendSnapshot() {
    const r = this.host.store.get(this.runId);
    // Bounded: a few thousand points per table whatever the length of the run (extremes and peak kept).
    const series = this.host.store.viewSeries(this.runId);
    this.queue = []; // everything queued so far is in the series
    if (!r || !series) {
      // Not (or no longer) in the runs root: nothing to stop. A run this window just queued is listed soon.
      const queuedHere = this.host.isQueuedHere?.(this.runId) ?? false;
      this.post({ type: 'state', runId: this.runId, state: queuedHere ? 'queued' : 'failed', message: queuedHere ? 'waiting for the run directory' : `no run folder ${this.runId} in ${this.host.store.root}`, summary: null });
      return;
    }
    const message = stateMessage(r);
    this.lastState = `${r.state}|${r.summary ? 1 : 0}|${message ?? ''}`;
    this.post({ type: 'snapshot', runId: this.runId, series, config: r.config, state: r.state, summary: r.summary });
    // The snapshot resets the view's message: why the run is stale or damaged follows it.
    if (message) this.post({ type: 'state', runId: this.runId, state: r.state, message, summary: r.summary });
  }

  private post(msg: ToMonitorMessage) {
    void this.panel.webview.postMessage(msg).then(undefined, (e) => log.debug(`monitor ${this.runId}: post failed: ${String(e)}`));
  }

  private receive(raw: unknown) {
    const v = validateFromMonitor(raw);
    if (!v.ok) {
      log.warn(`monitor ${this.runId}: dropped a malformed message: ${v.error}`);
      return;
    }
    const m: FromMonitorMessage = v.msg;
    switch (m.type) {
      case 'ready':
        this.ready = true;
        void (this.follow?.loaded ?? Promise.resolve()).then(() => this.ready && this.sendSnapshot());
        for (const w of this.readyWaiters.splice(0)) w();
        break;
      case 'stop':
        if (m.runId !== this.runId) {
          log.warn(`monitor ${this.runId}: ignored a stop for another run (${m.runId})`);
          return;
        }
        this.host.stopRun(this.runId);
        break;
      case 'png':
        this.pngWaiters.get(m.requestId)?.({ dataUrl: m.dataUrl, error: m.error });
        this.pngWaiters.delete(m.requestId);
        break;
      case 'log':
        log[m.level](`monitor ${this.runId}: ${m.message}`);
        break;
    }
  }

  /** Wait until the webview is loaded and visible (ms timeout). */
  whenReady(timeoutMs = 15000): Promise<boolean> {
    if (this.ready) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), timeoutMs);
      this.readyWaiters.push(() => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }

  /** The charts as one PNG, rendered by the webview from its canvases. */
  async capturePng(timeoutMs = 15000): Promise<Buffer> {
    this.panel.reveal(undefined, true);
    if (!(await this.whenReady(timeoutMs))) throw new Error('the monitor did not load in time');
    // Give the snapshot a moment to be drawn.
    await new Promise((r) => setTimeout(r, 500));
    const requestId = this.nextRequest++;
    const reply = await new Promise<{ dataUrl: string | null; error: string | null }>((resolve) => {
      const t = setTimeout(() => {
        this.pngWaiters.delete(requestId);
        resolve({ dataUrl: null, error: 'no answer from the monitor' });
      }, timeoutMs);
      this.pngWaiters.set(requestId, (r) => {
        clearTimeout(t);
        resolve(r);
      });
      this.post({ type: 'exportPng', requestId });
    });
    if (!reply.dataUrl) throw new Error(reply.error ?? 'the monitor sent no image');
    return Buffer.from(reply.dataUrl.slice('data:image/png;base64,'.length), 'base64');
  }

  override dispose(): void {
    if (this.disposed) return;
    super.dispose();
    this.panel.dispose();
  }
}
