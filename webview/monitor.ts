/**
 * Monitor view: live charts of one run. A replica of the host's history: one snapshot, then increments
 * applied with the same code the host uses (src/shared/series.ts). Every message is validated first.
 */
import 'uplot/dist/uPlot.min.css';
import './common.css';
import { flatten, showValue } from '../src/shared/configDiff';
import { engineLabel, engineVersions, fmt } from '../src/shared/format';
import type { RunState, RunSummary } from '../src/shared/protocol';
import {
  appendEvents,
  boundSeries,
  VIEW_MAX_POINTS,
  type RunSeries,
  type XAxis,
} from '../src/shared/series';
import {
  validateToMonitor,
  type FromMonitorMessage,
  type MonitorViewState,
  type ToMonitorMessage,
} from '../src/shared/webviewProtocol';
import { ZoomGroup } from './chart';
import { MonitorCharts } from './monitorCharts';
import { onThemeChange, readTheme, type Theme } from './theme';
import { $, bindControls, frameScheduler } from './view';
import { onHostMessage, reportErrors, webviewApi } from './vscodeApi';

const api = webviewApi<FromMonitorMessage, MonitorViewState>();
reportErrors(api);

const runIdFromDom = $('run-id')?.textContent ?? '';
const saved = api.getState();
const view: MonitorViewState = {
  runId: runIdFromDom,
  xAxis: saved?.runId === runIdFromDom ? (saved.xAxis ?? 'step') : 'step',
  logScale: saved?.runId === runIdFromDom ? !!saved.logScale : false,
  smoothing: saved?.runId === runIdFromDom ? (saved.smoothing ?? 0) : 0,
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

/** Keep a change of the view's settings (for a reload), then redraw. */
function save(patch: Partial<MonitorViewState>, then: () => void) {
  Object.assign(view, patch);
  api.setState(view);
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

const scheduleRender = frameScheduler(() => renderAll());

// --------------------------------------------------------------------------------------------- header

function updateHeader() {
  const st = $('run-state');
  const state = runState ?? series?.state ?? null;
  st.textContent = state ?? 'waiting';
  st.dataset.state = state ?? '';
  const parts: string[] = [];
  if (series) {
    const total = series.header?.totalSteps;
    parts.push(`step ${series.lastStep}${total ? ` / ${total}` : ''}`);
    const ep = series.steps.epoch[series.steps.epoch.length - 1];
    if (ep !== undefined) parts.push(`epoch ${fmt(ep)}`);
    if (series.header) parts.push(series.header.model.arch);
  }
  if (stateMessage) parts.push(stateMessage);
  $('run-progress').textContent = parts.join(' · ');
  renderEngine();
  const stop = $('stop-button');
  const live = state === 'running' || state === 'queued';
  if (live && stop.textContent !== 'Stopping…') stop.removeAttribute('disabled');
  if (!live) {
    stop.setAttribute('disabled', '');
    stop.textContent = 'Stop';
  }
  $('chart-trf').dataset.points = String(fisherPoints);
  const banner = $('banner');
  const ex = series?.markers.find((mk) => mk.kind === 'explosion');
  if (ex) {
    banner.hidden = false;
    // The detector's own words for what it compared (run folder text: shown as text, never markup).
    const against = ex.baseLabel
      ? ` ${ex.baseLabel}${ex.base != null ? ` ${fmt(ex.base)}` : ''}`
      : ' its Tr(F) at initialisation';
    const penalised =
      ((config as { penalty?: { kind?: string } } | null)?.penalty?.kind ?? 'none') !== 'none';
    banner.textContent = `Fisher explosion detected at step ${ex.step}${ex.rise ? `: the early peak ${fmt(ex.value)} is ${fmt(ex.rise, 2)}×${against}` : ''}.${summary || penalised ? '' : ' A Fisher penalty (α 0.01 every 10 steps) counters it.'}`;
  } else banner.hidden = true;
}

/** Engine, device and versions from the run header (`engine`, else its `backend`): `torch 2.5.1 · cuda:0 (…)`. */
function renderEngine() {
  const el = $('run-engine');
  const h = series?.header;
  const label = h ? engineLabel({ engine: h.engine, backend: h.backend }) : null;
  el.hidden = !label;
  el.textContent = label ?? '';
  const versions = engineVersions(h?.engine);
  el.title = versions ? `Versions: ${versions}` : '';
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
  try {
    const items = charts.order
      .map((id) => ({
        id,
        title: ($(id).querySelector('h3')?.textContent ?? id).trim(),
        canvas: charts.get(id)?.canvas() ?? null,
        legend: charts.get(id)?.legend() ?? [],
      }))
      .filter(
        (
          i,
        ): i is {
          id: string;
          title: string;
          canvas: HTMLCanvasElement;
          legend: { label: string; color: string }[];
        } => !!i.canvas && i.canvas.width > 0,
      );
    if (!items.length) throw new Error('no chart drawn yet');
    const dpr = devicePixelRatio || 1;
    const pad = 12 * dpr;
    const titleH = 22 * dpr;
    const width = Math.max(...items.map((i) => i.canvas.width)) + 2 * pad;
    const height = titleH + pad + items.reduce((h, i) => h + titleH + i.canvas.height + pad, 0);
    const out = document.createElement('canvas');
    out.width = width;
    out.height = height;
    const ctx = out.getContext('2d')!;
    ctx.fillStyle = theme.bg;
    ctx.fillRect(0, 0, width, height);
    ctx.fillStyle = theme.fg;
    ctx.font = `bold ${14 * dpr}px ${getComputedStyle(document.body).fontFamily}`;
    ctx.fillText(`${view.runId} — ${runState ?? ''} — x: ${view.xAxis}`, pad, titleH);
    let y = titleH + pad;
    ctx.font = `${12 * dpr}px ${getComputedStyle(document.body).fontFamily}`;
    for (const i of items) {
      ctx.fillStyle = theme.fg;
      ctx.fillText(i.title, pad, y + 14 * dpr);
      // legend after the title: a colour swatch and the label of each line
      let lx = pad + ctx.measureText(i.title).width + 24 * dpr;
      for (const l of i.legend) {
        ctx.fillStyle = l.color;
        ctx.fillRect(lx, y + 8 * dpr, 14 * dpr, 3 * dpr);
        ctx.fillStyle = theme.muted;
        ctx.fillText(l.label, lx + 18 * dpr, y + 14 * dpr);
        lx += 18 * dpr + ctx.measureText(l.label).width + 16 * dpr;
      }
      y += titleH;
      ctx.drawImage(i.canvas, pad, y);
      y += i.canvas.height + pad;
    }
    api.post({ type: 'png', requestId, dataUrl: out.toDataURL('image/png'), error: null });
  } catch (e) {
    api.post({ type: 'png', requestId, dataUrl: null, error: (e as Error).message });
  }
}

onThemeChange(() => {
  theme = readTheme();
  resetCharts();
});

updateHeader();
api.post({ type: 'ready' });
