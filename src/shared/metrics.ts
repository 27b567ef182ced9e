/**
 * The metric catalogue: every number a run measures over time, once, next to the event schemas it is read from
 * (src/shared/protocol.ts). The series tables the views draw (series.ts), their validator (webviewProtocol.ts),
 * the monitor and compare charts (webview/), the CSV columns and TensorBoard tags of an export (exportData.ts)
 * and the compare metrics and summary columns (compare.ts) all derive from {@link METRICS}: adding a metric is
 * one entry here (and the field in its event schema). No `vscode`, no DOM.
 */
import type { EvalEvent, FisherEvent, RunSummary, StepEvent } from './protocol';

/** Event types that carry metrics, and the series table each fills. */
export const METRIC_TABLES = { step: 'steps', fisher: 'fisher', eval: 'evals' } as const;
export type MetricEvent = keyof typeof METRIC_TABLES;
export type TableName = (typeof METRIC_TABLES)[MetricEvent];
interface EventOf {
  step: StepEvent;
  fisher: FisherEvent;
  eval: EvalEvent;
}

/** A theme colour of the charts (webview/theme.ts reads them from VS Code's chart colours). */
export type ThemeColor = 'blue' | 'red' | 'green' | 'yellow' | 'orange' | 'purple';

/** The monitor's charts (a {@link MonitorChart} each), by id. */
export type ChartId = 'trF' | 'trFB' | 'loss' | 'acc' | 'noise' | 'lr';

/** Where a metric is drawn in the monitor: its chart, its place and look there. */
export interface MonitorLine {
  chart: ChartId;
  /** Order of the line in its chart (smaller first). */
  rank: number;
  legend: string;
  color: ThemeColor;
  /** Opacity of the colour (default 1). */
  alpha?: number;
  width?: number;
  /** y scale key when not the chart's left axis (a right-hand axis). */
  scale?: string;
}

/** One metric: where it comes from, how it is shown, and what it is called in exports. */
export interface MetricSpecOf<E extends MetricEvent> {
  /** Column of the series table (the same name as the event field). */
  id: string;
  /** The event type it is read from; its series table is {@link METRIC_TABLES}[event]. */
  event: E;
  /** The event field. */
  field: keyof EventOf[E] & string;
  /** Title of its compare chart, and its name wherever a sentence names it. */
  label: string;
  /** Unit ('' when dimensionless). */
  unit: string;
  /** Short name on a y axis when the label is long or has a subscript (the unit is added to it). */
  axis?: string;
  /** How values are shown: numbers as they are, or fractions in [0, 1] as percentages. */
  format: 'number' | 'percent';
  /**
   * Follows the views' smoothing control (accuracies and the LR are always drawn raw). The monitor smooths only
   * its per-step lines: evaluation points are drawn as measured there.
   */
  smooth: boolean;
  /** CSV column of an export. */
  csv: string;
  /** TensorBoard tag of an export. */
  tag: string;
  /** The summary.json field holding its last value (headline numbers prefer it once the run has ended). */
  final?: keyof RunSummary;
  /** Column header of the compare summary table (its last value), when it has one. */
  summaryColumn?: string;
  /** Overlaid across runs in the compare view, in `rank` order; `wide`: a full-width chart with the log toggle. */
  compare?: { rank: number; wide?: boolean };
  /** Drawn in the monitor. */
  monitor?: MonitorLine;
}

/** A catalogue entry of any event type. */
export type MetricSpec = MetricSpecOf<'step'> | MetricSpecOf<'fisher'> | MetricSpecOf<'eval'>;

/** Every metric, in CSV column order. */
export const METRICS = [
  {
    id: 'loss',
    event: 'step',
    field: 'loss',
    label: 'Training loss (mini-batch)',
    unit: 'nats',
    axis: 'loss',
    format: 'number',
    smooth: true,
    csv: 'loss',
    tag: 'train/loss',
    final: 'finalTrainLoss',
    compare: { rank: 3 },
    monitor: {
      chart: 'loss',
      rank: 0,
      legend: 'train (mini-batch)',
      color: 'blue',
      alpha: 0.8,
      width: 1,
    },
  },
  {
    id: 'lr',
    event: 'step',
    field: 'lr',
    label: 'Learning rate',
    unit: '',
    axis: 'learning rate',
    format: 'number',
    smooth: false,
    csv: 'lr',
    tag: 'train/lr',
    compare: { rank: 9 },
    monitor: { chart: 'lr', rank: 0, legend: 'learning rate', color: 'yellow' },
  },
  {
    id: 'penalty',
    event: 'step',
    field: 'penalty',
    label: 'Penalty α·P',
    unit: '',
    format: 'number',
    smooth: true,
    csv: 'penalty',
    tag: 'train/penalty',
    compare: { rank: 10 },
    monitor: { chart: 'lr', rank: 1, legend: 'penalty α·P', color: 'purple', scale: 'pen' },
  },
  {
    id: 'gradNorm',
    event: 'step',
    field: 'gradNorm',
    label: 'Gradient norm',
    unit: '',
    axis: 'gradient norm',
    format: 'number',
    smooth: true,
    csv: 'grad_norm',
    tag: 'train/grad_norm',
  },
  {
    id: 'examplesPerSec',
    event: 'step',
    field: 'examplesPerSec',
    label: 'Throughput',
    unit: 'examples/s',
    axis: 'throughput',
    format: 'number',
    smooth: false,
    csv: 'examples_per_sec',
    tag: 'train/examples_per_sec',
  },
  {
    id: 'trF',
    event: 'fisher',
    field: 'trF',
    label: 'Tr(F)',
    unit: '',
    format: 'number',
    smooth: true,
    csv: 'trF',
    tag: 'fisher/trF',
    final: 'finalTrF',
    compare: { rank: 1, wide: true },
    monitor: { chart: 'trF', rank: 0, legend: 'Tr(F)', color: 'blue', width: 2 },
  },
  {
    id: 'trFStderr',
    event: 'fisher',
    field: 'trFStderr',
    label: 'Standard error of Tr(F)',
    unit: '',
    axis: 's.e. of Tr(F)',
    format: 'number',
    smooth: false,
    csv: 'trF_stderr',
    tag: 'fisher/trF_stderr',
  },
  {
    id: 'trFB',
    event: 'fisher',
    field: 'trFB',
    label: 'Tr(F_B)',
    unit: '',
    axis: 'mini-batch Tr(F)',
    format: 'number',
    smooth: true,
    csv: 'trF_B',
    tag: 'fisher/trF_B',
    compare: { rank: 2 },
    monitor: { chart: 'trFB', rank: 0, legend: 'Tr(F_B)', color: 'purple' },
  },
  {
    id: 'testLoss',
    event: 'eval',
    field: 'testLoss',
    label: 'Test loss',
    unit: 'nats',
    axis: 'loss',
    format: 'number',
    smooth: true,
    csv: 'test_loss',
    tag: 'eval/test_loss',
    final: 'finalTestLoss',
    compare: { rank: 4 },
    monitor: { chart: 'loss', rank: 2, legend: 'test', color: 'orange' },
  },
  {
    id: 'testAcc',
    event: 'eval',
    field: 'testAcc',
    label: 'Test accuracy',
    unit: '',
    axis: 'accuracy',
    format: 'percent',
    smooth: false,
    csv: 'test_acc',
    tag: 'eval/test_acc',
    final: 'finalTestAcc',
    summaryColumn: 'Final test acc.',
    compare: { rank: 5 },
    monitor: { chart: 'acc', rank: 1, legend: 'test', color: 'orange' },
  },
  {
    id: 'trainLoss',
    event: 'eval',
    field: 'trainLoss',
    label: 'Training loss (tracked subset)',
    unit: 'nats',
    axis: 'loss',
    format: 'number',
    smooth: true,
    csv: 'train_loss',
    tag: 'eval/train_loss',
    monitor: { chart: 'loss', rank: 1, legend: 'train (tracked)', color: 'green' },
  },
  {
    id: 'trainAcc',
    event: 'eval',
    field: 'trainAcc',
    label: 'Training accuracy',
    unit: '',
    axis: 'accuracy',
    format: 'percent',
    smooth: false,
    csv: 'train_acc',
    tag: 'eval/train_acc',
    final: 'finalTrainAcc',
    compare: { rank: 6 },
    monitor: { chart: 'acc', rank: 0, legend: 'train', color: 'green' },
  },
  {
    id: 'cleanLoss',
    event: 'eval',
    field: 'cleanLoss',
    label: 'Clean-label training loss',
    unit: 'nats',
    axis: 'loss',
    format: 'number',
    smooth: true,
    csv: 'clean_loss',
    tag: 'eval/clean_loss',
  },
  {
    id: 'cleanAcc',
    event: 'eval',
    field: 'cleanAcc',
    label: 'Clean-label training accuracy',
    unit: '',
    axis: 'accuracy',
    format: 'percent',
    smooth: false,
    csv: 'clean_acc',
    tag: 'eval/clean_acc',
    final: 'finalCleanAcc',
    summaryColumn: 'Final clean acc.',
    compare: { rank: 7 },
    monitor: { chart: 'noise', rank: 0, legend: 'clean labels', color: 'green' },
  },
  {
    id: 'noisyLoss',
    event: 'eval',
    field: 'noisyLoss',
    label: 'Noisy-label training loss',
    unit: 'nats',
    axis: 'loss',
    format: 'number',
    smooth: true,
    csv: 'noisy_loss',
    tag: 'eval/noisy_loss',
  },
  {
    id: 'noisyAcc',
    event: 'eval',
    field: 'noisyAcc',
    label: 'Noisy-label training accuracy',
    unit: '',
    axis: 'accuracy',
    format: 'percent',
    smooth: false,
    csv: 'noisy_acc',
    tag: 'eval/noisy_acc',
    final: 'finalNoisyAcc',
    summaryColumn: 'Final noisy acc.',
    compare: { rank: 8 },
    monitor: { chart: 'noise', rank: 1, legend: 'noisy labels (given label)', color: 'red' },
  },
] as const satisfies readonly MetricSpec[];

/** Any catalogue entry. */
export type Metric = (typeof METRICS)[number];
/** A metric id (a series column). */
export type MetricId = Metric['id'];
/** The metric ids of one event type (the columns of its table). */
export type MetricIdOf<E extends MetricEvent> = Extract<Metric, { event: E }>['id'];

/** The series table a metric's values go to. */
export const tableOf = (x: Pick<MetricSpec, 'event'>): TableName => METRIC_TABLES[x.event];

/** The ids of the metrics of a table, in catalogue order. */
export function tableColumns(table: TableName, metrics: readonly MetricSpec[] = METRICS): string[] {
  return metrics.filter((x) => tableOf(x) === table).map((x) => x.id);
}

/** A metric by id (undefined for an unknown id). */
export const metricById = (id: string): MetricSpec | undefined =>
  (METRICS as readonly MetricSpec[]).find((x) => x.id === id);

/** The compare view's metrics, in their order. */
export function compareMetrics(metrics: readonly MetricSpec[] = METRICS): MetricSpec[] {
  return metrics.filter((x) => x.compare).sort((a, b) => a.compare!.rank - b.compare!.rank);
}

/** Metrics with a column in the compare summary table (their last value), in catalogue order. */
export function summaryColumns(
  metrics: readonly MetricSpec[] = METRICS,
): (MetricSpec & { summaryColumn: string })[] {
  return metrics.filter((x): x is MetricSpec & { summaryColumn: string } => !!x.summaryColumn);
}

/** One chart of the monitor: its element, height, y format and the note it shows when it has nothing to draw. */
export interface MonitorChart {
  id: ChartId;
  /** Id of the chart's element in the monitor page. */
  dom: string;
  /** Title (HTML: the page may mark up subscripts). */
  title: string;
  height: number;
  /** Full width (the Tr(F) chart). */
  wide?: boolean;
  /** y values are fractions shown as percentages. */
  percent?: boolean;
  /** When none of `ids` has a value but their table has rows: say `text`, greyed out when `grey`. */
  missing?: { ids: MetricId[]; text: string; grey: boolean };
  /** The title note shows `prefix` and the latest value of this metric. */
  latest?: { id: MetricId; prefix: string };
  /** Title of the y axis of each scale (key 'y': the left axis); the unit is added by {@link axisTitles}. */
  axes: Record<string, string>;
}

/** The monitor's charts, in page order; their lines are the metrics whose `monitor.chart` names them. */
export const MONITOR_CHARTS: readonly MonitorChart[] = [
  {
    id: 'trF',
    dom: 'chart-trf',
    title: 'Tr(F) <span class="muted">± s.e., early peak and Tr(F<sub>i</sub>) marked</span>',
    height: 300,
    wide: true,
    axes: { y: 'Tr(F)' },
  },
  {
    id: 'trFB',
    dom: 'chart-trfb',
    title: 'Tr(F<sub>B</sub>) <span class="muted">mini-batch</span>',
    height: 200,
    missing: { ids: ['trFB'], text: 'no Tr(F_B) measured', grey: true },
    axes: { y: 'mini-batch Tr(F)' },
  },
  { id: 'loss', dom: 'chart-loss', title: 'Loss', height: 200, axes: { y: 'loss' } },
  {
    id: 'acc',
    dom: 'chart-acc',
    title: 'Accuracy',
    height: 200,
    percent: true,
    latest: { id: 'testAcc', prefix: 'test' },
    axes: { y: 'accuracy' },
  },
  {
    id: 'noise',
    dom: 'chart-noise',
    title: 'Clean vs noisy-label training accuracy',
    height: 200,
    percent: true,
    missing: { ids: ['cleanAcc', 'noisyAcc'], text: 'no label noise in this run', grey: true },
    axes: { y: 'training accuracy' },
  },
  {
    id: 'lr',
    dom: 'chart-lr',
    title: 'Learning rate and penalty',
    height: 200,
    missing: { ids: ['penalty'], text: 'no penalty', grey: false },
    axes: { y: 'learning rate', pen: 'penalty α·P' },
  },
];

/** The lines of a monitor chart, in their order. */
export function chartLines(
  chart: ChartId,
  metrics: readonly MetricSpec[] = METRICS,
): (MetricSpec & { monitor: MonitorLine })[] {
  return metrics
    .filter((x): x is MetricSpec & { monitor: MonitorLine } => x.monitor?.chart === chart)
    .sort((a, b) => a.monitor.rank - b.monitor.rank);
}

/** Title of the x axis for a choice of x coordinate. */
export function xAxisTitle(axis: 'step' | 'epoch' | 'time'): string {
  return axis === 'time' ? 'time (s)' : axis;
}

/**
 * The y axis titles of a monitor chart, per scale key, with the unit of its lines: `loss (nats)`, `accuracy (%)`,
 * `learning rate`; a scale whose lines have different units names none.
 */
export function axisTitles(
  chart: MonitorChart,
  metrics: readonly MetricSpec[] = METRICS,
): Record<string, string> {
  const lines = chartLines(chart.id, metrics);
  const out: Record<string, string> = {};
  for (const [scale, title] of Object.entries(chart.axes)) {
    const on = lines.filter((l) => (l.monitor.scale ?? 'y') === scale);
    const units = new Set(on.map((l) => (l.format === 'percent' ? '%' : l.unit)));
    const unit = units.size === 1 ? [...units][0] : '';
    out[scale] = unit ? `${title} (${unit})` : title;
  }
  return out;
}

/** y axis title of a compare chart: the metric's short axis name (else its label) and unit. */
export const metricAxisTitle = (
  m: Pick<MetricSpec, 'label' | 'unit' | 'format' | 'axis'>,
): string => {
  const unit = m.format === 'percent' ? '%' : m.unit;
  const name = m.axis ?? m.label;
  return unit ? `${name} (${unit})` : name;
};
