/**
 * Runs table view: one row per run (config fields and outcomes), sortable by any column, filtered by text, `#tag`
 * or `column<value`; a parallel-coordinates chart over the numeric columns (SVG, one line per run in its stable
 * colour); runs ticked in the table or clicked in the chart open in Compare. Data: src/shared/runsTable.ts.
 */
import './common.css';
import './runsTable.css';
import { fmt, pct } from '../src/shared/format';
import { runColorSlots, shortRunLabels } from '../src/shared/runLabels';
import {
  axisScale,
  compareCells,
  rowMatches,
  RUNS_COLUMNS,
  validateToRunsTable,
  type FromRunsTableMessage,
  type RunsColumn,
  type RunsTableRow,
  type ToRunsTableMessage,
} from '../src/shared/runsTable';
import { onThemeChange, readTheme, type Theme } from './theme';
import { $, frameScheduler } from './view';
import { onHostMessage, reportErrors, webviewApi } from './vscodeApi';

interface TableState {
  sort?: { id: string; desc: boolean };
  filter?: string;
  ticked?: string[];
}

const api = webviewApi<FromRunsTableMessage, TableState>();
reportErrors(api);
const state: TableState = api.getState() ?? {};
let rows: RunsTableRow[] = [];
let theme: Theme = readTheme();
const ticked = new Set<string>(state.ticked ?? []);
const SVG = 'http://www.w3.org/2000/svg';

const save = () => api.setState({ ...state, ticked: [...ticked] });

const cell = (c: RunsColumn, v: number | string | null | undefined): string =>
  v === null || v === undefined
    ? '–'
    : typeof v === 'number'
      ? c.percent
        ? pct(v)
        : fmt(v, 4)
      : v;

function visibleRows(): RunsTableRow[] {
  const f = state.filter ?? '';
  const out = rows.filter((r) => !f || rowMatches(f, r));
  const s = state.sort;
  if (s)
    out.sort((a, b) =>
      s.id === 'run'
        ? compareCells(a.name ?? a.runId, b.name ?? b.runId, s.desc)
        : compareCells(a.values[s.id], b.values[s.id], s.desc),
    );
  return out;
}

/** Columns with at least one value (empty ones would only take room). */
const usedColumns = () =>
  RUNS_COLUMNS.filter((c) =>
    rows.some((r) => r.values[c.id] !== null && r.values[c.id] !== undefined),
  );

function renderTable(vis: RunsTableRow[], labels: Map<string, string>) {
  const t = $('runs-table') as HTMLTableElement;
  const cols = usedColumns();
  const head = t.tHead ?? t.createTHead();
  head.replaceChildren();
  const hr = head.insertRow();
  const th = (id: string, text: string, title: string) => {
    const h = document.createElement('th');
    h.textContent = text;
    h.title = title;
    h.className = 'sortable';
    if (state.sort?.id === id) h.dataset.sort = state.sort.desc ? 'desc' : 'asc';
    h.addEventListener('click', () => {
      state.sort = { id, desc: state.sort?.id === id ? !state.sort.desc : false };
      save();
      render();
    });
    hr.append(h);
  };
  hr.append(document.createElement('th'));
  th('run', 'Run', 'Sort by name');
  const st = document.createElement('th');
  st.textContent = 'State';
  hr.append(st);
  for (const c of cols)
    th(c.id, c.label, `${c.group === 'config' ? 'Config' : 'Outcome'}: sort by ${c.label}`);
  const body = t.tBodies[0] ?? t.createTBody();
  body.replaceChildren();
  for (const r of vis) {
    const tr = body.insertRow();
    tr.classList.toggle('ticked', ticked.has(r.runId));
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.checked = ticked.has(r.runId);
    box.title = 'Tick to compare';
    box.addEventListener('change', () => toggle(r.runId));
    tr.insertCell().append(box);
    const name = tr.insertCell();
    name.textContent = labels.get(r.runId) ?? r.runId;
    name.title = `${r.runId}${r.tags.length ? `\n${r.tags.map((x) => `#${x}`).join(' ')}` : ''}\nDouble-click: open its monitor`;
    name.addEventListener('dblclick', () => api.post({ type: 'openMonitor', runId: r.runId }));
    tr.insertCell().textContent = r.state;
    for (const c of cols) {
      const td = tr.insertCell();
      td.textContent = cell(c, r.values[c.id]);
      if (c.type === 'number') td.className = 'num';
    }
  }
  $('runs-count').textContent =
    vis.length === rows.length ? `${rows.length} runs` : `${vis.length} of ${rows.length} runs`;
  const btn = $('compare-selected');
  if (ticked.size >= 2 && ticked.size <= 50) btn.removeAttribute('disabled');
  else btn.setAttribute('disabled', '');
  btn.textContent = `Compare selected (${ticked.size})`;
}

function renderParallel(vis: RunsTableRow[]) {
  const host = $('parallel');
  host.replaceChildren();
  const axes = usedColumns()
    .filter((c) => c.type === 'number')
    .map((c) => ({
      c,
      s: axisScale(
        vis.map((r) => r.values[c.id] as number | null),
        !!c.log,
      ),
    }))
    .filter((a): a is { c: RunsColumn; s: NonNullable<typeof a.s> } => a.s !== null);
  if (axes.length < 2 || !vis.length) {
    host.textContent = vis.length ? 'Fewer than two numeric columns have values.' : 'No runs.';
    return;
  }
  const W = Math.max(host.clientWidth || 800, 300);
  const H = 260;
  const top = 28;
  const bottom = 22;
  const left = 40;
  const right = 40;
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  if (vis.some((r) => ticked.has(r.runId))) svg.classList.add('has-ticked');
  const x = (i: number) => left + (i * (W - left - right)) / (axes.length - 1);
  const y = (t: number) => top + (1 - t) * (H - top - bottom);
  const text = (tx: number, ty: number, s: string, anchor = 'middle') => {
    const e = document.createElementNS(SVG, 'text');
    e.setAttribute('x', String(tx));
    e.setAttribute('y', String(ty));
    e.setAttribute('text-anchor', anchor);
    e.textContent = s;
    svg.append(e);
  };
  axes.forEach((a, i) => {
    const g = document.createElementNS(SVG, 'g');
    g.setAttribute('class', 'axis');
    const l = document.createElementNS(SVG, 'line');
    l.setAttribute('x1', String(x(i)));
    l.setAttribute('x2', String(x(i)));
    l.setAttribute('y1', String(y(0)));
    l.setAttribute('y2', String(y(1)));
    g.append(l);
    svg.append(g);
    text(x(i), 12, `${a.c.label}${a.s.log ? ' (log)' : ''}`);
    text(x(i), y(1) - 4, cell(a.c, a.s.max));
    text(x(i), H - 6, cell(a.c, a.s.min));
  });
  const slots = runColorSlots(
    rows.map((r) => r.runId),
    theme.palette.length,
  );
  // Ticked runs last, so they are drawn on top.
  const order = [...vis].sort((a, b) => Number(ticked.has(a.runId)) - Number(ticked.has(b.runId)));
  for (const r of order) {
    let d = '';
    let pen = false;
    axes.forEach((a, i) => {
      const v = r.values[a.c.id];
      if (typeof v !== 'number') {
        pen = false;
        return;
      }
      d += `${pen ? 'L' : 'M'}${x(i).toFixed(1)},${y(a.s.scale(v)).toFixed(1)}`;
      pen = true;
    });
    if (!d) continue;
    const p = document.createElementNS(SVG, 'path');
    p.setAttribute('d', d);
    p.setAttribute('class', `run${ticked.has(r.runId) ? ' ticked' : ''}`);
    p.style.stroke = theme.palette[(slots.get(r.runId) ?? 0) % theme.palette.length];
    const title = document.createElementNS(SVG, 'title');
    title.textContent = r.name ? `${r.name} (${r.runId})` : r.runId;
    p.append(title);
    p.addEventListener('click', () => toggle(r.runId));
    svg.append(p);
  }
  host.append(svg);
}

function toggle(runId: string) {
  if (ticked.has(runId)) ticked.delete(runId);
  else ticked.add(runId);
  save();
  render();
}

const render = frameScheduler(() => {
  const vis = visibleRows();
  const short = shortRunLabels(vis);
  const labels = new Map(vis.map((r, i) => [r.runId, short[i]]));
  renderTable(vis, labels);
  renderParallel(vis);
});

const filter = $('runs-filter') as HTMLElement & { value: string };
filter.addEventListener('input', () => {
  state.filter = filter.value;
  save();
  render();
});
if (state.filter) filter.value = state.filter;
$('compare-selected').addEventListener('click', () => {
  const ids = rows.filter((r) => ticked.has(r.runId)).map((r) => r.runId);
  if (ids.length >= 2 && ids.length <= 50) api.post({ type: 'compare', runIds: ids });
});

onHostMessage(api, 'runs table', validateToRunsTable, (m: ToRunsTableMessage) => {
  rows = m.rows;
  if (m.filter !== undefined) {
    state.filter = m.filter;
    filter.value = m.filter;
    save();
  }
  // Runs that are gone are no longer ticked.
  for (const id of [...ticked]) if (!rows.some((r) => r.runId === id)) ticked.delete(id);
  render();
});
onThemeChange(() => {
  theme = readTheme();
  render();
});
window.addEventListener('resize', () => render());
api.post({ type: 'ready' });
