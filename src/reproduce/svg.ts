/**
 * A small SVG chart writer for the reproduction report: line charts (with an optional ±sd band) and scatter
 * plots, nice-number axes, an optional log y axis and a legend. Pure: options in, SVG text out; no DOM, no fonts
 * beyond the generic family, so the files render the same in VS Code's Markdown preview, GitHub and browsers.
 */

export interface LineSeries {
  label: string;
  x: number[];
  y: (number | null)[];
  /** Half-width of a shaded band around y (e.g. the sd over seeds). */
  band?: (number | null)[];
  dashed?: boolean;
}

export interface ScatterSeries {
  label: string;
  points: { x: number; y: number }[];
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  width?: number;
  height?: number;
  logY?: boolean;
  logX?: boolean;
}

/** Colour-blind-friendly palette (Okabe–Ito). */
export const PALETTE = [
  '#0072B2',
  '#D55E00',
  '#009E73',
  '#CC79A7',
  '#E69F00',
  '#56B4E9',
  '#000000',
  '#F0E442',
];

const esc = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const num = (v: number) => (Math.abs(v) < 1e-9 ? '0' : Number(v.toFixed(2)).toString());

/** "Nice" tick values covering [lo, hi] (about `count` of them). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo) || !Number.isFinite(hi - lo)) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9 && out.length < 50; v += step)
    out.push(Number(v.toPrecision(12)));
  return out;
}

function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  if (!(lo > 0) || !Number.isFinite(hi)) return [lo, hi];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * Math.pow(10, e);
      if (v >= lo * 0.999 && v <= hi * 1.001) out.push(Number(v.toPrecision(12)));
    }
  }
  return out.length >= 2 ? out : [lo, hi];
}

const tickLabel = (v: number) => {
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(0);
  return String(Number(v.toPrecision(4)));
};

interface Frame {
  x: (v: number) => number;
  y: (v: number) => number;
  parts: string[];
  w: number;
  h: number;
}

function frame(o: ChartOptions, xs: number[], ys: number[], legend: string[], padX = false): Frame {
  const w = o.width ?? 640;
  const h = o.height ?? 360;
  const m = { l: 64, r: 16, t: 36, b: 48 + 18 * Math.ceil(legend.length / 3) };
  const fx = xs.filter((v) => Number.isFinite(v) && (!o.logX || v > 0));
  const fy = ys.filter((v) => Number.isFinite(v) && (!o.logY || v > 0));
  let [x0, x1] = fx.length ? [Math.min(...fx), Math.max(...fx)] : o.logX ? [1, 10] : [0, 1];
  let [y0, y1] = fy.length ? [Math.min(...fy), Math.max(...fy)] : o.logY ? [1, 10] : [0, 1];
  if (x1 === x0) [x0, x1] = o.logX ? [x0 / 2, x1 * 2] : [x0 - 1, x1 + 1];
  if (y1 === y0) [y0, y1] = o.logY ? [y0 / 2, y1 * 2] : [y0 - 1, y1 + 1];
  // 5% padding (in log space on a log axis) so points and lines never sit on the frame.
  const padded = (a: number, b: number, log: boolean): [number, number] => {
    if (!log) return [a - (b - a) * 0.05, b + (b - a) * 0.05];
    const k = Math.pow(b / a, 0.05);
    return [a / k, b * k];
  };
  [y0, y1] = padded(y0, y1, !!o.logY);
  if (padX) [x0, x1] = padded(x0, x1, !!o.logX);
  const tx = (v: number) => (o.logX ? Math.log10(v) : v);
  const ty = (v: number) => (o.logY ? Math.log10(v) : v);
  const pw = w - m.l - m.r;
  const ph = h - m.t - m.b;
  const X = (v: number) => m.l + ((tx(v) - tx(x0)) / (tx(x1) - tx(x0))) * pw;
  const Y = (v: number) => m.t + ph - ((ty(v) - ty(y0)) / (ty(y1) - ty(y0))) * ph;
  const parts: string[] = [];
  parts.push(`<rect x="0" y="0" width="${w}" height="${h}" fill="#ffffff"/>`);
  parts.push(
    `<text x="${w / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${esc(o.title)}</text>`,
  );
  const xt = o.logX ? logTicks(x0, x1) : niceTicks(x0, x1, 6);
  const yt = o.logY ? logTicks(y0, y1) : niceTicks(y0, y1, 5);
  for (const v of yt) {
    const yy = num(Y(v));
    parts.push(`<line x1="${m.l}" y1="${yy}" x2="${w - m.r}" y2="${yy}" stroke="#e5e5e5"/>`);
    parts.push(
      `<text x="${m.l - 6}" y="${yy}" text-anchor="end" dominant-baseline="middle" font-size="11">${esc(tickLabel(v))}</text>`,
    );
  }
  for (const v of xt) {
    const xx = num(X(v));
    parts.push(`<line x1="${xx}" y1="${m.t}" x2="${xx}" y2="${m.t + ph}" stroke="#f0f0f0"/>`);
    parts.push(
      `<text x="${xx}" y="${m.t + ph + 16}" text-anchor="middle" font-size="11">${esc(tickLabel(v))}</text>`,
    );
  }
  parts.push(
    `<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`,
  );
  parts.push(
    `<text x="${m.l + pw / 2}" y="${m.t + ph + 34}" text-anchor="middle" font-size="12">${esc(o.xLabel)}</text>`,
  );
  parts.push(
    `<text transform="translate(16 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle" font-size="12">${esc(o.yLabel)}${o.logY ? ' (log scale)' : ''}</text>`,
  );
  legend.forEach((label, i) => {
    const lx = m.l + (i % 3) * (pw / 3);
    const ly = m.t + ph + 52 + 18 * Math.floor(i / 3);
    parts.push(
      `<rect x="${num(lx)}" y="${ly - 8}" width="14" height="8" fill="${PALETTE[i % PALETTE.length]}"/>`,
    );
    parts.push(`<text x="${num(lx + 20)}" y="${ly}" font-size="11">${esc(label)}</text>`);
  });
  return { x: X, y: Y, parts, w, h };
}

const wrap = (f: Frame) =>
  `<svg xmlns="http://www.w3.org/2000/svg" width="${f.w}" height="${f.h}" viewBox="0 0 ${f.w} ${f.h}" font-family="sans-serif">\n${f.parts.join('\n')}\n</svg>\n`;

/** A line chart; null y values break the line. */
export function lineChart(o: ChartOptions, series: LineSeries[]): string {
  const ok = (v: number | null): v is number =>
    v !== null && Number.isFinite(v) && (!o.logY || v > 0);
  const ys: number[] = [];
  for (const s of series) {
    s.y.forEach((v, i) => {
      if (!ok(v)) return;
      const b = s.band?.[i] ?? 0;
      ys.push(v + b);
      ys.push(o.logY ? (v - b > 0 ? v - b : v) : v - b);
    });
  }
  const f = frame(
    o,
    series.flatMap((s) => s.x),
    ys,
    series.map((s) => s.label),
  );
  series.forEach((s, k) => {
    const color = PALETTE[k % PALETTE.length];
    if (s.band) {
      const up: string[] = [];
      const down: string[] = [];
      s.y.forEach((v, i) => {
        const b = s.band?.[i];
        if (!ok(v) || b === null || b === undefined) return;
        const lo = o.logY && v - b <= 0 ? v : v - b;
        up.push(`${num(f.x(s.x[i]))},${num(f.y(v + b))}`);
        down.push(`${num(f.x(s.x[i]))},${num(f.y(lo))}`);
      });
      if (up.length > 1)
        f.parts.push(
          `<polygon points="${[...up, ...down.reverse()].join(' ')}" fill="${color}" fill-opacity="0.15" stroke="none"/>`,
        );
    }
    let d = '';
    let pen = false;
    s.y.forEach((v, i) => {
      if (!ok(v)) {
        pen = false;
        return;
      }
      d += `${pen ? 'L' : 'M'}${num(f.x(s.x[i]))},${num(f.y(v))}`;
      pen = true;
    });
    if (d)
      f.parts.push(
        `<path d="${d}" fill="none" stroke="${color}" stroke-width="1.6"${s.dashed ? ' stroke-dasharray="5 3"' : ''}/>`,
      );
  });
  return wrap(f);
}

/** A scatter plot, one colour per series. */
export function scatterChart(o: ChartOptions, series: ScatterSeries[]): string {
  const pts = series.flatMap((s) => s.points);
  const f = frame(
    o,
    pts.map((p) => p.x),
    pts.map((p) => p.y),
    series.map((s) => s.label),
    true,
  );
  series.forEach((s, k) => {
    for (const p of s.points) {
      if (!Number.isFinite(p.x) || !Number.isFinite(p.y)) continue;
      f.parts.push(
        `<circle cx="${num(f.x(p.x))}" cy="${num(f.y(p.y))}" r="4" fill="${PALETTE[k % PALETTE.length]}" fill-opacity="0.85" stroke="#222" stroke-width="0.5"/>`,
      );
    }
  });
  return wrap(f);
}
