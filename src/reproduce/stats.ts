/**
 * Small statistics for the reproduction report: summaries over seeds, Spearman's rank correlation with ties,
 * a seeded permutation test, and curve helpers (smoothing for the charts, mean curve over seeds; the early peak is the detector's). Pure functions.
 */
import { Rng } from '../shared/rng';

/** Mean of the finite values, or null when there are none. */
export function mean(xs: readonly (number | null)[]): number | null {
  const v = finite(xs);
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
}

/** Sample standard deviation (n − 1) of the finite values; null for fewer than two. */
export function sd(xs: readonly (number | null)[]): number | null {
  const v = finite(xs);
  if (v.length < 2) return null;
  const m = v.reduce((a, b) => a + b, 0) / v.length;
  return Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1));
}

/** Standard error of the mean; null for fewer than two values. */
export function se(xs: readonly (number | null)[]): number | null {
  const s = sd(xs);
  return s === null ? null : s / Math.sqrt(finite(xs).length);
}

/** Geometric mean of the positive finite values, or null. */
export function geomean(xs: readonly (number | null)[]): number | null {
  const v = finite(xs).filter((x) => x > 0);
  return v.length ? Math.exp(v.reduce((a, b) => a + Math.log(b), 0) / v.length) : null;
}

export function finite(xs: readonly (number | null | undefined)[]): number[] {
  return xs.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
}

/** Mean, sample sd and count of a sample; what the report prints as "mean ± sd (n)". */
export interface Summary {
  mean: number | null;
  sd: number | null;
  n: number;
}

export function summarize(xs: readonly (number | null)[]): Summary {
  return { mean: mean(xs), sd: sd(xs), n: finite(xs).length };
}

/** Ranks 1..n with ties given their average rank ("fractional ranking"). */
export function ranks(xs: readonly number[]): number[] {
  const idx = xs.map((_, i) => i).sort((a, b) => xs[a] - xs[b]);
  const r = new Array<number>(xs.length);
  for (let i = 0; i < idx.length;) {
    let j = i;
    while (j + 1 < idx.length && xs[idx[j + 1]] === xs[idx[i]]) j++;
    const avg = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) r[idx[k]] = avg;
    i = j + 1;
  }
  return r;
}

/** Pearson's correlation; null when either side is constant or there are fewer than two pairs. */
export function pearson(x: readonly number[], y: readonly number[]): number | null {
  const n = x.length;
  if (n < 2 || y.length !== n) return null;
  const mx = x.reduce((a, b) => a + b, 0) / n;
  const my = y.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
    syy += (y[i] - my) ** 2;
  }
  if (sxx === 0 || syy === 0) return null;
  return sxy / Math.sqrt(sxx * syy);
}

/** Spearman's ρ: Pearson's correlation of the (tie-averaged) ranks. */
export function spearman(x: readonly number[], y: readonly number[]): number | null {
  if (x.length !== y.length)
    throw new Error(`spearman: ${x.length} x values but ${y.length} y values`);
  return pearson(ranks(x), ranks(y));
}

/**
 * One-sided permutation p-value of Spearman's ρ ≤ observed (a negative association): the fraction of
 * pairings of x with a permutation of y whose ρ is at most the observed one. Exact (all n! permutations) for
 * n ≤ 8, otherwise `samples` seeded random permutations (with the +1 correction). Null when ρ is undefined.
 */
export function spearmanPermutationP(
  x: readonly number[],
  y: readonly number[],
  opts: { samples?: number; seed?: number } = {},
): number | null {
  const rho = spearman(x, y);
  if (rho === null) return null;
  const rx = ranks(x);
  const ry = ranks(y);
  const eps = 1e-12;
  const n = x.length;
  if (n <= 8) {
    let hits = 0;
    let total = 0;
    const perm = ry.slice();
    const visit = (k: number) => {
      if (k === n) {
        total++;
        const r = pearson(rx, perm);
        if (r !== null && r <= rho + eps) hits++;
        return;
      }
      for (let i = k; i < n; i++) {
        [perm[k], perm[i]] = [perm[i], perm[k]];
        visit(k + 1);
        [perm[k], perm[i]] = [perm[i], perm[k]];
      }
    };
    visit(0);
    return hits / total;
  }
  const samples = opts.samples ?? 20000;
  const gen = new Rng(opts.seed ?? 12345, 'permutation-test');
  const rand = () => gen.next();
  const perm = ry.slice();
  let hits = 0;
  for (let s = 0; s < samples; s++) {
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [perm[i], perm[j]] = [perm[j], perm[i]];
    }
    const r = pearson(rx, perm);
    if (r !== null && r <= rho + eps) hits++;
  }
  return (hits + 1) / (samples + 1);
}

/** A measured curve: x (step) and y values, same length. */
export interface Curve {
  step: number[];
  y: (number | null)[];
}

/** Centred moving average over `width` points (odd; shrinks at the ends); nulls are skipped. */
export function movingAverage(ys: readonly (number | null)[], width: number): (number | null)[] {
  const h = Math.max(0, Math.floor(width / 2));
  return ys.map((_, i) => {
    let s = 0;
    let n = 0;
    for (let j = Math.max(0, i - h); j <= Math.min(ys.length - 1, i + h); j++) {
      const v = ys[j];
      if (v !== null && Number.isFinite(v)) {
        s += v;
        n++;
      }
    }
    return ys[i] === null || n === 0 ? null : s / n;
  });
}

/** Mean and sd across several curves at each step of the union of their steps (missing points skipped). */
export function meanCurve(curves: readonly Curve[]): {
  step: number[];
  mean: (number | null)[];
  sd: (number | null)[];
} {
  const steps = [...new Set(curves.flatMap((c) => c.step))].sort((a, b) => a - b);
  const maps = curves.map((c) => new Map(c.step.map((s, i) => [s, c.y[i]] as const)));
  const m: (number | null)[] = [];
  const d: (number | null)[] = [];
  for (const s of steps) {
    const vals = maps.map((mp) => mp.get(s) ?? null);
    m.push(mean(vals));
    d.push(sd(vals));
  }
  return { step: steps, mean: m, sd: d };
}

/** Log-spaced values from a to b inclusive (a, b > 0), rounded to 3 significant digits. */
export function logspace(a: number, b: number, k: number): number[] {
  if (k === 1) return [a];
  return Array.from({ length: k }, (_, i) =>
    round3(Math.exp(Math.log(a) + ((Math.log(b) - Math.log(a)) * i) / (k - 1))),
  );
}

/** Round to 3 significant digits (learning rates in run ids and tables). */
export const round3 = (v: number): number => Number(v.toPrecision(3));
