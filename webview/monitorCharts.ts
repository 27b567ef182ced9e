/**
 * The monitor's charts, drawn from the chart table (MONITOR_CHARTS) and the metric catalogue
 * (src/shared/metrics.ts): each chart draws the metrics whose `monitor.chart` names it, with the axis titles
 * and units the table gives. The Tr(F) chart adds its raw line (only when smoothing is on), the ± s.e. band
 * (its value on hover) and the detector's marks. Charts out of view are brought up to date when they scroll
 * into view, not on every increment.
 */
import type uPlot from 'uplot';
import { align } from '../src/shared/compare';
import { duration, fmt, pct } from '../src/shared/format';
import {
  axisTitles,
  chartLines,
  MONITOR_CHARTS,
  tableOf,
  xAxisTitle,
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
import { compact } from '../src/shared/ticks';
import { lowerBound } from '../src/shared/decimate';
import { Chart, type ChartOptions, type LineSpec, type ZoomGroup } from './chart';
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
const lineSpec = (m: Line): LineSpec => ({
  label: m.monitor.legend,
  color: (t) =>
    m.monitor.alpha !== undefined
      ? withAlpha(t[m.monitor.color], m.monitor.alpha)
      : t[m.monitor.color],
  width: m.monitor.width,
  scale: m.monitor.scale,
  points: m.event === 'eval' || undefined,
});

/** `value ± s.e.` for hover: the line's value and the band's upper edge at the same drawn index. */
const withStderr =
  (valueCol: number, upperCol: number) =>
  (d: uPlot.AlignedData, i: number): string => {
    const v = d[valueCol]?.[i];
    const hi = d[upperCol]?.[i];
    if (v === null || v === undefined) return '–';
    return hi === null || hi === undefined
      ? compact(v, 4)
      : `${compact(v, 4)} ± ${compact(hi - v, 2)}`;
  };

/** The monitor's charts: created on first draw, dropped by {@link reset} (axis or theme changed). */
export class MonitorCharts {
  private readonly charts = new Map<string, Chart>();
  /** Charts that missed an update while out of view. */
  private readonly stale = new Set<string>();
  /** Charts waiting for their turn to be drawn, in order. */
  private pending: MonitorChart[] = [];
  private frame = 0;
  /** Whether the Tr(F) chart was built with its raw line (smoothing on). */
  private trfRaw = false;
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
    this.stale.clear();
    this.pending = [];
  }

  /**
   * Draw every chart of the table for `s`: one chart per animation frame, in turn (a chart already waiting
   * keeps its place), so a frame never carries more than one chart's redraw; charts out of view are drawn
   * when they come into view.
   */
  render(s: RunSeries): void {
    this.series = s;
    for (const spec of MONITOR_CHARTS) {
      const c = this.charts.get(spec.dom);
      if (c && !c.onScreen) this.stale.add(spec.dom);
      else if (!this.pending.includes(spec)) this.pending.push(spec);
    }
    this.pump();
  }

  /**
   * What drawing every chart once costs here (ms, a moving average over recent draws, uPlot's own deferred
   * drawing included): the monitor spaces live redraws by a multiple of it, so a slow machine redraws less often
   * instead of dropping frames.
   */
  get cycleCostMs(): number {
    return this.costPerChart * MONITOR_CHARTS.length;
  }
  private costPerChart = 0;

  /** Draw the next waiting chart now, and ask for a frame for the one after. */
  private pump(): void {
    const spec = this.pending.shift();
    if (spec && this.series) {
      const t0 = performance.now();
      this.renderOne(spec, this.series);
      // uPlot draws in a microtask queued by setData: this one runs after it.
      queueMicrotask(() => {
        const ms = performance.now() - t0;
        this.costPerChart = this.costPerChart ? 0.8 * this.costPerChart + 0.2 * ms : ms;
      });
    }
    if (this.pending.length && !this.frame)
      this.frame = requestAnimationFrame(() => {
        this.frame = 0;
        this.pump();
      });
  }

  /** Bring the charts out of view up to date too (before an export). */
  flush(s: RunSeries): void {
    this.series = s;
    for (const spec of MONITOR_CHARTS)
      if (this.stale.has(spec.dom) || this.pending.includes(spec)) this.renderOne(spec, s);
    this.pending = [];
  }

  private renderOne(spec: MonitorChart, s: RunSeries): void {
    this.stale.delete(spec.dom);
    this.pending = this.pending.filter((p) => p !== spec);
    if (spec.id === 'trF') this.renderTrF(spec, s);
    else this.renderChart(spec, s);
  }

  private chart(spec: MonitorChart, lines: LineSpec[], extra: Partial<ChartOptions> = {}): Chart {
    let c = this.charts.get(spec.dom);
    if (!c) {
      const v = this.view();
      const { box, plot } = chartBox(
        $('charts') ?? document.querySelector('section.charts') ?? document.body,
        spec.dom,
        { html: spec.title },
        spec.wide,
      );
      // The axis titles are drawn on the canvas; the box names them too (tests, assistive tools).
      box.dataset.axes = [xAxisTitle(v.xAxis), ...Object.values(axisTitles(spec))].join(' | ');
      c = new Chart({
        container: plot,
        height: spec.height,
        lines,
        theme: v.theme,
        zoom: v.zoom,
        xFormat: v.xAxis === 'time' ? duration : undefined,
        xLabel: v.xAxis === 'time' ? 'time' : v.xAxis,
        xTitle: xAxisTitle(v.xAxis),
        yTitle: axisTitles(spec),
        percent: spec.percent ? ['y'] : undefined,
        onShow: () => {
          if (this.stale.has(spec.dom) && this.series) this.renderOne(spec, this.series);
        },
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
    const c = this.chart(spec, lines.map(lineSpec));
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

  /**
   * Tr(F): the (smoothed) line, the raw one under it when smoothing is on, the ± s.e. band (hover shows
   * `value ± s.e.`), the peak kept through decimation, the detector's marks.
   */
  private renderTrF(spec: MonitorChart, s: RunSeries): void {
    const v = this.view();
    const [main] = chartLines('trF') as Line[];
    const fx = xValues(s, s.fisher, v.xAxis);
    const raw = s.fisher.trF;
    const se = s.fisher.trFStderr;
    const smoothed = v.smoothing > 0;
    const hi: Val[] = raw.map((y, i) =>
      y === null || se[i] === null ? null : y + (se[i] as number),
    );
    const lo: Val[] = raw.map((y, i) => {
      if (y === null || se[i] === null) return null;
      const l = y - (se[i] as number);
      return v.logScale && l <= 0 ? y * 0.01 : l;
    });
    const peakIdx = argMax(raw);
    if (this.charts.has(spec.dom) && this.trfRaw !== smoothed) {
      // The raw line is part of the chart only while smoothing is on (no empty "raw" in the legend).
      this.charts.get(spec.dom)!.destroy();
      this.charts.delete(spec.dom);
    }
    this.trfRaw = smoothed;
    const color = (t: Theme) => t[main.monitor.color];
    const lines: LineSpec[] = smoothed
      ? [
          { ...lineSpec(main), label: `${main.monitor.legend} (smoothed)` },
          {
            label: 'raw',
            color: (t) => withAlpha(color(t), 0.35),
            width: 1,
            hover: withStderr(2, 3),
          },
          { label: '+s.e.', color: 'transparent', passive: true, noLegend: true },
          { label: '−s.e.', color: 'transparent', passive: true, noLegend: true },
        ]
      : [
          { ...lineSpec(main), hover: withStderr(1, 2) },
          { label: '+s.e.', color: 'transparent', passive: true, noLegend: true },
          { label: '−s.e.', color: 'transparent', passive: true, noLegend: true },
        ];
    const band = smoothed ? { upper: 2, lower: 3 } : { upper: 1, lower: 2 };
    const c = this.chart(spec, lines, {
      yLog: v.logScale,
      band: { ...band, fill: (t) => withAlpha(color(t), 0.12) },
      overlay: (u, theme) => this.series && this.drawMarkers(u, this.series, theme),
    });
    this.trfX = fx;
    c.setData(
      fx,
      smoothed ? [ema(raw, v.smoothing), raw, hi, lo] : [raw, hi, lo],
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

  /**
   * Vertical marks: early peak (else the raw maximum), Tr(F_i), explosion; each label on a plate of the
   * background colour, so it reads in dark and light themes and over the lines.
   */
  private drawMarkers(u: uPlot, s: RunSeries, theme: Theme): void {
    const ctx = u.ctx;
    const dpr = devicePixelRatio || 1;
    const h = headline(s);
    const marks: {
      step: number;
      label: string;
      color: string;
      sub?: string;
      dim?: boolean;
      /** Drawn on the Tr(F) axis at the value printed: the early peak across the measurements it averages. */
      level?: { value: number; from: number; to: number };
    }[] = [];
    if (h.peakTrF !== null && h.peakStep !== null) {
      const pm = s.markers.find((m) => m.kind === 'peak');
      marks.push({
        step: h.peakStep,
        label: `${h.peakKind === 'peak' ? 'early peak' : 'max'} ${fmt(h.peakTrF)}`,
        color: theme.red,
        dim: h.peakKind !== 'peak',
        level: {
          value: h.peakTrF,
          from: pm?.step === h.peakStep && pm.from != null ? pm.from : h.peakStep,
          to: pm?.step === h.peakStep && pm.to != null ? pm.to : h.peakStep,
        },
      });
    }
    if (h.trFi !== null && h.trFiStep !== null)
      marks.push({ step: h.trFiStep, label: `Tr(F`, sub: 'i', color: theme.green });
    const ex = h.explosion;
    if (ex)
      marks.push({
        step: ex.step,
        label: `explosion${ex.rise ? ` ${fmt(ex.rise, 2)}×` : ''}`,
        color: theme.orange,
      });
    const family = theme.font.replace(/^\d+px\s*/, '');
    const font = `${11 * dpr}px ${family}`;
    const subFont = `${8 * dpr}px ${family}`;
    ctx.save();
    // uPlot leaves its axis text alignment on the context.
    ctx.textAlign = 'left';
    ctx.textBaseline = 'alphabetic';
    let row = 0;
    for (const m of marks) {
      const x = xOfStep(s.fisher.step, this.trfX, m.step);
      if (x === null) continue;
      const px = u.valToPos(x, 'x', true);
      if (px < u.bbox.left - 1 || px > u.bbox.left + u.bbox.width + 1) continue;
      ctx.strokeStyle = m.dim ? withAlpha(m.color, 0.6) : m.color;
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
          ctx.fillStyle = ctx.strokeStyle;
          ctx.beginPath();
          ctx.arc(px, py, 3 * dpr, 0, 2 * Math.PI);
          ctx.fill();
          ctx.lineWidth = 1 * dpr;
        }
      }
      // Tr(F_i) is written with its subscript: "Tr(F" + small "i" + ") value".
      const parts: { text: string; font: string; dy: number }[] = m.sub
        ? [
            { text: m.label, font, dy: 0 },
            { text: m.sub, font: subFont, dy: 3 * dpr },
            { text: `) ${fmt(h.trFi)}`, font, dy: 0 },
          ]
        : [{ text: m.label, font, dy: 0 }];
      const widths = parts.map((p) => ((ctx.font = p.font), ctx.measureText(p.text).width));
      const tw = widths.reduce((a, b) => a + b, 0);
      const pad = 3 * dpr;
      const tx = px + 6 * dpr + tw > u.bbox.left + u.bbox.width ? px - 6 * dpr - tw : px + 6 * dpr;
      const ty = u.bbox.top + (13 + 16 * row++) * dpr;
      ctx.fillStyle = withAlpha(theme.bg, 0.85);
      ctx.fillRect(tx - pad, ty - 11 * dpr, tw + 2 * pad, 15 * dpr);
      ctx.fillStyle = m.dim ? withAlpha(m.color, 0.6) : m.color;
      let cx = tx;
      parts.forEach((p, i) => {
        ctx.font = p.font;
        ctx.fillText(p.text, cx, ty + p.dy);
        cx += widths[i];
      });
    }
    ctx.restore();
  }
}

/** x of a step along the current axis, via the table the mark belongs to (the nearest measured step). */
function xOfStep(steps: number[], xs: number[], step: number): number | null {
  if (!steps.length) return null;
  const i = Math.min(steps.length - 1, lowerBound(steps, step));
  const best = i > 0 && Math.abs(steps[i - 1] - step) <= Math.abs(steps[i] - step) ? i - 1 : i;
  return xs[best] ?? null;
}
