/**
 * The monitor's charts as one PNG: every chart that has data, drawn again full width in a neutral light theme
 * (whatever the editor's theme), under its title (subscripts kept: Tr(F<sub>B</sub>) is drawn with a lowered,
 * smaller B) and a legend of its lines.
 */
import { labelRuns } from '../src/shared/ticks';
import type { Chart } from './chart';
import { lightTheme, type Theme } from './theme';

/** Width of every chart in the image, CSS pixels. */
export const PNG_CHART_WIDTH = 1200;

/** A run of title text: plain, subscript, or muted (the HTML title's `<sub>` and `<span class="muted">`). */
export interface TitleRun {
  text: string;
  sub: boolean;
  muted: boolean;
}

/** The runs of a title element's text, in order (other markup is read as plain text). */
export function titleRuns(el: Node, inherited = { sub: false, muted: false }): TitleRun[] {
  const out: TitleRun[] = [];
  for (const n of el.childNodes) {
    if (n.nodeType === Node.TEXT_NODE) {
      if (n.textContent) out.push({ text: n.textContent, ...inherited });
    } else if (n instanceof Element) {
      out.push(
        ...titleRuns(n, {
          sub: inherited.sub || n.tagName === 'SUB',
          muted: inherited.muted || n.classList.contains('muted'),
        }),
      );
    }
  }
  // Collapse whitespace as HTML shows it.
  return out
    .map((r) => ({ ...r, text: r.text.replace(/\s+/g, ' ') }))
    .filter((r, i) => r.text !== ' ' || i > 0);
}

/** Draw title runs at (x, y) (baseline); returns the x after the text. */
function drawRuns(
  ctx: CanvasRenderingContext2D,
  runs: readonly TitleRun[],
  x: number,
  y: number,
  px: number,
  family: string,
  t: Theme,
): number {
  for (const r of runs) {
    const size = r.sub ? px * 0.72 : px;
    ctx.font = `${r.muted ? '' : '600 '}${size}px ${family}`;
    // The subscript of a bold title is bold too; muted runs are plain.
    ctx.fillStyle = r.muted ? t.muted : t.fg;
    ctx.fillText(r.text, x, y + (r.sub ? px * 0.3 : 0));
    x += ctx.measureText(r.text).width;
  }
  return x;
}

export interface PngHeader {
  runId: string;
  state: string | null;
  xAxis: string;
}

/** Render the charts (in `order`) that have data into one PNG data URL. */
export async function renderPng(
  charts: { order: readonly string[]; get(dom: string): Chart | undefined },
  head: PngHeader,
  width = PNG_CHART_WIDTH,
): Promise<string> {
  const t = lightTheme();
  const family = getComputedStyle(document.body).fontFamily || 'sans-serif';
  const items: {
    runs: TitleRun[];
    canvas: HTMLCanvasElement;
    legend: { label: string; color: string }[];
  }[] = [];
  for (const id of charts.order) {
    const c = charts.get(id);
    if (!c || !c.hasData()) continue;
    const h3 = document.getElementById(id)?.querySelector('h3');
    items.push({
      runs: h3 ? titleRuns(h3) : [{ text: id, sub: false, muted: false }],
      canvas: await c.snapshot(t, width),
      legend: c.legend(t),
    });
  }
  if (!items.length) throw new Error('no chart has data yet');
  const dpr = devicePixelRatio || 1;
  const pad = 16 * dpr;
  const titleH = 24 * dpr;
  const W = Math.max(...items.map((i) => i.canvas.width)) + 2 * pad;
  const H = titleH + pad + items.reduce((h, i) => h + titleH + i.canvas.height + pad, 0);
  const out = document.createElement('canvas');
  out.width = W;
  out.height = H;
  const ctx = out.getContext('2d')!;
  ctx.fillStyle = t.bg;
  ctx.fillRect(0, 0, W, H);
  ctx.fillStyle = t.fg;
  ctx.font = `600 ${15 * dpr}px ${family}`;
  ctx.fillText(
    `${head.runId}${head.state ? ` — ${head.state}` : ''} — x: ${head.xAxis}`,
    pad,
    titleH,
  );
  let y = titleH + pad;
  for (const i of items) {
    let lx = drawRuns(ctx, i.runs, pad, y + 15 * dpr, 13 * dpr, family, t) + 24 * dpr;
    ctx.font = `${12 * dpr}px ${family}`;
    for (const l of i.legend) {
      ctx.fillStyle = l.color;
      ctx.fillRect(lx, y + 9 * dpr, 14 * dpr, 3 * dpr);
      const runs = labelRuns(l.label).map((r) => ({ ...r, muted: true }));
      lx = drawRuns(ctx, runs, lx + 18 * dpr, y + 15 * dpr, 12 * dpr, family, t) + 16 * dpr;
    }
    y += titleH;
    ctx.drawImage(i.canvas, pad, y);
    y += i.canvas.height + pad;
  }
  return out.toDataURL('image/png');
}
