/**
 * A uPlot line chart that keeps the full-resolution data and draws a decimated copy (min/max per pixel
 * column over the visible x range, so spikes and the Tr(F) peak always show), with cursor sync and zoom
 * sync across the charts of a view.
 */
import uPlot from 'uplot';
import { decimateIndices, pick } from '../src/shared/decimate';
import { fmtAxis } from '../src/shared/format';
import type { Val } from '../src/shared/series';
import { withAlpha, type Theme } from './theme';

export interface LineSpec {
  label: string;
  color: string;
  width?: number;
  dash?: number[];
  /** y scale key (default 'y'); a line on another scale gets a right-hand axis. */
  scale?: string;
  /** Excluded from decimation's min/max (e.g. a band edge that follows its line). */
  passive?: boolean;
  /** Hidden from the legend (band edges). */
  noLegend?: boolean;
  /** Draw points (sparse series such as evaluations). */
  points?: boolean;
}

export interface ChartOptions {
  /** Element the plot goes into (its width is the chart's width). */
  container: HTMLElement;
  height: number;
  lines: LineSpec[];
  theme: Theme;
  yLog?: boolean;
  /** Format of y tick labels per scale key. */
  yFormat?: Record<string, (v: number) => string>;
  /** Fill between two lines (indices into `lines`). */
  band?: { upper: number; lower: number; fill: string };
  zoom: ZoomGroup;
  /** Extra drawing on top (markers). */
  overlay?: (u: uPlot) => void;
  xFormat?: (v: number) => string;
  /** Name of the x value in the legend (step, epoch, time). */
  xLabel?: string;
}

/** Charts that zoom together: a drag-zoom in one sets the x range of all; double-click resets all. */
export class ZoomGroup {
  readonly syncKey: string;
  range: { min: number; max: number } | null = null;
  private charts = new Set<Chart>();
  constructor(key: string) {
    this.syncKey = key;
  }
  add(c: Chart) {
    this.charts.add(c);
  }
  remove(c: Chart) {
    this.charts.delete(c);
  }
  set(range: { min: number; max: number } | null, from?: Chart) {
    this.range = range;
    for (const c of this.charts) if (c !== from || !range) c.render();
    if (from && range) from.render();
  }
}

let chartCount = 0;

export class Chart {
  private u: uPlot | null = null;
  private x: number[] = [];
  private ys: Val[][] = [];
  private keep: number[] = [];
  private updating = false;
  private readonly ro: ResizeObserver;
  private readonly id = ++chartCount;

  constructor(private opts: ChartOptions) {
    opts.zoom.add(this);
    this.ro = new ResizeObserver(() => this.resize());
    this.ro.observe(opts.container);
  }

  /** Full-resolution data: sorted x and one y column per line; `keep` = indices always drawn. */
  setData(x: number[], ys: Val[][], keep: number[] = []): void {
    this.x = x;
    this.ys = ys;
    this.keep = keep;
    this.render();
  }

  /** Rebuild with new options (log scale, theme). */
  reconfigure(patch: Partial<ChartOptions>): void {
    this.opts = { ...this.opts, ...patch };
    this.u?.destroy();
    this.u = null;
    this.render();
  }

  /** Lines shown in the legend: label and colour (for PNG export). */
  legend(): { label: string; color: string }[] {
    return this.opts.lines
      .filter((l) => !l.noLegend && !l.passive)
      .map((l) => ({ label: l.label, color: l.color }));
  }

  /** The drawn canvas (for PNG export). */
  canvas(): HTMLCanvasElement | null {
    return this.u?.ctx.canvas ?? null;
  }

  /** Request a redraw of the overlay (markers changed). */
  redraw(): void {
    this.u?.redraw(false, false);
  }

  private width(): number {
    return Math.max(200, Math.floor(this.opts.container.clientWidth || 400));
  }

  /** Decimate for the current width and x range and hand the result to uPlot. */
  render(): void {
    const range = this.opts.zoom.range;
    const w = this.width();
    const active = this.ys.filter((_, i) => !this.opts.lines[i]?.passive);
    const idx = decimateIndices(
      this.x,
      active,
      w,
      range ? { from: range.min, to: range.max, keep: this.keep } : { keep: this.keep },
    );
    const data: uPlot.AlignedData = [
      pick(this.x, idx),
      ...this.ys.map((y) => pick(y, idx)),
    ] as uPlot.AlignedData;
    this.updating = true;
    try {
      if (!this.u) {
        this.u = new uPlot(this.options(w), data, this.opts.container);
        if (range) this.u.setScale('x', range);
      } else {
        this.u.setData(data, !range);
        if (range) this.u.setScale('x', range);
      }
    } finally {
      this.updating = false;
    }
  }

  private resize() {
    if (!this.u) return;
    const w = this.width();
    if (Math.abs(w - this.u.width) < 2) return;
    this.updating = true;
    this.u.setSize({ width: w, height: this.opts.height });
    this.updating = false;
    this.render();
  }

  private options(width: number): uPlot.Options {
    const o = this.opts;
    const t = o.theme;
    const scales = [...new Set(o.lines.map((l) => l.scale ?? 'y'))];
    const axis = (scale: string, side: 0 | 1): uPlot.Axis => ({
      scale,
      side: side ? 1 : 3,
      stroke: t.muted,
      font: t.font,
      grid: { stroke: withAlpha(t.grid, 0.5), width: 1, show: side === 0 },
      ticks: { stroke: withAlpha(t.grid, 0.5), width: 1 },
      size: 52,
      values: o.yFormat?.[scale]
        ? (_u: uPlot, splits: number[]) =>
            splits.map((v) => (v === null ? '' : o.yFormat![scale](v)))
        : undefined,
    });
    const yScale: uPlot.Scale = o.yLog ? { distr: 3, log: 10 } : {};
    return {
      width,
      height: o.height,
      legend: { show: true, live: true },
      cursor: {
        sync: { key: o.zoom.syncKey, setSeries: false, scales: ['x', null] },
        drag: { x: true, y: false, setScale: true },
        points: { size: 6 },
        bind: {
          // Double-click resets the zoom of every chart in the group.
          dblclick: () => () => {
            o.zoom.set(null);
            return null;
          },
        },
      },
      scales: {
        x: { time: false },
        ...Object.fromEntries(scales.map((s) => [s, s === 'y' ? yScale : {}])),
      },
      axes: [
        {
          stroke: t.muted,
          font: t.font,
          grid: { stroke: withAlpha(t.grid, 0.5), width: 1 },
          ticks: { stroke: withAlpha(t.grid, 0.5), width: 1 },
          values: o.xFormat
            ? (_u: uPlot, splits: number[]) => splits.map((v) => (v === null ? '' : o.xFormat!(v)))
            : undefined,
        },
        ...scales.map((s, i) => axis(s, i === 0 ? 0 : 1)),
      ],
      series: [
        {
          label: o.xLabel ?? 'x',
          value: (_u: uPlot, v: number | null) =>
            v === null || v === undefined ? '–' : o.xFormat ? o.xFormat(v) : fmtAxis(v),
        },
        ...o.lines.map((l): uPlot.Series => ({
          label: l.label,
          scale: l.scale ?? 'y',
          stroke: l.color,
          width: l.width ?? 1.5,
          dash: l.dash,
          spanGaps: true,
          points: { show: l.points ?? false, size: 4, fill: l.color },
          value: (_u: uPlot, v: number | null) =>
            v === null || v === undefined ? '–' : fmtAxis(v),
          class: l.noLegend ? 'no-legend' : undefined,
        })),
      ],
      bands: o.band
        ? [{ series: [o.band.upper + 1, o.band.lower + 1], fill: o.band.fill }]
        : undefined,
      hooks: {
        setScale: [
          (u: uPlot, key: string) => {
            if (key !== 'x' || this.updating) return;
            const { min, max } = u.scales.x;
            if (min === undefined || max === undefined || min === null || max === null) return;
            const full = this.x.length ? { min: this.x[0], max: this.x[this.x.length - 1] } : null;
            const whole = !full || (min <= full.min && max >= full.max);
            // A user zoom (drag): apply it to the whole group, after uPlot has finished handling the event.
            queueMicrotask(() => this.opts.zoom.set(whole ? null : { min, max }, this));
          },
        ],
        draw: o.overlay ? [(u: uPlot) => o.overlay!(u)] : [],
      },
    };
  }

  destroy(): void {
    this.ro.disconnect();
    this.opts.zoom.remove(this);
    this.u?.destroy();
    this.u = null;
  }

  get key(): number {
    return this.id;
  }
}
