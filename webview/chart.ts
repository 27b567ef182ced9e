/**
 * A uPlot line chart that keeps the full-resolution data and draws a decimated copy (min/max per pixel
 * column over the visible x range, so spikes and the Tr(F) peak always show), with cursor sync and zoom
 * sync across the charts of a view. Axes carry titles and tick labels that show their values
 * (src/shared/ticks.ts). A chart scrolled out of view is not redrawn until it is back in view, and its width
 * comes from a ResizeObserver (no layout read per redraw), so a live run streams without long frames.
 */
import uPlot from 'uplot';
import { decimateIndices, pick } from '../src/shared/decimate';
import { thousands } from '../src/shared/format';
import type { Val } from '../src/shared/series';
import {
  compact,
  labelRuns,
  logTickLabels,
  percentTickLabels,
  tickLabels,
} from '../src/shared/ticks';
import { withAlpha, type Theme } from './theme';

/** A colour, or how to pick it from a theme (so the chart can be drawn in another theme, e.g. the PNG's). */
export type Color = string | ((t: Theme) => string);
const resolve = (c: Color, t: Theme): string => (typeof c === 'function' ? c(t) : c);

export interface LineSpec {
  label: string;
  color: Color;
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
  /** Hover text of the value at drawn index `i` (default: the value, compactly). */
  hover?: (data: uPlot.AlignedData, i: number) => string;
}

export interface ChartOptions {
  /** Element the plot goes into (its width is the chart's width). */
  container: HTMLElement;
  height: number;
  lines: LineSpec[];
  theme: Theme;
  yLog?: boolean;
  /** y scales whose values are fractions shown as percentages. */
  percent?: string[];
  /** Per-value y format per scale key (overrides the tick labels). */
  yFormat?: Record<string, (v: number) => string>;
  /** Fill between two lines (indices into `lines`). */
  band?: { upper: number; lower: number; fill: Color };
  zoom: ZoomGroup;
  /** Extra drawing on top (markers), in the theme the chart is drawn in. */
  overlay?: (u: uPlot, theme: Theme) => void;
  xFormat?: (v: number) => string;
  /** Name of the x value in the legend (step, epoch, time). */
  xLabel?: string;
  /** Axis titles: x, and y per scale key (with units). */
  xTitle?: string;
  yTitle?: Record<string, string>;
  /** Called when the chart comes into view (to bring it up to date); default: redraw if data came meanwhile. */
  onShow?: () => void;
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

let measureCtx: CanvasRenderingContext2D | null = null;
/** Width in CSS pixels of the widest of `labels` in `font`. */
function textWidth(labels: readonly (string | null)[], font: string): number {
  measureCtx ??= document.createElement('canvas').getContext('2d');
  if (!measureCtx) return 8 * Math.max(0, ...labels.map((l) => (l ?? '').length));
  measureCtx.font = font;
  let w = 0;
  for (const l of labels) if (l) w = Math.max(w, measureCtx.measureText(l).width);
  return w;
}

/** Pixel size of a y axis: its widest tick label plus tick and gap, never clipping a label. */
const ySize =
  (font: string) =>
  (_u: uPlot, values: string[] | null): number =>
    Math.ceil(Math.max(28, textWidth(values ?? [], font) + 14));

/** A legend label as an element when it has subscripts (text nodes and `<sub>`, never HTML from a string). */
function subscripted(label: string): string | HTMLElement {
  const runs = labelRuns(label);
  if (!runs.some((r) => r.sub)) return label;
  const span = document.createElement('span');
  for (const r of runs) {
    if (!r.sub) span.append(document.createTextNode(r.text));
    else {
      const sub = document.createElement('sub');
      sub.textContent = r.text;
      span.append(sub);
    }
  }
  return span;
}

/**
 * Whether a series' points are worth drawing: only while its values in view are at least 8 px apart on average
 * (a dense series reads as its line, and thousands of small arcs are the costliest thing on the canvas).
 */
const sparse = (u: uPlot, si: number, i0: number, i1: number): boolean => {
  const ys = u.data[si];
  let n = 0;
  const limit = u.bbox.width / (8 * (devicePixelRatio || 1));
  for (let i = i0; i <= i1; i++)
    if (ys[i] !== null && ys[i] !== undefined && ++n > limit) return false;
  return true;
};

export class Chart {
  private u: uPlot | null = null;
  private x: number[] = [];
  private ys: Val[][] = [];
  private keep: number[] = [];
  private updating = false;
  private dirty = false;
  private visible = true;
  private lastWidth = 0;
  private readonly ro: ResizeObserver;
  private readonly io: IntersectionObserver | null;

  constructor(private opts: ChartOptions) {
    opts.zoom.add(this);
    this.lastWidth = Math.floor(opts.container.clientWidth || 0);
    // The resize is applied in the next animation frame, not inside the observer's callback: resizing the plot
    // there can change the layout again in the same frame ("ResizeObserver loop completed with undelivered
    // notifications", an uncaught error in the page) — e.g. when a scroll bar comes or goes.
    let pendingWidth: number | null = null;
    this.ro = new ResizeObserver((entries) => {
      const w = entries[entries.length - 1]?.contentRect.width;
      if (w === undefined) return;
      if (pendingWidth === null)
        requestAnimationFrame(() => {
          const next = pendingWidth;
          pendingWidth = null;
          if (next !== null) this.resize(next);
        });
      pendingWidth = Math.floor(w);
    });
    this.ro.observe(opts.container);
    this.io =
      typeof IntersectionObserver === 'function'
        ? new IntersectionObserver(
            (entries) => {
              const was = this.visible;
              this.visible = entries[entries.length - 1]?.isIntersecting ?? true;
              if (!this.visible || was) return;
              if (this.opts.onShow) this.opts.onShow();
              if (this.dirty) this.render();
            },
            { rootMargin: '0px' },
          )
        : null;
    this.io?.observe(opts.container);
  }

  /** Whether the chart is on screen (or near it): charts out of view defer their redraws. */
  get onScreen(): boolean {
    return this.visible;
  }

  /** Full-resolution data: sorted x and one y column per line; `keep` = indices always drawn. */
  setData(x: number[], ys: Val[][], keep: number[] = []): void {
    this.x = x;
    this.ys = ys;
    this.keep = keep;
    this.render();
  }

  /** Whether any line has a value (the PNG leaves empty charts out). */
  hasData(): boolean {
    return this.ys.some((y, i) => !this.opts.lines[i]?.passive && y.some((v) => v !== null));
  }

  /** Rebuild with new options (log scale, theme). */
  reconfigure(patch: Partial<ChartOptions>): void {
    this.opts = { ...this.opts, ...patch };
    this.u?.destroy();
    this.u = null;
    this.render();
  }

  /** Lines with data shown in the legend: label and colour in `theme` (for PNG export). */
  legend(theme: Theme = this.opts.theme): { label: string; color: string }[] {
    return this.opts.lines
      .filter((l, i) => !l.noLegend && !l.passive && this.ys[i]?.some((v) => v !== null))
      .map((l) => ({ label: l.label, color: resolve(l.color, theme) }));
  }

  /** The drawn canvas. */
  canvas(): HTMLCanvasElement | null {
    return this.u?.ctx.canvas ?? null;
  }

  /**
   * The chart drawn again off screen in `theme` at `width` CSS pixels (PNG export): the same data, zoom and
   * options, without the legend. The caller takes the canvas; the plot is removed.
   */
  async snapshot(theme: Theme, width: number): Promise<HTMLCanvasElement> {
    const host = document.createElement('div');
    host.style.position = 'fixed';
    host.style.left = '-100000px';
    host.style.top = '0';
    host.style.width = `${width}px`;
    document.body.append(host);
    try {
      const opts = this.options(width, theme);
      opts.legend = { show: false };
      opts.cursor = { show: false };
      opts.hooks = { draw: opts.hooks?.draw ?? [] };
      const u = new uPlot(opts, this.data(width), host);
      const range = this.opts.zoom.range;
      if (range) u.setScale('x', range);
      // uPlot commits its drawing in a microtask.
      await new Promise((r) => setTimeout(r, 0));
      const c = u.ctx.canvas;
      const copy = document.createElement('canvas');
      copy.width = c.width;
      copy.height = c.height;
      copy.getContext('2d')!.drawImage(c, 0, 0);
      u.destroy();
      return copy;
    } finally {
      host.remove();
    }
  }

  /** Request a redraw of the overlay (markers changed). */
  redraw(): void {
    this.u?.redraw(false, false);
  }

  private width(): number {
    return Math.max(200, this.lastWidth || 400);
  }

  /** The decimated data for a plot `w` pixels wide over the current x range. */
  private data(w: number): uPlot.AlignedData {
    const range = this.opts.zoom.range;
    const active = this.ys.filter((_, i) => !this.opts.lines[i]?.passive);
    const idx = decimateIndices(
      this.x,
      active,
      w,
      range ? { from: range.min, to: range.max, keep: this.keep } : { keep: this.keep },
    );
    return [pick(this.x, idx), ...this.ys.map((y) => pick(y, idx))] as uPlot.AlignedData;
  }

  /** Decimate for the current width and x range and hand the result to uPlot (deferred while off screen). */
  render(): void {
    if (!this.visible && this.u) {
      this.dirty = true;
      return;
    }
    this.dirty = false;
    const range = this.opts.zoom.range;
    const w = this.width();
    const data = this.data(w);
    this.updating = true;
    try {
      if (!this.u) {
        this.u = new uPlot(this.options(w, this.opts.theme), data, this.opts.container);
        if (range) this.u.setScale('x', range);
      } else {
        this.u.setData(data, !range);
        if (range) this.u.setScale('x', range);
      }
    } finally {
      this.updating = false;
    }
  }

  private resize(width: number) {
    if (width <= 0 || Math.abs(width - this.lastWidth) < 2) return;
    this.lastWidth = width;
    if (!this.u) return;
    this.updating = true;
    this.u.setSize({ width: this.width(), height: this.opts.height });
    this.updating = false;
    this.render();
  }

  private options(width: number, t: Theme): uPlot.Options {
    const o = this.opts;
    const scales = [...new Set(o.lines.map((l) => l.scale ?? 'y'))];
    const gridStroke = withAlpha(t.grid, 0.5);
    const yValues =
      (scale: string) =>
      (_u: uPlot, splits: number[], _i: number, _space: number, incr: number) => {
        const f = o.yFormat?.[scale];
        if (f) return splits.map((v) => (v === null ? '' : f(v)));
        if (o.percent?.includes(scale)) return percentTickLabels(splits, incr);
        if (scale === 'y' && o.yLog) return logTickLabels(splits);
        return tickLabels(splits, incr);
      };
    const axis = (scale: string, side: 0 | 1): uPlot.Axis => ({
      scale,
      side: side ? 1 : 3,
      stroke: t.muted,
      font: t.font,
      grid: { stroke: gridStroke, width: 1, show: side === 0 },
      ticks: { stroke: gridStroke, width: 1 },
      size: ySize(t.font),
      values: yValues(scale),
      label: o.yTitle?.[scale],
      labelSize: o.yTitle?.[scale] ? 16 : 0,
      labelFont: t.font,
      labelGap: 0,
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
          grid: { stroke: gridStroke, width: 1 },
          ticks: { stroke: gridStroke, width: 1 },
          values: (_u: uPlot, splits: number[], _i: number, _s: number, incr: number) =>
            o.xFormat
              ? splits.map((v) => (v === null ? '' : o.xFormat!(v)))
              : tickLabels(splits, incr),
          size: 26,
          label: o.xTitle,
          labelSize: o.xTitle ? 14 : 0,
          labelFont: t.font,
          labelGap: 0,
        },
        ...scales.map((s, i) => axis(s, i === 0 ? 0 : 1)),
      ],
      series: [
        {
          label: o.xLabel ?? 'x',
          value: (_u: uPlot, v: number | null) =>
            v === null || v === undefined
              ? '–'
              : o.xFormat
                ? o.xFormat(v)
                : Number.isInteger(v)
                  ? thousands(v)
                  : compact(v, 6),
        },
        ...o.lines.map((l): uPlot.Series => {
          const color = resolve(l.color, t);
          return {
            label: subscripted(l.label),
            scale: l.scale ?? 'y',
            stroke: color,
            width: l.width ?? 1.5,
            dash: l.dash,
            spanGaps: true,
            points: { show: l.points ? sparse : false, size: 4, fill: color },
            value: (u: uPlot, v: number | null, _si: number, idx: number | null) =>
              v === null || v === undefined
                ? '–'
                : l.hover && idx !== null && idx !== undefined
                  ? l.hover(u.data, idx)
                  : o.percent?.includes(l.scale ?? 'y')
                    ? `${compact(v * 100, 4)}%`
                    : compact(v, 4),
            class: l.noLegend ? 'no-legend' : undefined,
          };
        }),
      ],
      bands: o.band
        ? [{ series: [o.band.upper + 1, o.band.lower + 1], fill: resolve(o.band.fill, t) }]
        : undefined,
      hooks: {
        setScale: [
          (u: uPlot, key: string) => {
            if (key !== 'x' || this.updating) return;
            const { min, max } = u.scales.x;
            if (min === undefined || max === undefined || min === null || max === null) return;
            const full = this.x.length ? { min: this.x[0], max: this.x[this.x.length - 1] } : null;
            const whole = !full || (min <= full.min && max >= full.max);
            // uPlot also reports the x range it derives from new data (drawn in a microtask, after `updating`
            // is over): only a change of the group's range is a zoom, else every chart of the group would be
            // redrawn on each chart's data.
            const cur = this.opts.zoom.range;
            if (whole ? cur === null : cur !== null && cur.min === min && cur.max === max) return;
            // A user zoom (drag): apply it to the whole group, after uPlot has finished handling the event.
            queueMicrotask(() => this.opts.zoom.set(whole ? null : { min, max }, this));
          },
        ],
        draw: o.overlay ? [(u: uPlot) => o.overlay!(u, t)] : [],
      },
    };
  }

  destroy(): void {
    this.ro.disconnect();
    this.io?.disconnect();
    this.opts.zoom.remove(this);
    this.u?.destroy();
    this.u = null;
  }
}
