/**
 * Comparing runs: the metrics that can be overlaid, aligning several runs' points onto one x array (by step
 * or epoch) as overlaid charts need, and the summary table. No DOM.
 */
import { DASH, engineLabel, fmt, pct, times, type PeakKind } from './format';
import { compareMetrics, summaryColumns, tableOf, type MetricId, type MetricSpec } from './metrics';
import type { RunState, RunSummary } from './protocol';
import {
  headline,
  latestValue,
  xValues,
  type RunSeries,
  type Val,
  type XAxis,
  type XColumns,
} from './series';

/** A metric that can be overlaid across runs (a catalogue entry with `compare`, see src/shared/metrics.ts). */
export type MetricDef = MetricSpec;

/** The compare view's metrics, in their order (derived from the catalogue). */
export const COMPARE_METRICS: readonly MetricDef[] = compareMetrics();

/** One line: x values (sorted ascending) and y values. */
export interface Line {
  x: readonly number[];
  y: readonly Val[];
}

/** Several lines on one shared x array (what uPlot needs to overlay them); missing points are null. */
export interface Aligned {
  x: number[];
  ys: Val[][];
}

const same = (a: number, b: number) =>
  Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));

/**
 * Align lines onto the sorted union of their x values. A point of a line lands at the union entry equal to
 * its x (floating epochs compare with a 1e-9 relative tolerance); every other entry of that line is null.
 * When a line repeats an x, its last value wins.
 */
export function align(lines: readonly Line[]): Aligned {
  const all: number[] = [];
  for (const l of lines) for (const x of l.x) if (Number.isFinite(x)) all.push(x);
  all.sort((a, b) => a - b);
  const x: number[] = [];
  for (const v of all) if (!x.length || !same(x[x.length - 1], v)) x.push(v);
  const ys = lines.map((l) => {
    const out: Val[] = new Array(x.length).fill(null);
    let j = 0;
    for (let i = 0; i < l.x.length; i++) {
      const xi = l.x[i];
      if (!Number.isFinite(xi)) continue;
      if (i > 0 && xi < l.x[i - 1]) j = 0; // unsorted input: restart the scan
      while (j < x.length && x[j] < xi && !same(x[j], xi)) j++;
      if (j < x.length && same(x[j], xi)) out[j] = l.y[i] ?? null;
    }
    return out;
  });
  return { x, ys };
}

/** The line of one metric of one run along an x axis. */
export function metricLine(s: RunSeries, m: MetricDef, axis: XAxis): Line {
  const tab = s[tableOf(m)] as unknown as XColumns & Record<string, Val[]>;
  return { x: xValues(s, tab, axis), y: tab[m.id] ?? [] };
}

/** Align one metric across runs along an x axis ("time" aligns by seconds since each run's start). */
export function alignMetric(runs: readonly RunSeries[], m: MetricDef, axis: XAxis): Aligned {
  return align(runs.map((s) => metricLine(s, m, axis)));
}

/** One row of the compare summary table: headline Tr(F) numbers, then the last value of each summary column. */
export interface SummaryRow {
  runId: string;
  state: RunState | null;
  /** Engine and device (`torch 2.5.1 · cuda:0 (…)`) from the run header; null before it is read. */
  engine: string | null;
  peakTrF: number | null;
  peakStep: number | null;
  /** 'peak': the detector's confirmed early peak; 'max': no confirmed peak, the largest raw Tr(F). */
  peakKind: PeakKind;
  trFi: number | null;
  trFiStep: number | null;
  /** Last value of each metric with a `summaryColumn`, by metric id. */
  finals: Record<string, Val>;
  steps: number;
  /** The configured learning rate (optimizer.lr), null when the config is not known. */
  lr: number | null;
  /** The detector's explosion: step and rise over the post-warm-up minimum; null when none. */
  explosion: { step: number; rise: number | null } | null;
}

/** Summary row from the run's summary when it has one, else from its series so far. */
export function summaryRow(
  s: RunSeries,
  summary: RunSummary | null,
  state: RunState | null,
  config?: Record<string, unknown> | null,
): SummaryRow {
  const h = headline(s, summary);
  const lr = (config?.optimizer as { lr?: unknown } | undefined)?.lr;
  return {
    runId: s.runId,
    state: state ?? summary?.state ?? s.state,
    engine: engineLabel(
      s.header
        ? { engine: s.header.engine, backend: s.header.backend }
        : { backend: summary?.backend },
    ),
    peakTrF: h.peakTrF,
    peakStep: h.peakStep,
    peakKind: h.peakKind,
    trFi: h.trFi,
    trFiStep: h.trFiStep,
    finals: Object.fromEntries(
      summaryColumns().map((m) => [m.id, latestValue(s, m.id as MetricId, summary)]),
    ),
    steps: h.step,
    lr: typeof lr === 'number' && Number.isFinite(lr) ? lr : null,
    explosion: h.explosion
      ? {
          step: h.explosion.step,
          rise: Number.isFinite(h.explosion.rise) ? (h.explosion.rise as number) : null,
        }
      : null,
  };
}

/**
 * The compare summary table: header and one row of cells per run (`labels`: what the Run column shows, e.g.
 * short labels from src/shared/runLabels.ts; default the run ids).
 */
export function summaryTable(
  rows: readonly SummaryRow[],
  labels?: readonly string[],
): { head: string[]; rows: string[][] } {
  const cols = summaryColumns();
  const at = (v: number | null, step: number | null) =>
    v === null ? DASH : `${fmt(v)}${step !== null ? ` @ ${step}` : ''}`;
  const cell = (m: MetricSpec, v: Val) => (m.format === 'percent' ? pct(v) : fmt(v));
  return {
    head: [
      'Run',
      'State',
      'LR',
      'Early peak Tr(F) @ step',
      'Tr(F_i) @ step',
      'Explosion @ step',
      ...cols.map((m) => m.summaryColumn),
      'Steps',
      'Engine',
    ],
    rows: rows.map((s, i) => [
      labels?.[i] ?? s.runId,
      s.state ?? DASH,
      s.lr === null ? DASH : fmt(s.lr),
      s.peakTrF === null
        ? DASH
        : s.peakKind === 'peak'
          ? at(s.peakTrF, s.peakStep)
          : `none (max ${at(s.peakTrF, s.peakStep)})`,
      at(s.trFi, s.trFiStep),
      s.explosion
        ? `${s.explosion.rise !== null ? `${times(s.explosion.rise, 2)} ` : ''}@ ${s.explosion.step}`
        : 'none',
      ...cols.map((m) => cell(m, s.finals[m.id] ?? null)),
      String(s.steps),
      s.engine ?? DASH,
    ]),
  };
}
