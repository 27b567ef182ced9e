/**
 * Decimation for drawing long series without losing what matters: M4 (first, last, min and max of every
 * x bucket, one bucket per pixel column) so every spike survives and the drawn line is pixel-identical to the
 * full one, plus forced indices (e.g. the Tr(F) peak) that are kept whatever happens. No DOM.
 */
import type { Val } from './series';

export interface DecimateOptions {
  /** Visible x range (defaults to the data's range). Points just outside it are kept for line continuity. */
  from?: number;
  to?: number;
  /** Indices always kept (when inside the range or adjacent to it). */
  keep?: readonly number[];
}

/**
 * Indices (ascending) of the points to draw for `ys` columns over sorted `xs` with at most about
 * `4 · buckets` points per column. Every column's min and max of every bucket are kept, and the first null
 * of a bucket so gaps stay visible. With fewer points than that, all points in range are returned.
 */
export function decimateIndices(
  xs: readonly number[],
  columns: readonly (readonly Val[])[],
  buckets: number,
  opts: DecimateOptions = {},
): number[] {
  const n = xs.length;
  if (n === 0) return [];
  const from = opts.from ?? xs[0];
  const to = opts.to ?? xs[n - 1];
  // First and last index inside [from, to], widened by one on each side.
  let lo = lowerBound(xs, from);
  let hi = upperBound(xs, to) - 1;
  if (lo > 0) lo--;
  if (hi < n - 1) hi++;
  if (hi < lo) return [];
  const B = Math.max(1, Math.floor(buckets));
  if (hi - lo + 1 <= 4 * B) return range(lo, hi);

  const keep = new Uint8Array(hi - lo + 1);
  keep[0] = 1;
  keep[hi - lo] = 1;
  for (const k of opts.keep ?? []) if (k >= lo && k <= hi) keep[k - lo] = 1;

  const span = to - from;
  const bucketOf = (x: number) =>
    span > 0 ? Math.min(B - 1, Math.max(0, Math.floor(((x - from) / span) * B))) : 0;
  // Runs of consecutive indices in the same bucket (xs is sorted, so a bucket is one run).
  const runs: [number, number][] = [];
  for (let i = lo, cur = -1; i <= hi; i++) {
    const b = bucketOf(xs[i]);
    if (b !== cur || !runs.length) runs.push([i, i]);
    else runs[runs.length - 1][1] = i;
    cur = b;
  }
  for (const [first, last] of runs) {
    keep[first - lo] = 1;
    keep[last - lo] = 1;
    for (const ys of columns)
      for (const i of extremes(ys, first, last)) if (i >= 0) keep[i - lo] = 1;
  }
  const out: number[] = [];
  for (let j = 0; j < keep.length; j++) if (keep[j]) out.push(lo + j);
  return out;
}

/** Indices of the minimum, the maximum and the first null (non-finite) value of `ys[lo..hi]`; -1 where none. */
export function extremes(
  ys: readonly Val[],
  lo: number,
  hi: number,
): [iMin: number, iMax: number, iNull: number] {
  let iMin = -1;
  let iMax = -1;
  let iNull = -1;
  for (let i = lo; i <= hi; i++) {
    const y = ys[i];
    if (y === null || y === undefined || !Number.isFinite(y)) {
      if (iNull < 0) iNull = i;
    } else {
      if (iMin < 0 || y < (ys[iMin] as number)) iMin = i;
      if (iMax < 0 || y > (ys[iMax] as number)) iMax = i;
    }
  }
  return [iMin, iMax, iNull];
}

/** `arr` at `idx`. */
export function pick<T>(arr: readonly T[], idx: readonly number[]): T[] {
  const out: T[] = new Array(idx.length);
  for (let j = 0; j < idx.length; j++) out[j] = arr[idx[j]];
  return out;
}

/** First index with xs[i] >= x. */
export const lowerBound = (xs: readonly number[], x: number): number => partition(xs, (v) => v < x);

/** First index with xs[i] > x. */
export const upperBound = (xs: readonly number[], x: number): number =>
  partition(xs, (v) => v <= x);

/** First index of sorted `xs` where `before` stops holding (binary search). */
function partition(xs: readonly number[], before: (v: number) => boolean): number {
  let a = 0;
  let b = xs.length;
  while (a < b) {
    const m = (a + b) >>> 1;
    if (before(xs[m])) a = m + 1;
    else b = m;
  }
  return a;
}

function range(a: number, b: number): number[] {
  const out: number[] = [];
  for (let i = a; i <= b; i++) out.push(i);
  return out;
}
