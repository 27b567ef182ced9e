/**
 * The monitor's charts, drawn from the chart table (MONITOR_CHARTS) and the metric catalogue
 * (src/shared/metrics.ts): each chart draws the metrics whose `monitor.chart` names it. The Tr(F) chart adds
 * its raw line, the ± s.e. band and the detector's marks.
 */
import type uPlot from 'uplot';
import { align } from '../src/shared/compare';
import { duration, fmt, fmtAxis, pct, percentAxis } from '../src/shared/format';
import {
  chartLines,
  MONITOR_CHARTS,
  tableOf,
  type MetricSpec,
  type MonitorChart,
  type MonitorLine,
} from '../src/shared/metrics';
import {
  argMax,
  ema,
  headline,
  xValues,
  type RunSeries,
  type Val,
  type XAxis,
  type XColumns,
} from '../src/shared/series';
import { Chart, type LineSpec, type ZoomGroup } from './chart';
import { withAlpha, type Theme } from './theme';
import { $, chartBox, chartNote } from './view';

/** What the charts are drawn with (the view's settings). */
export interface ChartView {
  xAxis: XAxis;
  smoothing: number;
  logScale: boolean;
  theme: Theme;
  zoom: ZoomGroup;
}

type Line = MetricSpec & { monitor: MonitorLine };

const column = (s: RunSeries, m: MetricSpec): Val[] =>
  (s[tableOf(m)] as unknown as Record<string, Val[]>)[m.id] ?? [];
const rows = (s: RunSeries, m: MetricSpec): number => (s[tableOf(m)] as XColumns).step.length;
const lineSpec = (m: Line, t: Theme): LineSpec => ({
  label: m.monitor.legend,
  color:
    m.monitor.alpha !== undefined
      ? withAlpha(t[m.monitor.color], m.monitor.alpha)
      : t[m.monitor.color],
  width: m.monitor.width,
  scale: m.monitor.scale,
  points: m.event === 'eval' || undefined,
});

/** The monitor's charts: created on first draw, dropped by {@link reset} (axis or theme changed). */
export class MonitorCharts {
  private readonly charts = new Map<string, Chart>();
  /** x values of the Tr(F) points along the current axis (for the marks). */
  private trfX: number[] = [];
  private series: RunSeries | null = null;

  constructor(private readonly view: () => ChartView) {}

  /** Element ids of the charts, in page order (PNG export). */
  readonly order = MONITOR_CHARTS.map((c) => c.dom);

  get(dom: string): Chart | undefined {
    return this.charts.get(dom);
  }

  reset(): void {
    for (const c of this.charts.values()) c.destroy();
    this.charts.clear();
  }

  /** Draw every chart of the table for `s`. */
  render(s: RunSeries): void {
    this.series = s;
    for (const spec of MONITOR_CHARTS) {
      if (spec.id === 'trF') this.renderTrF(spec, s);
      else this.renderChart(spec, s);
    }
  }

  private chart(
    spec: MonitorChart,
    lines: LineSpec[],
    extra: Partial<ConstructorParameters<typeof Chart>[0]> = {},
  ): Chart {
    let c = this.charts.get(spec.dom);
    if (!c) {
      const v = this.view();
      const { plot } = chartBox(
        $('charts') ?? document.querySelector('section.charts') ?? document.body,
        spec.dom,
        { html: spec.title },
        spec.wide,
      );
      c = new Chart({
        container: plot,
        height: spec.height,
        lines,
        theme: v.theme,
        zoom: v.zoom,
        xFormat: v.xAxis === 'time' ? duration : fmtAxis,
        xLabel: v.xAxis === 'time' ? 'time' : v.xAxis,
        yFormat: spec.percent ? { y: percentAxis } : undefined,
        ...extra,
      });
      this.charts.set(spec.dom, c);
    }
    return c;
  }

  /** A chart of catalogue lines: one table's lines share its x; lines of several tables are aligned. */
  private renderChart(spec: MonitorChart, s: RunSeries): void {
    const v = this.view();
    const lines = chartLines(spec.id) as Line[];
    const ys = lines.map((m) =>
      m.smooth && m.event !== 'eval' ? ema(column(s, m), v.smoothing) : column(s, m),
    );
    const tables = new Set(lines.map(tableOf));
    const c = this.chart(
      spec,
      lines.map((m) => lineSpec(m, v.theme)),
    );
    if (tables.size === 1) c.setData(xValues(s, s[tableOf(lines[0])], v.xAxis), ys);
    else {
      const a = align(lines.map((m, i) => ({ x: xValues(s, s[tableOf(m)], v.xAxis), y: ys[i] })));
      c.setData(a.x, a.ys);
    }
    if (spec.missing) {
      const ms = spec.missing.ids.map((id) => lines.find((m) => m.id === id)!).filter(Boolean);
      const has = ms.some((m) => column(s, m).some((y) => y !== null));
      const any = ms.length > 0 && rows(s, ms[0]) > 0;
      chartNote(spec.dom, has || !any ? '' : spec.missing.text, spec.missing.grey && !has && any);
    } else if (spec.latest) {
      const m = lines.find((x) => x.id === spec.latest!.id);
      const ys0 = m ? column(s, m) : [];
      const last = ys0[ys0.length - 1];
      chartNote(
        spec.dom,
        last !== undefined && last !== null ? `${spec.latest.prefix} ${pct(last)}` : '',
      );
    }
  }

  /** Tr(F): smoothed line over the raw one, ± s.e. band, the peak kept through decimation, detector marks. */
  private renderTrF(spec: MonitorChart, s: RunSeries): void {
    const v = this.view();
    const [main] = chartLines('trF') as Line[];
    const fx = xValues(s, s.fisher, v.xAxis);
    const raw = s.fisher.trF;
    const se = s.fisher.trFStderr;
    const hi: Val[] = raw.map((y, i) =>
      y === null || se[i] === null ? null : y + (se[i] as number),
    );
    const lo: Val[] = raw.map((y, i) => {
      if (y === null || se[i] === null) return null;
      const l = y - (se[i] as number);
      return v.logScale && l <= 0 ? y * 0.01 : l;
    });
    const peakIdx = argMax(raw);
    const t = v.theme;
    const c = this.chart(
      spec,
      [
        lineSpec(main, t),
        { label: 'raw', color: withAlpha(t[main.monitor.color], 0.35), width: 1 },
        { label: '+s.e.', color: 'transparent', passive: true, noLegend: true },
        { label: '−s.e.', color: 'transparent', passive: true, noLegend: true },
      ],
      {
        yLog: v.logScale,
        band: { upper: 2, lower: 3, fill: withAlpha(t[main.monitor.color], 0.12) },
        overlay: (u) => this.series && this.drawMarkers(u, this.series),
      },
    );
    this.trfX = fx;
    c.setData(
      fx,
      [ema(raw, v.smoothing), v.smoothing > 0 ? raw : raw.map(() => null), hi, lo],
      peakIdx >= 0 ? [peakIdx] : [],
    );
    const h = headline(s);
    const top =
      h.peakTrF === null
        ? ''
        : `${h.peakKind === 'peak' ? 'early peak' : 'max'} ${fmt(h.peakTrF)} @ step ${h.peakStep}`;
    chartNote(
      spec.dom,
      raw.length
        ? `latest ${fmt(raw[raw.length - 1])} · ${top}`
        : 'waiting for the first measurement',
    );
  }

  /** Log-scale toggle: only the Tr(F) chart has it. */
  setLog(on: boolean): void {
    this.charts.get('chart-trf')?.reconfigure({ yLog: on });
  }

  /** Vertical marks: early peak (else the raw maximum), Tr(F_i), explosion. */
  private drawMarkers(u: uPlot, s: RunSeries): void {
    const theme = this.view().theme;
    const ctx = u.ctx;
    const dpr = devicePixelRatio || 1;
    const h = headline(s);
    const marks: {
      step: number;
      label: string;
      color: string;
      /** Drawn on the Tr(F) axis at the value printed: the early peak across the measurements it averages. */
      level?: { value: number; from: number; to: number };
    }[] = [];
    if (h.peakTrF !== null && h.peakStep !== null) {
      const pm = s.markers.find((m) => m.kind === 'peak');
      marks.push({
        step: h.peakStep,
        label: `${h.peakKind === 'peak' ? 'early peak' : 'max'} ${fmt(h.peakTrF)}`,
        color: h.peakKind === 'peak' ? theme.red : withAlpha(theme.red, 0.6),
        level: {
          value: h.peakTrF,
          from: pm?.step === h.peakStep && pm.from != null ? pm.from : h.peakStep,
          to: pm?.step === h.peakStep && pm.to != null ? pm.to : h.peakStep,
        },
      });
    }
    if (h.trFi !== null && h.trFiStep !== null)
      marks.push({ step: h.trFiStep, label: `Tr(F_i) ${fmt(h.trFi)}`, color: theme.green });
    const ex = s.markers.find((m) => m.kind === 'explosion');
    if (ex)
      marks.push({
        step: ex.step,
        label: `explosion${ex.rise ? ` ${fmt(ex.rise, 2)}×` : ''}`,
        color: theme.orange,
      });
    ctx.save();
    ctx.font = `${11 * dpr}px ${getComputedStyle(document.body).fontFamily}`;
    let row = 0;
    for (const m of marks) {
      const x = xOfStep(s.fisher.step, this.trfX, m.step);
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
      if (m.level) {
        // The mark sits on the curve whose value it prints: a bar at the level over its window, a dot at its step.
        const x0 = xOfStep(s.fisher.step, this.trfX, m.level.from);
        const x1 = xOfStep(s.fisher.step, this.trfX, m.level.to);
        const py = u.valToPos(m.level.value, 'y', true);
        if (x0 !== null && x1 !== null && Number.isFinite(py)) {
          ctx.lineWidth = 2 * dpr;
          ctx.beginPath();
          ctx.moveTo(u.valToPos(x0, 'x', true), py);
          ctx.lineTo(u.valToPos(x1, 'x', true), py);
          ctx.stroke();
          ctx.beginPath();
          ctx.arc(px, py, 3 * dpr, 0, 2 * Math.PI);
          ctx.fill();
          ctx.lineWidth = 1 * dpr;
        }
      }
      const tw = ctx.measureText(m.label).width;
      const tx = px + 4 * dpr + tw > u.bbox.left + u.bbox.width ? px - 4 * dpr - tw : px + 4 * dpr;
      ctx.fillText(m.label, tx, u.bbox.top + (12 + 13 * row++) * dpr);
    }
    ctx.restore();
  }
}

/** x of a step along the current axis, via the table the mark belongs to (the nearest measured step). */
function xOfStep(steps: number[], xs: number[], step: number): number | null {
  if (!steps.length) return null;
  let best = 0;
  for (let i = 0; i < steps.length; i++)
    if (Math.abs(steps[i] - step) < Math.abs(steps[best] - step)) best = i;
  return xs[best] ?? null;
}
