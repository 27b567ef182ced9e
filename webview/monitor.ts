/**
 * Monitor view: live charts of one run. A replica of the host's history: one snapshot, then increments
 * applied with the same code the host uses (src/shared/series.ts). Every message is validated first.
 */
import 'uplot/dist/uPlot.min.css';
import './common.css';
import { progressText, runProgress } from '../src/shared/progress';
import { flatten, showValue } from '../src/shared/configDiff';
import { engineLabel, engineVersions, fmt } from '../src/shared/format';
import type { RunState, RunSummary } from '../src/shared/protocol';
import {
  appendEvents,
  boundSeries,
  headline,
  VIEW_MAX_POINTS,
  type RunSeries,
  type XAxis,
} from '../src/shared/series';
import {
  validateMonitorSettings,
  validateMonitorViewState,
  validateToMonitor,
  type FromMonitorMessage,
  type MonitorSettings,
  type MonitorViewState,
  type ToMonitorMessage,
} from '../src/shared/webviewProtocol';
import { ZoomGroup } from './chart';
import { MonitorCharts } from './monitorCharts';
import { renderPng } from './png';
import { onThemeChange, readTheme, type Theme } from './theme';
import { $, bindControls, frameScheduler } from './view';
import { onHostMessage, reportErrors, webviewApi } from './vscodeApi';

const api = webviewApi<FromMonitorMessage, MonitorViewState>();
reportErrors(api);

const runIdFromDom = $('run-id')?.textContent ?? '';

/** The smoothing weights the toolbar offers (a kept value that is not one of them is not restored). */
const smoothingChoices = [...document.querySelectorAll('#smoothing vscode-option')].map((o) =>
  Number(o.getAttribute('value')),
);

/** The settings the host kept for this run (in the toolbar's `data-settings`), validated. */
function keptSettings(): MonitorSettings | null {
  const raw = document.querySelector('header.toolbar')?.getAttribute('data-settings');
  if (!raw) return null;
  try {
    return validateMonitorSettings(JSON.parse(raw));
  } catch {
    return null;
  }
}

// This panel's own saved state (a reload) first, else what the host kept for the run, else the defaults.
const saved = validateMonitorViewState(api.getState());
const initial = saved?.runId === runIdFromDom ? saved : keptSettings();
const view: MonitorViewState = {
  runId: runIdFromDom,
  xAxis: initial?.xAxis ?? 'step',
  logScale: !!initial?.logScale,
  smoothing: smoothingChoices.includes(initial?.smoothing ?? 0) ? (initial?.smoothing ?? 0) : 0,
};
api.setState(view);

let series: RunSeries | null = null;
let config: Record<string, unknown> | null = null;
let runState: RunState | null = null;
let summary: RunSummary | null = null;
let stateMessage: string | null = null;
let fisherPoints = 0;
let theme: Theme = readTheme();
const zoom = new ZoomGroup(`fl-monitor-${Math.random().toString(36).slice(2)}`);
const charts = new MonitorCharts(() => ({
  xAxis: (view.xAxis ?? 'step') as XAxis,
  smoothing: view.smoothing ?? 0,
  logScale: !!view.logScale,
  theme,
  zoom,
}));

/** Keep a change of the view's settings (this panel's state for a reload, the host's for this run), then redraw. */
function save(patch: Partial<MonitorViewState>, then: () => void) {
  Object.assign(view, patch);
  api.setState(view);
  api.post({
    type: 'viewSettings',
    runId: view.runId,
    settings: {
      xAxis: view.xAxis ?? 'step',
      smoothing: view.smoothing ?? 0,
      logScale: !!view.logScale,
    },
  });
  then();
}

/** Drop every chart (axis or theme changed) and draw again. */
function resetCharts() {
  charts.reset();
  renderAll();
}

// ------------------------------------------------------------------------------------------- controls

void bindControls(
  {
    axes: ['step', 'epoch', 'time'] as const,
    zoom,
    xAxis: view.xAxis ?? 'step',
    smoothing: view.smoothing ?? 0,
    logScale: !!view.logScale,
    onXAxis: (xAxis) => save({ xAxis }, resetCharts),
    onSmoothing: (smoothing) => save({ smoothing }, renderAll),
    onLogScale: (logScale) => save({ logScale }, () => (charts.setLog(logScale), renderAll())),
  },
  ['vscode-button', 'vscode-single-select', 'vscode-checkbox'],
).then(updateHeader);

$('stop-button').addEventListener('click', () => {
  const b = $('stop-button');
  if (b.hasAttribute('disabled')) return;
  b.setAttribute('disabled', '');
  b.textContent = 'Stopping…';
  api.post({ type: 'stop', runId: view.runId });
});

// ------------------------------------------------------------------------------------------- messages

onHostMessage(api, 'monitor', validateToMonitor, handle);

function handle(m: ToMonitorMessage) {
  if (m.type !== 'exportPng' && m.runId !== view.runId) return;
  switch (m.type) {
    case 'snapshot':
      series = m.series;
      config = m.config;
      runState = m.state ?? series.state;
      summary = m.summary;
      stateMessage = null;
      fisherPoints = series.fisher.trF.length;
      renderConfig();
      renderAll();
      break;
    case 'events':
      if (!series) return;
      fisherPoints += appendEvents(series, m.events);
      // A long live run: keep what can be drawn (extremes and the Tr(F) peak survive compaction).
      boundSeries(series, 2 * VIEW_MAX_POINTS);
      if (series.state && !runState) runState = series.state;
      scheduleRender();
      break;
    case 'state':
      runState = m.state;
      summary = m.summary ?? summary;
      stateMessage = m.message;
      updateHeader();
      break;
    case 'exportPng':
      exportPng(m.requestId);
      break;
  }
}

/**
 * Redraws of a live run: each spread over a few frames (one chart per frame, see MonitorCharts), at most one
 * every {@link LIVE_REDRAW_MS} (the host batches increments every 200 ms anyway), and on a machine where
 * drawing is slow, so rarely that drawing takes at most a fifth of the time ({@link LIVE_DRAW_SHARE}).
 */
const LIVE_REDRAW_MS = 250;
const LIVE_DRAW_SHARE = 0.2;
const scheduleRender = frameScheduler(
  () => renderAll(),
  () => Math.max(LIVE_REDRAW_MS, charts.cycleCostMs / LIVE_DRAW_SHARE),
);

// --------------------------------------------------------------------------------------------- header

/** Set an element's text only when it changes (no style or layout work for the same text). */
function setText(el: HTMLElement, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

function updateHeader() {
  const st = $('run-state');
  const state = runState ?? series?.state ?? null;
  setText(st, state ?? 'waiting');
  if (st.dataset.state !== (state ?? '')) st.dataset.state = state ?? '';
  const parts: string[] = [];
  if (series) {
    const total = series.header?.totalSteps;
    parts.push(`step ${series.lastStep}${total ? ` / ${total}` : ''}`);
    const ep = series.steps.epoch[series.steps.epoch.length - 1];
    if (ep !== undefined) parts.push(`epoch ${fmt(ep)}`);
    if (series.header) parts.push(series.header.model.arch);
    // Time left and throughput while it runs (src/shared/progress.ts: its own step events, last minute).
    if (state === 'running') {
      const speed = progressText(runProgress(series));
      if (speed) parts.push(speed);
    }
  }
  if (stateMessage) parts.push(stateMessage);
  const progress = $('run-progress');
  setText(progress, parts.join(' · '));
  if (progress.title !== progress.textContent) progress.title = progress.textContent ?? '';
  renderEngine();
  const stop = $('stop-button');
  const live = state === 'running' || state === 'queued';
  if (live && stop.textContent !== 'Stopping…') stop.removeAttribute('disabled');
  if (!live) {
    stop.setAttribute('disabled', '');
    stop.textContent = 'Stop';
  }
  if ($('chart-trf').dataset.points !== String(fisherPoints))
    $('chart-trf').dataset.points = String(fisherPoints);
  const banner = $('banner');
  // The explosion as it stands (src/shared/series.ts headline): the current early peak over its base.
  const hl = series ? headline(series, summary) : null;
  const ex = hl?.explosion;
  if (ex) {
    banner.hidden = false;
    // The detector's own words for what it compared (run folder text: shown as text, never markup).
    const against = ex.baseLabel
      ? ` ${ex.baseLabel}${ex.base != null ? ` ${fmt(ex.base)}` : ''}`
      : ' its Tr(F) at initialisation';
    const penalised =
      ((config as { penalty?: { kind?: string } } | null)?.penalty?.kind ?? 'none') !== 'none';
    setText(
      banner,
      `Fisher explosion detected at step ${ex.step}${ex.rise ? `: the early peak ${fmt(ex.value)}${hl?.peakStep != null ? ` (step ${hl.peakStep})` : ''} is ${fmt(ex.rise, 2)}×${against}` : ''}.${summary || penalised ? '' : ' A Fisher penalty (α 0.01 every 10 steps) counters it.'}`,
    );
  } else if (!banner.hidden) banner.hidden = true;
}

/** Engine, device and versions from the run header (`engine`, else its `backend`): `torch 2.5.1 · cuda:0 (…)`. */
function renderEngine() {
  const el = $('run-engine');
  const h = series?.header;
  const label = h ? engineLabel({ engine: h.engine, backend: h.backend }) : null;
  if (el.hidden !== !label) el.hidden = !label;
  setText(el, label ?? '');
  const versions = engineVersions(h?.engine);
  const title = versions ? `Versions: ${versions}` : '';
  if (el.title !== title) el.title = title;
}

function renderConfig() {
  const host = $('config-summary');
  host.replaceChildren();
  if (!config) {
    host.textContent = 'config.json not available yet';
    return;
  }
  const table = document.createElement('table');
  table.className = 'grid kv';
  for (const [k, v] of flatten(config)) {
    const tr = table.insertRow();
    tr.insertCell().textContent = k;
    tr.insertCell().textContent = showValue(v);
  }
  host.append(table);
}

// --------------------------------------------------------------------------------------------- charts

function renderAll() {
  updateHeader();
  if (series) charts.render(series);
}

// ------------------------------------------------------------------------------------------ PNG export

function exportPng(requestId: number) {
  if (series) charts.flush(series);
  renderPng(charts, {
    runId: view.runId,
    state: runState ?? series?.state ?? null,
    xAxis: view.xAxis ?? 'step',
  }).then(
    (dataUrl) => api.post({ type: 'png', requestId, dataUrl, error: null }),
    (e: unknown) =>
      api.post({ type: 'png', requestId, dataUrl: null, error: (e as Error).message }),
  );
}

onThemeChange(() => {
  theme = readTheme();
  resetCharts();
});

updateHeader();
api.post({ type: 'ready' });
