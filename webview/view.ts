/**
 * What the monitor and compare views share: element lookup, one redraw per animation frame, the chart box
 * (title, note, plot) and the toolbar controls (x axis, smoothing, log scale).
 */
import { whenElementsDefined } from './vscodeApi';

/** The element with this id. */
export const $ = <T extends HTMLElement = HTMLElement>(id: string): T =>
  document.getElementById(id) as T;

/**
 * `run` at most once per animation frame, however often the returned function is called, and (with `minMs`) not
 * sooner than `minMs` (a number, or read at each call) after its previous run: a call in between is kept for
 * later, never dropped.
 */
export function frameScheduler(run: () => void, minMs: number | (() => number) = 0): () => void {
  let frame = 0;
  let timer: ReturnType<typeof setTimeout> | 0 = 0;
  let last = -Infinity;
  const go = () => {
    frame = requestAnimationFrame(() => {
      frame = 0;
      last = performance.now();
      run();
    });
  };
  return () => {
    if (frame || timer) return;
    const wait = last + (typeof minMs === 'function' ? minMs() : minMs) - performance.now();
    if (wait <= 0) go();
    else
      timer = setTimeout(() => {
        timer = 0;
        go();
      }, wait);
  };
}

/**
 * The chart box with `id` (the page may already have it), else a new one appended to `parent`:
 * `<div class="chart" id><div class="chart-head"><h3>title</h3><span class="chart-note"></span></div><div class="plot"></div></div>`.
 * An HTML title comes from the constant chart table (src/shared/metrics.ts), never from a run.
 */
export function chartBox(
  parent: HTMLElement,
  id: string,
  title: { html: string } | { text: string },
  wide = false,
): { box: HTMLElement; plot: HTMLElement } {
  let box = document.getElementById(id);
  if (!box) {
    box = document.createElement('div');
    box.className = wide ? 'chart wide' : 'chart';
    box.id = id;
    const head = document.createElement('div');
    head.className = 'chart-head';
    const h = document.createElement('h3');
    if ('html' in title) h.innerHTML = title.html;
    else h.textContent = title.text;
    const note = document.createElement('span');
    note.className = 'chart-note';
    head.append(h, note);
    const plot = document.createElement('div');
    plot.className = 'plot';
    box.append(head, plot);
    parent.append(box);
  }
  return { box, plot: box.querySelector('.plot') as HTMLElement };
}

/** A note in a chart's title bar; `empty` greys the chart out (only for a chart with nothing to draw). */
export function chartNote(id: string, text: string, empty = false): void {
  const el = $(id);
  if (!el) return;
  const n = el.querySelector('.chart-note');
  if (n) n.textContent = text;
  el.classList.toggle('empty', empty);
}

/** What the toolbar controls start with, and what a change calls. */
export interface Controls<X extends string> {
  axes: readonly X[];
  /** Its zoom is reset when the x axis changes. */
  zoom: { range: unknown };
  xAxis: X;
  smoothing: number;
  logScale: boolean;
  onXAxis(x: X): void;
  onSmoothing(alpha: number): void;
  onLogScale(on: boolean): void;
}

/** Wire the `x-axis`, `smoothing` and `log-scale` controls once the vscode-elements are defined. */
export function bindControls<X extends string>(
  c: Controls<X>,
  tags: string[] = ['vscode-single-select', 'vscode-checkbox'],
): Promise<void> {
  return whenElementsDefined(tags).then(() => {
    const xSel = $('x-axis') as HTMLElement & { value: string };
    const smSel = $('smoothing') as HTMLElement & { value: string };
    const logBox = $('log-scale') as HTMLElement & { checked: boolean };
    xSel.value = c.xAxis;
    smSel.value = String(c.smoothing);
    logBox.checked = c.logScale;
    xSel.addEventListener('change', () => {
      c.zoom.range = null;
      c.onXAxis(c.axes.includes(xSel.value as X) ? (xSel.value as X) : c.axes[0]);
    });
    smSel.addEventListener('change', () => {
      const v = Number(smSel.value);
      c.onSmoothing(Number.isFinite(v) && v >= 0 && v < 1 ? v : 0);
    });
    logBox.addEventListener('change', () => c.onLogScale(!!logBox.checked));
  });
}
