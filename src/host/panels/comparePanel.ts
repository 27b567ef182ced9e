/**
 * The compare panel (`fisherLens.compare`): one panel overlaying any number of runs. Same replica protocol as
 * the monitor ({@link ReplicaPanel}): a snapshot of every run when the webview is ready, then increments of
 * the live ones.
 */
import * as vscode from 'vscode';
import {
  validateCompareViewState,
  validateFromCompare,
  type CompareRun,
  type FromCompareMessage,
  type ToCompareMessage,
} from '../../shared/webviewProtocol';
import { log } from '../log';
import { ReplicaPanel, type PanelHost } from './panelBase';
import { esc, option, panelOptions, smoothingControl } from './webviewHtml';

function compareBody(runIds: readonly string[]): string {
  return `<header class="toolbar">
  <div class="run-title"><span class="run-id">Comparing ${runIds.length} runs</span></div>
  <div class="controls">
    <label class="ctl">align by <vscode-single-select id="x-axis">${option('step', 'step', true)}${option('epoch', 'epoch')}</vscode-single-select></label>
    ${smoothingControl(['0.6', '0.8', '0.9', '0.95'])}
    <vscode-checkbox id="log-scale">log Tr(F)</vscode-checkbox>
  </div>
</header>
<div id="compare-legend" class="legend">${runIds.map((id) => `<span class="legend-item" data-run="${esc(id)}"><span class="swatch"></span>${esc(id)}</span>`).join('')}</div>
<section class="details">
  <h3>Summary</h3>
  <table id="summary-table" class="grid"><thead></thead><tbody></tbody></table>
  <h3>Config differences</h3>
  <table id="config-diff" class="grid"><thead></thead><tbody></tbody></table>
</section>
<section class="charts" id="compare-charts"></section>`;
}

export class ComparePanel extends ReplicaPanel<ToCompareMessage, FromCompareMessage> {
  static readonly viewType = 'fisherLens.compare';
  private static current: ComparePanel | undefined;

  /** Show the runs in the compare panel (replacing what it showed). */
  static show(host: PanelHost, runIds: string[]): ComparePanel {
    const cur = ComparePanel.current;
    if (cur) {
      cur.setRuns(runIds);
      cur.panel.reveal();
      return cur;
    }
    const panel = vscode.window.createWebviewPanel(
      ComparePanel.viewType,
      'Compare runs',
      vscode.ViewColumn.Active,
      panelOptions(host.extensionUri),
    );
    return new ComparePanel(host, panel, runIds);
  }

  /** Restore after a reload (panel serializer). */
  static revive(host: PanelHost, panel: vscode.WebviewPanel, state: unknown): void {
    const s = validateCompareViewState(state);
    if (!s) log.warn('compare: could not restore a panel without a valid saved state; closing it');
    if (!s || ComparePanel.current) {
      panel.dispose();
      return;
    }
    panel.webview.options = panelOptions(host.extensionUri);
    new ComparePanel(host, panel, s.runIds);
  }

  private constructor(host: PanelHost, panel: vscode.WebviewPanel, runIds: string[]) {
    super(host, panel, { label: 'compare', validate: validateFromCompare, flushMs: 300 });
    ComparePanel.current = this;
    this.register({
      dispose: () => ComparePanel.current === this && (ComparePanel.current = undefined),
    });
    this.setRuns(runIds);
  }

  private setRuns(runIds: string[]) {
    this.followRuns([...new Set(runIds)]);
    this.panel.title = `Compare ${this.runIds.length} runs`;
    this.load('compare', 'Fisher Lens: compare', compareBody(this.runIds));
  }

  protected sendSnapshot(): void {
    const { store } = this.host;
    const runs: CompareRun[] = [];
    for (const id of this.runIds) {
      const r = store.get(id);
      const series = store.viewSeries(id);
      if (!r || !series) {
        log.warn(`compare: run ${id} is not in ${store.root}; left out`);
        continue;
      }
      this.snapshotState(id, r);
      runs.push({
        runId: id,
        ...(r.name !== id ? { name: r.name } : {}),
        series,
        config: r.config,
        state: r.state,
        summary: r.summary,
      });
    }
    this.post({ type: 'compareSnapshot', runs });
  }

  protected onMessage(m: Exclude<FromCompareMessage, { type: 'ready' | 'log' }>): void {
    if (this.runIds.includes(m.runId)) this.host.openMonitor(m.runId);
    else log.warn(`compare: ignored openMonitor for a run it does not show (${m.runId})`);
  }
}
