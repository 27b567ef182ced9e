/**
 * The monitor panel (`fisherLens.monitor`), one per run: a replica of the run's history (see
 * {@link ReplicaPanel}), a Stop button, and the charts as a PNG on request.
 */
import * as vscode from 'vscode';
import {
  validateFromMonitor,
  validateMonitorViewState,
  type FromMonitorMessage,
  type PngMessage,
  type ToMonitorMessage,
} from '../../shared/webviewProtocol';
import { log } from '../log';
import { ReplicaPanel, type PanelHost } from './panelBase';
import { PendingRequests } from './requestReply';
import { monitorBody } from './monitorHtml';
import { panelOptions } from './webviewHtml';

const FLUSH_MS = 200;

export class MonitorPanel extends ReplicaPanel<ToMonitorMessage, FromMonitorMessage> {
  static readonly viewType = 'fisherLens.monitor';
  private static readonly open = new Map<string, MonitorPanel>();

  private readonly requests = this.register(new PendingRequests<PngMessage>());

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
    if (!s) log.warn('monitor: could not restore a panel without a valid saved state; closing it');
    if (!s || MonitorPanel.open.has(s.runId)) {
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
    host: PanelHost,
    panel: vscode.WebviewPanel,
    readonly runId: string,
  ) {
    super(host, panel, {
      label: `monitor ${runId}`,
      validate: validateFromMonitor,
      flushMs: FLUSH_MS,
    });
    MonitorPanel.open.set(runId, this);
    this.register({
      dispose: () => MonitorPanel.open.get(runId) === this && MonitorPanel.open.delete(runId),
    });
    // Works before the run directory is listed (a run just launched): the tailer waits for its files.
    this.followRuns([runId]);
    this.load(
      'monitor',
      `Fisher Lens: ${runId}`,
      monitorBody(runId, host.viewSettings?.get(runId) ?? null),
    );
    host.setActiveRun(runId);
  }

  protected override onViewState(p: vscode.WebviewPanel): void {
    super.onViewState(p);
    if (p.active) this.host.setActiveRun(this.runId);
  }

  protected sendSnapshot(): void {
    const { store } = this.host;
    const r = store.get(this.runId);
    // Bounded: a few thousand points per table whatever the length of the run (extremes and peak kept).
    const series = store.viewSeries(this.runId);
    if (!r || !series) {
      // Not (or no longer) in the runs root: nothing to stop. A run this window just queued is listed soon.
      const queued = this.host.isQueuedHere?.(this.runId) ?? false;
      const message = queued
        ? 'waiting for the run directory'
        : `no run folder ${this.runId} in ${store.root}`;
      this.post({
        type: 'state',
        runId: this.runId,
        state: queued ? 'queued' : 'failed',
        message,
        summary: null,
      });
      return;
    }
    const message = this.snapshotState(this.runId, r);
    this.post({
      type: 'snapshot',
      runId: this.runId,
      series,
      config: r.config,
      state: r.state,
      summary: r.summary,
    });
    // The snapshot resets the view's message: why the run is stale or damaged follows it.
    if (message)
      this.post({ type: 'state', runId: this.runId, state: r.state, message, summary: r.summary });
  }

  protected onMessage(m: Exclude<FromMonitorMessage, { type: 'ready' | 'log' }>): void {
    switch (m.type) {
      case 'png':
        if (!this.requests.reply(m))
          log.debug(`monitor ${this.runId}: a png nobody waits for (${m.requestId})`);
        break;
      case 'stop':
        if (m.runId === this.runId) this.host.stopRun(this.runId);
        else log.warn(`monitor ${this.runId}: ignored a stop for another run (${m.runId})`);
        break;
      case 'viewSettings':
        if (m.runId === this.runId) this.host.viewSettings?.set(this.runId, m.settings);
        break;
    }
  }

  /** The charts as one PNG, rendered by the webview from its canvases. */
  async capturePng(timeoutMs = 15000): Promise<Buffer> {
    this.panel.reveal(undefined, true);
    if (!(await this.whenReady(timeoutMs))) throw new Error('the monitor did not load in time');
    // Give the snapshot a moment to be drawn.
    await new Promise((r) => setTimeout(r, 500));
    const reply = await this.requests.request(
      (requestId) => this.post({ type: 'exportPng', requestId }),
      'the monitor',
      timeoutMs,
    );
    if (!reply.dataUrl) throw new Error(reply.error ?? 'the monitor sent no image');
    return Buffer.from(reply.dataUrl.slice('data:image/png;base64,'.length), 'base64');
  }
}
