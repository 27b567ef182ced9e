/**
 * The Runs table panel (`fisherLens.runsTable`): every run of the runs root with its config fields and outcomes
 * (src/shared/runsTable.ts), sortable and filterable, with a parallel-coordinates chart; the runs ticked there
 * open in Compare. The rows are re-sent (debounced) when runs change, while the panel is visible.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as vscode from 'vscode';
import { readEventsFile } from '../../runs/eventsReader';
import { isTerminal, RUN_FILES } from '../../shared/protocol';
import {
  runsTableValues,
  validateFromRunsTable,
  type RunsTableRow,
  type ToRunsTableMessage,
} from '../../shared/runsTable';
import { DisposableOwner } from '../dispose';
import { log } from '../log';
import type { RunsModel } from '../runsModel';
import { ComparePanel } from './comparePanel';
import type { PanelHost } from './panelBase';
import { panelOptions, webviewHtml } from './webviewHtml';

const BODY = `<header class="toolbar">
  <div class="run-title"><span class="run-id">Runs</span> <span id="runs-count" class="muted"></span></div>
  <div class="controls">
    <vscode-textfield id="runs-filter" placeholder="Filter: words, #tag, or column>value (lr<0.01)"></vscode-textfield>
    <vscode-button id="compare-selected" disabled>Compare selected</vscode-button>
  </div>
</header>
<section class="chart wide"><div class="chart-head"><h3>Parallel coordinates <span class="muted">(ticked runs highlighted; click a line to tick it)</span></h3></div><div id="parallel" class="plot"></div></section>
<section class="details"><table id="runs-table" class="grid"><thead></thead><tbody></tbody></table></section>`;

/**
 * The explosion of a finished run that is not followed (its summary has none): read once from its events.jsonl
 * (the run format's reader: no symlink, each line validated) and kept while the file is unchanged.
 */
const explosions = new Map<string, { sig: string; step: number | null; rise: number | null }>();
function explosionOf(dir: string): { step: number; rise: number | null } | null {
  const file = path.join(dir, RUN_FILES.events);
  let sig: string;
  try {
    const st = fs.lstatSync(file);
    if (!st.isFile()) return null;
    sig = `${st.size}:${st.mtimeMs}`;
  } catch {
    return null;
  }
  let known = explosions.get(dir);
  if (known?.sig !== sig) {
    let found: { step: number; rise: number | null } | null = null;
    try {
      readEventsFile(file, (events) => {
        for (const e of events)
          if (e.type === 'detector' && e.kind === 'explosion')
            found = { step: e.step, rise: e.rise ?? null };
      });
    } catch {
      found = null;
    }
    known = { sig, step: found?.['step'] ?? null, rise: found?.['rise'] ?? null };
    explosions.set(dir, known);
  }
  return known.step === null ? null : { step: known.step, rise: known.rise };
}

/** The rows of every run. */
export function runsTableRows(store: RunsModel): RunsTableRow[] {
  return store.runs().map((r) => {
    const h =
      !r.headline.explosion && isTerminal(r.state)
        ? { ...r.headline, explosion: explosionMarker(explosionOf(r.dir)) }
        : r.headline;
    return {
      runId: r.runId,
      ...(r.name !== r.runId ? { name: r.name.slice(0, 200) } : {}),
      state: r.state,
      tags: (r.user?.tags ?? []).slice(0, 20),
      values: runsTableValues(
        r.config,
        h,
        Math.max(h.step, r.summary?.steps ?? 0, r.status?.step ?? 0),
      ),
    };
  });
}

const explosionMarker = (e: { step: number; rise: number | null } | null) =>
  e ? { kind: 'explosion' as const, step: e.step, value: NaN, rise: e.rise, message: '' } : null;

export class RunsTablePanel extends DisposableOwner {
  static readonly viewType = 'fisherLens.runsTable';
  private static current: RunsTablePanel | undefined;
  private timer: NodeJS.Timeout | null = null;
  private ready = false;

  /** A filter to put in the table's filter box with the next rows (e.g. `#sweep/<name>`). */
  private pendingFilter: string | undefined;

  static show(host: PanelHost, filter?: string): RunsTablePanel {
    if (RunsTablePanel.current) {
      RunsTablePanel.current.panel.reveal();
      if (filter !== undefined) {
        RunsTablePanel.current.pendingFilter = filter;
        RunsTablePanel.current.send();
      }
      return RunsTablePanel.current;
    }
    const panel = vscode.window.createWebviewPanel(
      RunsTablePanel.viewType,
      'Fisher Lens: runs',
      vscode.ViewColumn.Active,
      panelOptions(host.extensionUri),
    );
    const p = new RunsTablePanel(host, panel);
    p.pendingFilter = filter;
    return p;
  }

  /** Restore the panel after a reload (panel serializer): it holds no state of its own but the webview's. */
  static revive(host: PanelHost, panel: vscode.WebviewPanel): void {
    if (RunsTablePanel.current) {
      panel.dispose();
      return;
    }
    panel.webview.options = panelOptions(host.extensionUri);
    new RunsTablePanel(host, panel);
  }

  private constructor(
    private readonly host: PanelHost,
    readonly panel: vscode.WebviewPanel,
  ) {
    super();
    RunsTablePanel.current = this;
    this.register({
      dispose: () => {
        if (RunsTablePanel.current === this) RunsTablePanel.current = undefined;
        if (this.timer) clearTimeout(this.timer);
      },
    });
    panel.webview.html = webviewHtml(
      panel.webview,
      host.extensionUri,
      'runsTable',
      'Fisher Lens: runs',
      BODY,
    );
    this.register(panel.onDidDispose(() => this.dispose()));
    this.register(panel.webview.onDidReceiveMessage((m: unknown) => this.onMessage(m)));
    this.register(host.store.onDidChange(() => this.schedule()));
    this.register(
      panel.onDidChangeViewState(() => {
        if (!panel.visible) this.ready = false;
      }),
    );
  }

  private schedule() {
    if (this.timer || !this.ready) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.send();
    }, 500);
  }

  private send() {
    if (!this.ready || this.disposed) return;
    const msg: ToRunsTableMessage = {
      type: 'runsTable',
      rows: runsTableRows(this.host.store),
      ...(this.pendingFilter !== undefined ? { filter: this.pendingFilter } : {}),
    };
    this.pendingFilter = undefined;
    void this.panel.webview.postMessage(msg);
  }

  private onMessage(raw: unknown) {
    const v = validateFromRunsTable(raw);
    if (!v.ok) {
      log.warn(`runs table: ignored a malformed message: ${v.error}`);
      return;
    }
    const m = v.msg;
    switch (m.type) {
      case 'ready':
        this.ready = true;
        this.send();
        break;
      case 'compare': {
        const known = m.runIds.filter((id) => this.host.store.get(id));
        if (known.length >= 2) ComparePanel.show(this.host, known);
        else log.warn('runs table: compare asked for runs that are not in the runs root');
        break;
      }
      case 'openMonitor':
        if (this.host.store.get(m.runId)) this.host.openMonitor(m.runId);
        break;
      case 'log':
        log[m.level](`runs table webview: ${m.message}`);
        break;
    }
  }
}
