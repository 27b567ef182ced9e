/**
 * Monitor view: live charts of one run. A replica of the host's history: one snapshot, then increments
 * applied with the same code the host uses (src/shared/series.ts). Every message is validated first.
 */
import 'uplot/dist/uPlot.min.css';
import './common.css';
import type uPlot from 'uplot';
import { align } from '../src/shared/compare';
import { flatten, showValue } from '../src/shared/configDiff';
import type { RunState, RunSummary } from '../src/shared/protocol';
import { appendEvents, argMax, boundSeries, ema, fmt, pct, xValues, VIEW_MAX_POINTS, type RunSeries, type Val, type XAxis } from '../src/shared/series';
import {
  validateToMonitor,
  type FromMonitorMessage,
  type MonitorViewState,
  type ToMonitorMessage,
} from '../src/shared/webviewProtocol';
import { Chart, formatValue, ZoomGroup, type LineSpec } from './chart';
import { onThemeChange, readTheme, withAlpha, type Theme } from './theme';
import { onHostMessage, reportErrors, webviewApi, whenElementsDefined } from './vscodeApi';

const api = webviewApi<FromMonitorMessage, MonitorViewState>();
reportErrors(api);

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
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
const charts = new Map<string, Chart>();
/** x values of the Tr(F) points along the current axis (for the markers). */
let trfX: number[] = [];

/** Drop every chart (axis or theme changed) and draw again. */
function resetCharts() {
  for (const c of charts.values()) c.destroy();
  charts.clear();
  renderAll();
}

// ------------------------------------------------------------------------------------------- controls

void whenElementsDefined(['vscode-button', 'vscode-single-select', 'vscode-checkbox']).then(() => {
  const xSel = $('x-axis') as HTMLElement & { value: string };
  const smSel = $('smoothing') as HTMLElement & { value: string };
  const logBox = $('log-scale') as HTMLElement & { checked: boolean };
  xSel.value = view.xAxis ?? 'step';
  smSel.value = String(view.smoothing ?? 0);
  logBox.checked = !!view.logScale;
  xSel.addEventListener('change', () => {
    view.xAxis = (['step', 'epoch', 'time'].includes(xSel.value) ? xSel.value : 'step') as XAxis;
    api.setState(view);
    zoom.range = null;
    resetCharts();
  });
  smSel.addEventListener('change', () => {
    const v = Number(smSel.value);
    view.smoothing = Number.isFinite(v) && v >= 0 && v < 1 ? v : 0;
    api.setState(view);
    renderAll();
  });
  logBox.addEventListener('change', () => {
    view.logScale = !!logBox.checked;
    api.setState(view);
    charts.get('chart-trf')?.reconfigure({ yLog: view.logScale });
    renderAll();
  });
  updateHeader();
});

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

let frame = 0;
function scheduleRender() {
  if (frame) return;
  frame = requestAnimationFrame(() => {
    frame = 0;
    renderAll();
  });
}

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
    if (series.header) parts.push(`${series.header.model.arch} · ${series.header.backend}`);
  }
  if (stateMessage) parts.push(stateMessage);
  $('run-progress').textContent = parts.join(' · ');
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
    banner.textContent = `Fisher explosion detected at step ${ex.step}${ex.rise ? `: smoothed Tr(F) rose ${fmt(ex.rise, 2)}× above its post-warm-up minimum` : ''}. ${summary ? '' : 'A Fisher penalty (α 0.01 every 10 steps) counters it.'}`;
  } else banner.hidden = true;
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

const accFmt = (v: number) => `${Number((v * 100).toFixed(1))}%`;
const xFmt = () => (view.xAxis === 'time' ? (v: number) => (v >= 120 ? `${Math.floor(v / 60)}m${Math.round(v % 60)}s` : `${fmt(v)}s`) : (v: number) => formatValue(v));

function chart(id: string, lines: LineSpec[], extra: Partial<ConstructorParameters<typeof Chart>[0]> = {}): Chart {
  let c = charts.get(id);
  if (!c) {
    const container = $(id).querySelector('.plot') as HTMLElement;
    c = new Chart({ container, height: id === 'chart-trf' ? 300 : 200, lines, theme, zoom, xFormat: xFmt(), xLabel: view.xAxis === 'time' ? 'time' : view.xAxis, ...extra });
    charts.set(id, c);
  }
  return c;
}

/** A note in a chart's title bar; `empty` greys the chart out (only for a chart with nothing to draw). */
function note(id: string, text: string, empty = false) {
  const el = $(id);
  el.querySelector('.chart-note')!.textContent = text;
  el.classList.toggle('empty', empty);
}

/** x of a step along the current axis, via the table the marker belongs to. */
function xOfStep(s: RunSeries, steps: number[], xs: number[], step: number): number | null {
  if (!steps.length) return null;
  let best = 0;
  for (let i = 0; i < steps.length; i++) if (Math.abs(steps[i] - step) < Math.abs(steps[best] - step)) best = i;
  return xs[best] ?? null;
}

function renderAll() {
  updateHeader();
  if (!series) return;
  const s = series;
  const axis = (view.xAxis ?? 'step') as XAxis;
  const alpha = view.smoothing ?? 0;
  const t = theme;

  // Tr(F) with s.e. band, raw line under the smoothed one, and detector markers.
  const fx = xValues(s, s.fisher, axis);
  const raw = s.fisher.trF;
  const main = ema(raw, alpha);
  const hi: Val[] = raw.map((v, i) => (v === null || s.fisher.trFStderr[i] === null ? null : v + (s.fisher.trFStderr[i] as number)));
  const lo: Val[] = raw.map((v, i) => {
    if (v === null || s.fisher.trFStderr[i] === null) return null;
    const l = v - (s.fisher.trFStderr[i] as number);
    return view.logScale && l <= 0 ? v * 0.01 : l;
  });
  const peakIdx = argMax(raw);
  const trf = chart(
    'chart-trf',
    [
      { label: 'Tr(F)', color: t.blue, width: 2 },
      { label: 'raw', color: withAlpha(t.blue, 0.35), width: 1 },
      { label: '+s.e.', color: 'transparent', passive: true, noLegend: true },
      { label: '−s.e.', color: 'transparent', passive: true, noLegend: true },
    ],
    { yLog: view.logScale, band: { upper: 2, lower: 3, fill: withAlpha(t.blue, 0.12) }, overlay: (u) => series && drawMarkers(u, series, trfX) },
  );
  trfX = fx;
  trf.setData(fx, [main, alpha > 0 ? raw : raw.map(() => null), hi, lo], peakIdx >= 0 ? [peakIdx] : []);
  const peak = s.markers.find((m) => m.kind === 'peak');
  note('chart-trf', raw.length ? `latest ${fmt(raw[raw.length - 1])} · ${peak ? `early peak ${fmt(peak.value)} @ step ${peak.step}` : peakIdx >= 0 ? `max ${fmt(raw[peakIdx])} @ step ${s.fisher.step[peakIdx]}` : ''}` : 'waiting for the first measurement');

  // Tr(F_B)
  const fb = s.fisher.trFB;
  chart('chart-trfb', [{ label: 'Tr(F_B)', color: t.purple }]).setData(fx, [ema(fb, alpha)]);
  note('chart-trfb', fb.some((v) => v !== null) ? '' : raw.length ? 'no Tr(F_B) measured' : '', raw.length > 0 && !fb.some((v) => v !== null));

  // Loss: mini-batch (every written step) + tracked train subset and test (evaluations).
  const sx = xValues(s, s.steps, axis);
  const ex = xValues(s, s.evals, axis);
  const loss = align([
    { x: sx, y: ema(s.steps.loss, alpha) },
    { x: ex, y: s.evals.trainLoss },
    { x: ex, y: s.evals.testLoss },
  ]);
  chart('chart-loss', [
    { label: 'train (mini-batch)', color: withAlpha(t.blue, 0.8), width: 1 },
    { label: 'train (tracked)', color: t.green, points: true },
    { label: 'test', color: t.orange, points: true },
  ]).setData(loss.x, loss.ys);

  // Accuracy
  chart('chart-acc', [
    { label: 'train', color: t.green, points: true },
    { label: 'test', color: t.orange, points: true },
  ], { yFormat: { y: accFmt } }).setData(ex, [s.evals.trainAcc, s.evals.testAcc]);
  const lastTest = s.evals.testAcc[s.evals.testAcc.length - 1];
  note('chart-acc', lastTest !== undefined && lastTest !== null ? `test ${pct(lastTest)}` : '');

  // Clean vs noisy labels
  const hasNoise = s.evals.cleanAcc.some((v) => v !== null) || s.evals.noisyAcc.some((v) => v !== null);
  chart('chart-noise', [
    { label: 'clean labels', color: t.green, points: true },
    { label: 'noisy labels (given label)', color: t.red, points: true },
  ], { yFormat: { y: accFmt } }).setData(ex, [s.evals.cleanAcc, s.evals.noisyAcc]);
  note('chart-noise', hasNoise ? '' : s.evals.step.length ? 'no label noise in this run' : '', !hasNoise && s.evals.step.length > 0);

  // Learning rate (left) and penalty (right)
  const hasPenalty = s.steps.penalty.some((v) => v !== null);
  chart('chart-lr', [
    { label: 'learning rate', color: t.yellow },
    { label: 'penalty α·P', color: t.purple, scale: 'pen' },
  ]).setData(sx, [s.steps.lr, ema(s.steps.penalty, alpha)]);
  note('chart-lr', hasPenalty ? '' : s.steps.step.length ? 'no penalty' : ''); // the LR line is still drawn
}

/** Vertical marks: early peak, Tr(F_i), explosion (from the detector); the raw maximum when no peak yet. */
function drawMarkers(u: uPlot, s: RunSeries, fx: number[]) {
  const ctx = u.ctx;
  const dpr = devicePixelRatio || 1;
  const marks: { step: number; label: string; color: string }[] = [];
  const peak = [...s.markers].reverse().find((m) => m.kind === 'peak');
  const fi = [...s.markers].reverse().find((m) => m.kind === 'trFi');
  const ex = s.markers.find((m) => m.kind === 'explosion');
  if (peak) marks.push({ step: peak.step, label: `peak ${fmt(peak.value)}`, color: theme.red });
  else {
    const i = argMax(s.fisher.trF);
    if (i >= 0) marks.push({ step: s.fisher.step[i], label: `max ${fmt(s.fisher.trF[i])}`, color: withAlpha(theme.red, 0.6) });
  }
  if (fi) marks.push({ step: fi.step, label: `Tr(F_i) ${fmt(fi.value)}`, color: theme.green });
  if (ex) marks.push({ step: ex.step, label: `explosion${ex.rise ? ` ${fmt(ex.rise, 2)}×` : ''}`, color: theme.orange });
  ctx.save();
  ctx.font = `${11 * dpr}px ${getComputedStyle(document.body).fontFamily}`;
  let row = 0;
  for (const m of marks) {
    const x = xOfStep(s, s.fisher.step, fx, m.step);
    if (x === null) continue;
    const px = u.valToPos(x, 'x', true);
    if (px < u.bbox.left - 1 || px > u.bbox.left + u.bbox.width + 1) continue;
    ctx.strokeStyle = m.color;
    ctx.fillStyle = m.color;
    ctx.lineWidth = 1 * dpr;
    ctx.setLineDash([4 * dpr, 3 * dpr]);
    ctx.beginPath();
    ctx.moveTo(px, u.bbox.top);
    ctx.lineTo(px, u.bbox.top + u.bbox.height);
    ctx.stroke();
    ctx.setLineDash([]);
    const tw = ctx.measureText(m.label).width;
    const tx = px + 4 * dpr + tw > u.bbox.left + u.bbox.width ? px - 4 * dpr - tw : px + 4 * dpr;
    ctx.fillText(m.label, tx, u.bbox.top + (12 + 13 * row++) * dpr);
  }
  ctx.restore();
}

// ------------------------------------------------------------------------------------------ PNG export

function exportPng(requestId: number) {
  try {
    const order = ['chart-trf', 'chart-trfb', 'chart-loss', 'chart-acc', 'chart-noise', 'chart-lr'];
    const items = order
      .map((id) => ({ id, title: ($(id).querySelector('h3')?.textContent ?? id).trim(), canvas: charts.get(id)?.canvas() ?? null, legend: charts.get(id)?.legend() ?? [] }))
      .filter((i): i is { id: string; title: string; canvas: HTMLCanvasElement; legend: { label: string; color: string }[] } => !!i.canvas && i.canvas.width > 0);
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
