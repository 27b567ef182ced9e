/**
 * Comparing runs: the metrics that can be overlaid, aligning several runs' points onto one x array (by step
 * or epoch) as overlaid charts need, and the summary table. No DOM.
 */
import type { RunState, RunSummary } from './protocol';
import { headline, xValues, type RunSeries, type Val, type XAxis, type XColumns } from './series';

/** A metric that can be overlaid across runs: which table and column of a {@link RunSeries} it reads. */
export interface MetricDef {
  id: string;
  label: string;
  table: 'steps' | 'fisher' | 'evals';
  column: string;
  /** Default to a log y scale. */
  log?: boolean;
  /** Values are accuracies in [0, 1]. */
  acc?: boolean;
}

export const COMPARE_METRICS: readonly MetricDef[] = [
  { id: 'trF', label: 'Tr(F)', table: 'fisher', column: 'trF' },
  { id: 'trFB', label: 'Tr(F_B)', table: 'fisher', column: 'trFB' },
  { id: 'loss', label: 'Training loss (mini-batch)', table: 'steps', column: 'loss' },
  { id: 'testLoss', label: 'Test loss', table: 'evals', column: 'testLoss' },
  { id: 'testAcc', label: 'Test accuracy', table: 'evals', column: 'testAcc', acc: true },
  { id: 'trainAcc', label: 'Training accuracy', table: 'evals', column: 'trainAcc', acc: true },
  { id: 'cleanAcc', label: 'Clean-label training accuracy', table: 'evals', column: 'cleanAcc', acc: true },
  { id: 'noisyAcc', label: 'Noisy-label training accuracy', table: 'evals', column: 'noisyAcc', acc: true },
  { id: 'lr', label: 'Learning rate', table: 'steps', column: 'lr' },
  { id: 'penalty', label: 'Penalty α·P', table: 'steps', column: 'penalty' },
];

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

const same = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));

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
  const tab = s[m.table] as unknown as XColumns & Record<string, Val[]>;
  return { x: xValues(s, tab, axis), y: tab[m.column] ?? [] };
}

/** Align one metric across runs along an x axis ("time" aligns by seconds since each run's start). */
export function alignMetric(runs: readonly RunSeries[], m: MetricDef, axis: XAxis): Aligned {
  return align(runs.map((s) => metricLine(s, m, axis)));
}

/** One row of the compare summary table. */
export interface SummaryRow {
  runId: string;
  state: RunState | null;
  peakTrF: number | null;
  peakStep: number | null;
  /** 'peak': the detector's confirmed early peak; 'max': no confirmed peak, the largest raw Tr(F). */
  peakKind: 'peak' | 'max';
  trFi: number | null;
  trFiStep: number | null;
  finalTestAcc: number | null;
  finalCleanAcc: number | null;
  finalNoisyAcc: number | null;
  steps: number;
}

/** Summary row from the run's summary when it has one, else from its series so far. */
export function summaryRow(s: RunSeries, summary: RunSummary | null, state: RunState | null): SummaryRow {
  const h = headline(s, summary);
  return {
    runId: s.runId,
    state: state ?? summary?.state ?? s.state,
    peakTrF: h.peakTrF,
    peakStep: h.peakStep,
    peakKind: h.peakKind,
    trFi: h.trFi,
    trFiStep: h.trFiStep,
    finalTestAcc: h.testAcc,
    finalCleanAcc: h.cleanAcc,
    finalNoisyAcc: h.noisyAcc,
    steps: h.step,
  };
}
