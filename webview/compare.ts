/**
 * Compare view: overlay runs per metric (aligned by step or epoch), a legend, the summary table and the
 * config fields that differ. A replica of the host's histories, validated like the monitor.
 */
import 'uplot/dist/uPlot.min.css';
import './common.css';
import { COMPARE_METRICS, metricLine, summaryRow, align, type MetricDef } from '../src/shared/compare';
import { configDiff, showValue } from '../src/shared/configDiff';
import { appendEvents, boundSeries, ema, fmt, pct, VIEW_MAX_POINTS, type Val } from '../src/shared/series';
import {
  validateToCompare,
  type CompareRun,
  type CompareViewState,
  type FromCompareMessage,
  type ToCompareMessage,
} from '../src/shared/webviewProtocol';
import { Chart, ZoomGroup } from './chart';
import { onThemeChange, readTheme, type Theme } from './theme';
import { onHostMessage, reportErrors, webviewApi, whenElementsDefined } from './vscodeApi';

const api = webviewApi<FromCompareMessage, CompareViewState>();
reportErrors(api);
const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

const initialIds = [...document.querySelectorAll<HTMLElement>('#compare-legend .legend-item')].map((e) => e.dataset.run ?? '');
const saved = api.getState();
const view: CompareViewState = {
  runIds: initialIds,
  xAxis: saved?.xAxis ?? 'step',
  metric: saved?.metric,
};
let logScale = false;
let smoothing = 0;
api.setState(view);

let runs: CompareRun[] = [];
const hidden = new Set<string>();
let theme: Theme = readTheme();
const zoom = new ZoomGroup(`fl-compare-${Math.random().toString(36).slice(2)}`);
const charts = new Map<string, Chart>();

void whenElementsDefined(['vscode-single-select', 'vscode-checkbox']).then(() => {
  const xSel = $('x-axis') as HTMLElement & { value: string };
  const smSel = $('smoothing') as HTMLElement & { value: string };
  const logBox = $('log-scale') as HTMLElement & { checked: boolean };
  xSel.value = view.xAxis ?? 'step';
  xSel.addEventListener('change', () => {
    view.xAxis = xSel.value === 'epoch' ? 'epoch' : 'step';
    api.setState(view);
    zoom.range = null;
    resetCharts();
  });
  smSel.addEventListener('change', () => {
    const v = Number(smSel.value);
    smoothing = Number.isFinite(v) && v >= 0 && v < 1 ? v : 0;
    renderCharts();
  });
  logBox.addEventListener('change', () => {
    logScale = !!logBox.checked;
    charts.get('trF')?.reconfigure({ yLog: logScale });
    renderCharts();
  });
});

onHostMessage(api, 'compare', validateToCompare, handle);

function handle(m: ToCompareMessage) {
  switch (m.type) {
    case 'compareSnapshot':
      runs = m.runs;
      view.runIds = runs.map((r) => r.runId);
      api.setState(view);
      renderLegend();
      renderTables();
      resetCharts();
      break;
    case 'events': {
      const r = runs.find((x) => x.runId === m.runId);
      if (!r) return;
      appendEvents(r.series, m.events);
      boundSeries(r.series, 2 * VIEW_MAX_POINTS);
      scheduleRender();
      break;
    }
    case 'state': {
      const r = runs.find((x) => x.runId === m.runId);
      if (!r) return;
      r.state = m.state;
      r.summary = m.summary ?? r.summary;
      scheduleRender();
      break;
    }
  }
}

let frame = 0;
function scheduleRender() {
  if (frame) return;
  frame = requestAnimationFrame(() => {
    frame = 0;
    renderTables();
    renderCharts();
  });
}

const colorOf = (i: number) => theme.palette[i % theme.palette.length];

function renderLegend() {
  const legend = $('compare-legend');
  legend.replaceChildren();
  runs.forEach((r, i) => {
    const item = document.createElement('span');
    item.className = 'legend-item';
    item.dataset.run = r.runId;
    item.title = 'Click: show/hide · double-click: open its monitor';
    item.classList.toggle('off', hidden.has(r.runId));
    const sw = document.createElement('span');
    sw.className = 'swatch';
    sw.style.backgroundColor = colorOf(i); // CSSOM, allowed under the CSP (no inline style attribute)
    item.append(sw, document.createTextNode(r.runId));
    item.addEventListener('click', () => {
      if (hidden.has(r.runId)) hidden.delete(r.runId);
      else hidden.add(r.runId);
      item.classList.toggle('off', hidden.has(r.runId));
      renderCharts();
    });
    item.addEventListener('dblclick', () => api.post({ type: 'openMonitor', runId: r.runId }));
    legend.append(item);
  });
  if (!runs.length) legend.textContent = 'None of these runs could be read.';
}

function table(id: string, head: string[], rows: string[][]) {
  const t = $(id) as HTMLTableElement;
  const thead = t.tHead ?? t.createTHead();
  thead.replaceChildren();
  const hr = thead.insertRow();
  for (const h of head) {
    const th = document.createElement('th');
    th.textContent = h;
    hr.append(th);
  }
  const body = t.tBodies[0] ?? t.createTBody();
  body.replaceChildren();
  for (const r of rows) {
    const tr = body.insertRow();
    for (const c of r) tr.insertCell().textContent = c;
  }
}

function renderTables() {
  const at = (v: number | null, step: number | null) => (v === null ? '–' : `${fmt(v)}${step !== null ? ` @ ${step}` : ''}`);
  table(
    'summary-table',
    ['Run', 'State', 'Early peak Tr(F) @ step', 'Tr(F_i) @ step', 'Final test acc.', 'Final clean acc.', 'Final noisy acc.', 'Steps'],
    runs.map((r) => {
      const s = summaryRow(r.series, r.summary, r.state);
      return [r.runId, s.state ?? '–', s.peakTrF === null ? '–' : s.peakKind === 'peak' ? at(s.peakTrF, s.peakStep) : `none (max ${at(s.peakTrF, s.peakStep)})`, at(s.trFi, s.trFiStep), pct(s.finalTestAcc), pct(s.finalCleanAcc), pct(s.finalNoisyAcc), String(s.steps)];
    }),
  );
  const diff = configDiff(runs.map((r) => r.config ?? {}));
  if (!diff.length) table('config-diff', ['Field', ...runs.map((r) => r.runId)], [[runs.length > 1 ? 'the configs are identical' : '–', ...runs.map(() => '')]]);
  else table('config-diff', ['Field', ...runs.map((r) => r.runId)], diff.map((d) => [d.path, ...d.values.map(showValue)]));
}

function hasData(m: MetricDef): boolean {
  return runs.some((r) => {
    const tab = r.series[m.table] as unknown as Record<string, Val[]>;
    return (tab[m.column] ?? []).some((v) => v !== null);
  });
}

function resetCharts() {
  for (const c of charts.values()) c.destroy();
  charts.clear();
  $('compare-charts').replaceChildren();
  renderCharts();
}

function renderCharts() {
  const axis = view.xAxis ?? 'step';
  const host = $('compare-charts');
  for (const m of COMPARE_METRICS) {
    if (!hasData(m)) continue;
    let c = charts.get(m.id);
    if (!c) {
      const box = document.createElement('div');
      box.className = m.id === 'trF' ? 'chart wide' : 'chart';
      box.id = `compare-${m.id}`;
      const head = document.createElement('div');
      head.className = 'chart-head';
      const h = document.createElement('h3');
      h.textContent = m.label;
      head.append(h);
      const plot = document.createElement('div');
      plot.className = 'plot';
      box.append(head, plot);
      host.append(box);
      c = new Chart({
        container: plot,
        height: m.id === 'trF' ? 300 : 200,
        theme,
        zoom,
        yLog: m.id === 'trF' && logScale,
        yFormat: m.acc ? { y: (v: number) => `${Number((v * 100).toFixed(1))}%` } : undefined,
        xLabel: axis,
        lines: runs.map((r, i) => ({ label: r.runId, color: colorOf(i), points: m.table === 'evals' })),
      });
      charts.set(m.id, c);
    }
    const smooth = m.acc || m.id === 'lr' ? 0 : smoothing;
    const lines = runs.map((r) => {
      const l = metricLine(r.series, m, axis);
      return { x: l.x, y: hidden.has(r.runId) ? l.y.map(() => null) : ema(l.y, smooth) };
    });
    const a = align(lines);
    c.setData(a.x, a.ys);
  }
}

onThemeChange(() => {
  theme = readTheme();
  renderLegend();
  resetCharts();
});

api.post({ type: 'ready' });
