/**
 * Metric series of one run, built from `events.jsonl` events. Columnar plain JSON so the host can keep the
 * history and send it to a webview as one snapshot, after which both sides apply the same increments with
 * {@link appendEvents}. No `vscode`, no DOM.
 */
import type {
  DetectorEvent,
  EvalEvent,
  FisherEvent,
  HeaderEvent,
  RunEvent,
  RunState,
  RunSummary,
  StepEvent,
} from './protocol';
import { extremes } from './decimate';
import { headlineTrF, type PeakKind } from './format';
import {
  METRIC_TABLES,
  METRICS,
  metricById,
  tableColumns,
  tableOf,
  type MetricEvent,
  type MetricId,
  type MetricIdOf,
  type TableName,
} from './metrics';

/** A metric value; `null` where the trainer wrote a non-finite number (JSON has no NaN) or none applies. */
export type Val = number | null;

/** Per-point x coordinates shared by every column of a table. */
export interface XColumns {
  step: number[];
  epoch: number[];
  /** Wall-clock ms since the Unix epoch. */
  t: number[];
}

/** A table: the x columns and one column per catalogue metric of its event type (src/shared/metrics.ts). */
export type MetricTable<E extends MetricEvent> = XColumns & { [K in MetricIdOf<E>]: Val[] };
export type StepTable = MetricTable<'step'>;
export type FisherTable = MetricTable<'fisher'>;
export type EvalTable = MetricTable<'eval'>;

/** Detector marks (early peak, Tr(F_i), explosion) as the trainer reported them. */
export interface Marker {
  kind: DetectorEvent['kind'];
  step: number;
  value: number;
  rise: number | null;
  message: string;
  /** 'peak' (and 'explosion'): the window of measurements whose mean is the early peak. */
  from?: number | null;
  to?: number | null;
  /** 'explosion': what the early peak was compared with ("its Tr(F) at initialisation (step 0)"). */
  baseLabel?: string | null;
  base?: number | null;
}

/** Everything the views draw for one run. */
export interface RunSeries {
  runId: string;
  header: HeaderEvent | null;
  /** Latest state seen in a `status` event (the host may also know it from `status.json`). */
  state: RunState | null;
  stateMessage: string | null;
  /** Highest step seen in any event. */
  lastStep: number;
  /** Time origin for the "time" x axis (header time, else first event time), ms. */
  t0: number | null;
  steps: StepTable;
  fisher: FisherTable;
  evals: EvalTable;
  markers: Marker[];
}

/** An empty table of an event type: x columns and its catalogue metrics. */
function emptyTable<E extends MetricEvent>(event: E): MetricTable<E> {
  const cols: Record<string, Val[]> = { step: [], epoch: [], t: [] };
  for (const id of tableColumns(METRIC_TABLES[event])) cols[id] = [];
  return cols as unknown as MetricTable<E>;
}

/** An empty series for `runId`. */
export function createSeries(runId: string): RunSeries {
  return {
    runId,
    header: null,
    state: null,
    stateMessage: null,
    lastStep: 0,
    t0: null,
    steps: emptyTable('step'),
    fisher: emptyTable('fisher'),
    evals: emptyTable('eval'),
    markers: [],
  };
}

/** A finite number, else null (NaN/Infinity/undefined/null from JSON). */
export const val = (v: unknown): Val => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** [column, event field] of the metrics of each event type. */
const FIELDS = Object.fromEntries(
  (Object.keys(METRIC_TABLES) as MetricEvent[]).map((ev) => [
    ev,
    METRICS.filter((x) => x.event === ev).map((x) => [x.id, x.field] as const),
  ]),
) as unknown as Record<MetricEvent, readonly (readonly [string, string])[]>;

/** Append one metric event as a row of its table. */
function appendRow(tab: XColumns, e: StepEvent | FisherEvent | EvalEvent) {
  tab.step.push(e.step);
  tab.epoch.push(val(e.epoch) ?? 0);
  tab.t.push(val(e.t) ?? 0);
  const cols = tab as unknown as Record<string, Val[]>;
  for (const [id, field] of FIELDS[e.type])
    cols[id].push(val((e as unknown as Record<string, unknown>)[field]));
}

/** Apply events in order (mutates `s`). Returns the number of Tr(F) points added. */
export function appendEvents(s: RunSeries, events: readonly RunEvent[]): number {
  let fisherAdded = 0;
  for (const e of events) {
    if (s.t0 === null && typeof e.t === 'number' && Number.isFinite(e.t)) s.t0 = e.t;
    if ('step' in e && typeof e.step === 'number' && e.step > s.lastStep) s.lastStep = e.step;
    switch (e.type) {
      case 'header':
        s.header = e;
        s.t0 = e.t;
        break;
      case 'step':
        appendRow(s.steps, e);
        break;
      case 'fisher':
        appendRow(s.fisher, e);
        fisherAdded++;
        break;
      case 'eval':
        appendRow(s.evals, e);
        break;
      case 'detector':
        // The early peak so far: each 'peak' event replaces the previous one (one peak, one marker).
        if (e.kind === 'peak') s.markers = s.markers.filter((m) => m.kind !== 'peak');
        s.markers.push({
          kind: e.kind,
          step: e.step,
          value: e.value,
          rise: val(e.rise),
          message: e.message,
          from: typeof e.from === 'number' ? e.from : null,
          to: typeof e.to === 'number' ? e.to : null,
          baseLabel: typeof e.baseLabel === 'string' ? e.baseLabel : null,
          base: typeof e.base === 'number' ? val(e.base) : null,
        });
        break;
      case 'status':
        s.state = e.state;
        s.stateMessage = e.message ?? null;
        break;
      case 'log':
        break;
    }
  }
  return fisherAdded;
}

/** Build a series from a whole event list. */
export function buildSeries(runId: string, events: readonly RunEvent[]): RunSeries {
  const s = createSeries(runId);
  appendEvents(s, events);
  return s;
}

/** Which x coordinate the charts use. */
export type XAxis = 'step' | 'epoch' | 'time';

/** The x values of a table for an axis; "time" is seconds since the run's time origin. */
export function xValues(s: RunSeries, tab: XColumns, axis: XAxis): number[] {
  if (axis === 'step') return tab.step;
  if (axis === 'epoch') return tab.epoch;
  const t0 = s.t0 ?? tab.t[0] ?? 0;
  return tab.t.map((t) => (t - t0) / 1000);
}

/** Index of the largest finite value, or -1. */
export function argMax(ys: readonly Val[]): number {
  let best = -1;
  for (let i = 0; i < ys.length; i++) {
    const y = ys[i];
    if (y !== null && (best < 0 || y > (ys[best] as number))) best = i;
  }
  return best;
}

/** Last finite value, or null. */
export function lastVal(ys: readonly Val[]): Val {
  for (let i = ys.length - 1; i >= 0; i--) if (ys[i] !== null) return ys[i];
  return null;
}

/** Exponential moving average (TensorBoard style, debiased); `alpha` in [0, 1): 0 = raw. Nulls pass through. */
export function ema(ys: readonly Val[], alpha: number): Val[] {
  if (!(alpha > 0)) return ys.slice();
  const a = Math.min(alpha, 0.999);
  const out: Val[] = new Array(ys.length);
  let acc = 0;
  let n = 0;
  for (let i = 0; i < ys.length; i++) {
    const y = ys[i];
    if (y === null) {
      out[i] = null;
      continue;
    }
    acc = acc * a + (1 - a) * y;
    n++;
    out[i] = acc / (1 - Math.pow(a, n));
  }
  return out;
}

/** The numbers a run is known by (tree description, status bar, compare table). */
export interface Headline {
  /** The detector's confirmed early peak if there is one, else the largest raw Tr(F) so far. */
  peakTrF: number | null;
  peakStep: number | null;
  /** Whether {@link peakTrF} is a confirmed early peak ('peak') or only the largest value ('max'). */
  peakKind: PeakKind;
  trFi: number | null;
  trFiStep: number | null;
  lastTrF: number | null;
  testAcc: number | null;
  trainAcc: number | null;
  cleanAcc: number | null;
  noisyAcc: number | null;
  step: number;
  explosion: Marker | null;
}

/** Headline numbers from the summary when the run has one, otherwise from the series so far. */
export function headline(s: RunSeries | null, summary?: RunSummary | null): Headline {
  const h: Headline = {
    peakTrF: null,
    peakStep: null,
    peakKind: 'max',
    trFi: null,
    trFiStep: null,
    lastTrF: null,
    testAcc: null,
    trainAcc: null,
    cleanAcc: null,
    noisyAcc: null,
    step: 0,
    explosion: null,
  };
  if (s) {
    const peak = lastMarker(s, 'peak');
    const i = argMax(s.fisher.trF);
    if (peak) {
      h.peakTrF = peak.value;
      h.peakStep = peak.step;
      h.peakKind = 'peak';
    } else if (i >= 0) {
      h.peakTrF = s.fisher.trF[i];
      h.peakStep = s.fisher.step[i];
    }
    const fi = lastMarker(s, 'trFi');
    if (fi) {
      h.trFi = fi.value;
      h.trFiStep = fi.step;
    }
    h.explosion = lastMarker(s, 'explosion');
    h.lastTrF = lastVal(s.fisher.trF);
    h.step = s.lastStep;
  }
  if (summary) {
    const top = headlineTrF(
      summary,
      h.peakTrF === null ? null : { value: h.peakTrF, step: h.peakStep, kind: h.peakKind },
    );
    if (top) {
      h.peakTrF = top.value;
      h.peakStep = top.step;
      h.peakKind = top.kind;
    }
    if (summary.trFi !== null) {
      h.trFi = summary.trFi;
      h.trFiStep = summary.trFiStep;
    }
    h.lastTrF = summary.finalTrF ?? h.lastTrF;
    h.step = Math.max(h.step, summary.steps);
  }
  if (h.explosion) {
    // One explosion size everywhere: the early peak as it stands now (the summary's, once the run has one) over the
    // base it was compared with — not the early peak when the explosion was first detected.
    const ex = h.explosion;
    const base = ex.base ?? null;
    const fromSummary = summary?.explosionRise;
    const rise =
      typeof fromSummary === 'number' && Number.isFinite(fromSummary)
        ? fromSummary
        : base !== null && base > 0 && h.peakKind === 'peak' && h.peakTrF !== null
          ? h.peakTrF / base
          : ex.rise;
    h.explosion = {
      ...ex,
      rise,
      value: h.peakKind === 'peak' && h.peakTrF !== null ? h.peakTrF : ex.value,
    };
    if (summary && summary.explosion === false) h.explosion = null;
  }
  h.testAcc = latestValue(s, 'testAcc', summary);
  h.trainAcc = latestValue(s, 'trainAcc', summary);
  h.cleanAcc = latestValue(s, 'cleanAcc', summary);
  h.noisyAcc = latestValue(s, 'noisyAcc', summary);
  return h;
}

/** A metric's value at the end: its summary field once the run has one (non-null), else its last value so far. */
export function latestValue(s: RunSeries | null, id: MetricId, summary?: RunSummary | null): Val {
  const spec = metricById(id);
  const fin = spec?.final && summary ? summary[spec.final] : null;
  if (typeof fin === 'number') return fin;
  if (!s || !spec) return null;
  return lastVal((s[tableOf(spec)] as unknown as Record<string, Val[]>)[id] ?? []);
}

function lastMarker(s: RunSeries, kind: Marker['kind']): Marker | null {
  for (let i = s.markers.length - 1; i >= 0; i--)
    if (s.markers[i].kind === kind) return s.markers[i];
  return null;
}

/** Number labels live in ./format; re-exported here for the modules that import them with the series. */
export { fmt, pct } from './format';

// ------------------------------------------------------------------------------------- bounded history

/** Points the host keeps per table of a followed run; beyond it the table is compacted to half. */
export const HOST_MAX_POINTS = 100_000;
/** Points per table a view is sent (and keeps): a few per pixel column of a wide chart. */
export const VIEW_MAX_POINTS = 4_000;
/** Detector marks kept (the first of each kind and the latest ones). */
export const MAX_MARKERS = 1_000;
/** Longest marker message kept (characters). */
export const MAX_MARKER_MESSAGE = 1_000;

const ALL_COLUMNS = (t: TableName) => ['step', 'epoch', 't', ...tableColumns(t)];

/**
 * Rows to keep of a table so that at most `max` remain: the rows are cut into equal buckets (by index, so
 * an unsorted table is fine) and each bucket keeps its first and last row and, for every column, the rows of
 * its minimum, its maximum and its first null — so spikes, dips and gaps survive — plus the `force`d rows.
 */
export function compactIndices(
  columns: readonly (readonly Val[])[],
  n: number,
  max: number,
  force: readonly number[] = [],
): number[] {
  if (n <= max) return Array.from({ length: n }, (_, i) => i);
  for (
    let buckets = Math.max(1, Math.floor((max - force.length) / 4));
    ;
    buckets = Math.max(1, Math.floor(buckets / 2))
  ) {
    const keep = new Uint8Array(n);
    for (const f of force) if (f >= 0 && f < n) keep[f] = 1;
    for (let b = 0; b < buckets; b++) {
      const lo = Math.floor((b * n) / buckets);
      const hi = Math.floor(((b + 1) * n) / buckets) - 1;
      if (hi < lo) continue;
      keep[lo] = 1;
      keep[hi] = 1;
      for (const ys of columns) for (const i of extremes(ys, lo, hi)) if (i >= 0) keep[i] = 1;
    }
    let count = 0;
    for (let i = 0; i < n; i++) count += keep[i];
    if (count <= max || buckets === 1) {
      const out: number[] = [];
      for (let i = 0; i < n; i++) if (keep[i]) out.push(i);
      return out;
    }
  }
}

function tableRows(s: RunSeries, t: TableName): number {
  return (s[t] as XColumns).step.length;
}

function pickTable<T extends XColumns>(tab: T, t: TableName, idx: readonly number[]): T {
  const out = {} as Record<string, unknown>;
  for (const c of ALL_COLUMNS(t)) {
    const col = (tab as unknown as Record<string, unknown[]>)[c];
    const o = new Array(idx.length);
    for (let j = 0; j < idx.length; j++) o[j] = col[idx[j]];
    out[c] = o;
  }
  return out as unknown as T;
}

function tableIndices(s: RunSeries, t: TableName, max: number): number[] {
  const tab = s[t] as unknown as Record<string, Val[]>;
  const force = t === 'fisher' ? [argMax(s.fisher.trF)] : [];
  return compactIndices(
    tableColumns(t).map((c) => tab[c]),
    tableRows(s, t),
    max,
    force.filter((i) => i >= 0),
  );
}

/** Keep at most {@link MAX_MARKERS} marks: the first of each kind and the latest; messages shortened. */
export function boundMarkers(markers: readonly Marker[], max = MAX_MARKERS): Marker[] {
  const trim = (m: Marker): Marker =>
    m.message.length > MAX_MARKER_MESSAGE
      ? { ...m, message: `${m.message.slice(0, MAX_MARKER_MESSAGE - 1)}…` }
      : m;
  if (markers.length <= max) return markers.map(trim);
  const firsts = new Set<number>();
  const seen = new Set<string>();
  markers.forEach((m, i) => {
    if (!seen.has(m.kind)) {
      seen.add(m.kind);
      firsts.add(i);
    }
  });
  const latest = markers.length - (max - firsts.size);
  return markers.filter((_, i) => firsts.has(i) || i >= latest).map(trim);
}

/**
 * Bound a series in place: every table longer than `max` rows is compacted to `max / 2` (so compaction is
 * rare: amortised O(1) per appended point), keeping the extremes of every column and the largest Tr(F).
 * Returns whether anything was dropped.
 */
export function boundSeries(s: RunSeries, max = HOST_MAX_POINTS): boolean {
  let changed = false;
  for (const t of ['steps', 'fisher', 'evals'] as const) {
    if (tableRows(s, t) <= max) continue;
    (s as unknown as Record<string, unknown>)[t] = pickTable(
      s[t] as XColumns,
      t,
      tableIndices(s, t, Math.max(16, Math.floor(max / 2))),
    );
    changed = true;
  }
  if (s.markers.length > MAX_MARKERS) {
    s.markers = boundMarkers(s.markers);
    changed = true;
  }
  return changed;
}

/**
 * A copy of a series with at most `max` rows per table (what a view can draw: extremes of every column and
 * the largest Tr(F) kept), its size independent of the run's length.
 */
export function viewSeries(s: RunSeries, max = VIEW_MAX_POINTS): RunSeries {
  return {
    ...s,
    steps: pickTable(s.steps, 'steps', tableIndices(s, 'steps', max)),
    fisher: pickTable(s.fisher, 'fisher', tableIndices(s, 'fisher', max)),
    evals: pickTable(s.evals, 'evals', tableIndices(s, 'evals', max)),
    markers: boundMarkers(s.markers),
  };
}
