/**
 * Compare view: overlay runs per metric (aligned by step or epoch), a legend, the summary table and the
 * config fields that differ. A replica of the host's histories, validated like the monitor.
 */
import 'uplot/dist/uPlot.min.css';
import './common.css';
import {
  COMPARE_METRICS,
  metricLine,
  summaryRow,
  summaryTable,
  align,
  type MetricDef,
} from '../src/shared/compare';
import { configDiff, showValue } from '../src/shared/configDiff';
import { metricAxisTitle, tableOf, xAxisTitle } from '../src/shared/metrics';
import { runColorSlots, shortRunLabels } from '../src/shared/runLabels';
import { appendEvents, boundSeries, ema, VIEW_MAX_POINTS, type Val } from '../src/shared/series';
import {
  validateToCompare,
  type CompareRun,
  type CompareViewState,
  type FromCompareMessage,
  type ToCompareMessage,
} from '../src/shared/webviewProtocol';
import { Chart, ZoomGroup } from './chart';
import { onThemeChange, readTheme, type Theme } from './theme';
import { $, bindControls, chartBox, frameScheduler } from './view';
import { onHostMessage, reportErrors, webviewApi } from './vscodeApi';

const api = webviewApi<FromCompareMessage, CompareViewState>();
reportErrors(api);

const initialIds = [...document.querySelectorAll<HTMLElement>('#compare-legend .legend-item')].map(
  (e) => e.dataset.run ?? '',
);
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
/** Short legend/table labels of `runs`, in order (the full run id is each one's tooltip). */
let labels: string[] = [];
/** Palette slot of each run: a function of its run id, the same in every view (src/shared/runLabels.ts). */
let slots = new Map<string, number>();
const hidden = new Set<string>();
let theme: Theme = readTheme();
const zoom = new ZoomGroup(`fl-compare-${Math.random().toString(36).slice(2)}`);
const charts = new Map<string, Chart>();

void bindControls({
  axes: ['step', 'epoch'] as const,
  zoom,
  xAxis: view.xAxis ?? 'step',
  smoothing,
  logScale,
  onXAxis: (x) => {
    view.xAxis = x;
    api.setState(view);
    resetCharts();
  },
  onSmoothing: (alpha) => {
    smoothing = alpha;
    renderCharts();
  },
  onLogScale: (on) => {
    logScale = on;
    for (const m of COMPARE_METRICS)
      if (m.compare?.wide) charts.get(m.id)?.reconfigure({ yLog: logScale });
    renderCharts();
  },
});

onHostMessage(api, 'compare', validateToCompare, handle);

function handle(m: ToCompareMessage) {
  switch (m.type) {
    case 'compareSnapshot':
      runs = m.runs;
      labels = shortRunLabels(runs);
      slots = runColorSlots(
        runs.map((r) => r.runId),
        theme.palette.length,
      );
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

const scheduleRender = frameScheduler(() => {
  renderTables();
  renderCharts();
});

const colorOf = (runId: string) => theme.palette[(slots.get(runId) ?? 0) % theme.palette.length];

function renderLegend() {
  const legend = $('compare-legend');
  legend.replaceChildren();
  runs.forEach((r, i) => {
    const item = document.createElement('span');
    item.className = 'legend-item';
    item.dataset.run = r.runId;
    item.title = `${r.runId}\nClick: show/hide · double-click: open its monitor`;
    item.classList.toggle('off', hidden.has(r.runId));
    const sw = document.createElement('span');
    sw.className = 'swatch';
    sw.style.backgroundColor = colorOf(r.runId); // CSSOM, allowed under the CSP (no inline style attribute)
    item.append(sw, document.createTextNode(labels[i] ?? r.runId));
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

function table(id: string, head: string[], rows: string[][], titles: string[] = []) {
  const t = $(id) as HTMLTableElement;
  const thead = t.tHead ?? t.createTHead();
  thead.replaceChildren();
  const hr = thead.insertRow();
  head.forEach((h, i) => {
    const th = document.createElement('th');
    th.textContent = h;
    if (titles[i]) th.title = titles[i];
    hr.append(th);
  });
  const body = t.tBodies[0] ?? t.createTBody();
  body.replaceChildren();
  for (const r of rows) {
    const tr = body.insertRow();
    for (const c of r) tr.insertCell().textContent = c;
  }
}

function renderTables() {
  const summary = summaryTable(
    runs.map((r) => summaryRow(r.series, r.summary, r.state, r.config)),
    labels,
  );
  table('summary-table', summary.head, summary.rows);
  // Run cells and diff headers show the short labels; the run id is their tooltip.
  const rowsEl = ($('summary-table') as HTMLTableElement).tBodies[0]?.rows ?? [];
  runs.forEach((r, i) => rowsEl[i]?.cells[0] && (rowsEl[i].cells[0].title = r.runId));
  const head = ['Field', ...labels];
  const titles = ['', ...runs.map((r) => r.runId)];
  const diff = configDiff(runs.map((r) => r.config ?? {}));
  if (!diff.length)
    table(
      'config-diff',
      head,
      [[runs.length > 1 ? 'the configs are identical' : '–', ...runs.map(() => '')]],
      titles,
    );
  else
    table(
      'config-diff',
      head,
      diff.map((d) => [d.path, ...d.values.map(showValue)]),
      titles,
    );
}

function hasData(m: MetricDef): boolean {
  return runs.some((r) => {
    const tab = r.series[tableOf(m)] as unknown as Record<string, Val[]>;
    return (tab[m.id] ?? []).some((v) => v !== null);
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
      const wide = !!m.compare?.wide;
      const { plot } = chartBox(host, `compare-${m.id}`, { text: m.label }, wide);
      c = new Chart({
        container: plot,
        height: wide ? 300 : 200,
        theme,
        zoom,
        yLog: wide && logScale,
        percent: m.format === 'percent' ? ['y'] : undefined,
        xLabel: axis,
        xTitle: xAxisTitle(axis),
        yTitle: { y: metricAxisTitle(m) },
        lines: runs.map((r, i) => ({
          label: labels[i] ?? r.runId,
          color: colorOf(r.runId),
          points: m.event === 'eval',
        })),
      });
      charts.set(m.id, c);
    }
    const smooth = m.smooth ? smoothing : 0;
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
  slots = runColorSlots(
    runs.map((r) => r.runId),
    theme.palette.length,
  );
  renderLegend();
  resetCharts();
});

api.post({ type: 'ready' });
