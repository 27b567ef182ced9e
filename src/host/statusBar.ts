/**
 * Status-bar item for the active run: `$(pulse) Tr(F) 12.3 · step 450 · running · ETA 3m05s` (throughput in the
 * tooltip); click opens its monitor.
 * The active run is the one whose monitor was focused last (or that was launched last) while it runs, else
 * the most recently started running run; a finished run stays shown with its final state until another
 * run becomes active.
 */
import * as vscode from 'vscode';
import { engineLabel, eta, fmt, peakLabel } from '../shared/format';
import { progressText, runProgress } from '../shared/progress';
import { DisposableOwner } from './dispose';
import type { RunsModel } from './runsModel';
import { noIcons, plain } from './sanitize';

export class RunStatusBar extends DisposableOwner {
  private readonly item = this.register(
    vscode.window.createStatusBarItem('fisherLens.activeRun', vscode.StatusBarAlignment.Left, 50),
  );
  private pinned: string | null = null;
  private shown: string | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly store: RunsModel) {
    super();
    this.item.name = 'Fisher Lens: active run';
    this.register(store.onDidChange(() => this.schedule()));
    this.register({ dispose: () => this.timer && clearTimeout(this.timer) });
    this.update();
  }

  /** Make `runId` the active run (a monitor got focus, a run was launched). */
  setActive(runId: string): void {
    this.pinned = runId;
    this.update();
  }

  /** The run the item shows, if any. */
  get activeRunId(): string | null {
    return this.shown;
  }

  private schedule() {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.update();
    }, 250);
  }

  /** Pinned if running; else the newest running run; else the pinned one (queued or finished); else the last shown. */
  private pick(): string | null {
    const all = this.store.runs(); // newest first
    const pinned = this.pinned ? this.store.get(this.pinned) : undefined;
    if (pinned?.state === 'running') return pinned.runId;
    const running = all.find((r) => r.state === 'running');
    if (running) return running.runId;
    if (pinned) return pinned.runId;
    const queued = all.find((r) => r.state === 'queued');
    if (queued) return queued.runId;
    const shown = this.shown ? this.store.get(this.shown) : undefined;
    return shown ? shown.runId : null;
  }

  private update() {
    if (this.disposed) return;
    const id = this.pick();
    this.shown = id;
    const r = id ? this.store.get(id) : undefined;
    if (!r) {
      this.item.hide();
      return;
    }
    const h = r.headline;
    const step = Math.max(h.step, r.status?.step ?? 0);
    const state = r.stale ? 'stale' : r.state;
    // Time left and throughput of a running run, from its own step events (src/shared/progress.ts).
    const series = r.state === 'running' ? this.store.series(r.runId) : null;
    const p = series ? runProgress(series, r.status?.totalSteps || null) : null;
    const parts = [`Tr(F) ${fmt(h.lastTrF)}`, `step ${step}`, state];
    if (p?.etaSeconds != null) parts.push(`ETA ${eta(p.etaSeconds)}`);
    // Only our own `$(pulse)` may render as an icon: everything after it is escaped.
    this.item.text = `$(pulse) ${noIcons(parts.join(' · '))}`;
    const engine = engineLabel(r.engine);
    const speed = p ? progressText(p) : '';
    this.item.tooltip = `Fisher Lens: ${plain(r.runId)} (${state})${engine ? `\n${plain(engine)}` : ''}${speed ? `\n${speed} (over the last minute)` : ''}${r.stale ? `\n${plain(r.stale)}` : ''}${h.peakTrF !== null ? `\n${peakLabel(h.peakKind)} ${fmt(h.peakTrF)}` : ''}\nClick to open the monitor`;
    this.item.command = {
      command: 'fisherLens.openMonitor',
      title: 'Open Monitor',
      arguments: [r.runId],
    };
    this.item.backgroundColor =
      h.explosion && r.state === 'running'
        ? new vscode.ThemeColor('statusBarItem.warningBackground')
        : undefined;
    this.item.show();
  }
}
