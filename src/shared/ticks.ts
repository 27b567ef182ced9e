/**
 * Tick labels of the charts' axes: every label shows its value, with as many decimals as the step between
 * ticks needs (an LR axis reads 0.0020, 0.0025, 0.0030, never 0.002, 0.003, 0.003), SI prefixes for large
 * magnitudes (200k, 1.25M: short enough not to be clipped) and exponents for tiny ones (5e-4, never 0). Pure:
 * no DOM, shared by the monitor and compare views and their tests.
 */
import { DASH, isFiniteNumber } from './format';

const SI: readonly [number, string][] = [
  [1e12, 'T'],
  [1e9, 'G'],
  [1e6, 'M'],
  [1e3, 'k'],
];
/** Magnitudes from which ticks use SI prefixes. */
export const SI_FROM = 1e4;
/** Most decimals a fixed-point tick gets; a finer step switches to exponents. */
export const MAX_DECIMALS = 5;

/** Fewest decimals (≤ `max`) that write `v` exactly (to 1e-9 relative), or `max + 1` when more are needed. */
export function decimalsOf(v: number, max = 12): number {
  const a = Math.abs(v);
  if (a === 0) return 0;
  for (let d = 0; d <= max; d++) {
    const s = a * 10 ** d;
    if (Math.abs(s - Math.round(s)) <= 1e-9 * s) return d;
  }
  return max + 1;
}

/** `v` with exactly `d` decimals, without a minus sign on zero. */
const fixedNoNegZero = (v: number, d: number): string => {
  const s = v.toFixed(d);
  return /^-0(\.0*)?$/.test(s) ? s.slice(1) : s;
};

/** An exponent label with the mantissa's trailing zeros dropped (`5e-4`, `2.5e-4`, `1.25e+7`). */
function expLabel(v: number, decimals: number): string {
  const [m, e] = v.toExponential(Math.min(20, Math.max(0, decimals))).split('e');
  const mant = m.includes('.') ? m.replace(/\.?0+$/, '') : m;
  return `${mant}e${e}`;
}

/**
 * Labels of linear-axis ticks at `splits`, `incr` apart: one notation for the whole axis, decimals from the
 * step (and the ticks themselves) so neighbouring labels always differ and no non-zero tick reads 0.
 */
export function tickLabels(splits: readonly (number | null)[], incr: number): string[] {
  const vals = splits.filter(isFiniteNumber);
  const maxAbs = vals.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const step = isFiniteNumber(incr) && incr > 0 ? incr : fallbackStep(vals);
  const out = (f: (v: number) => string) =>
    splits.map((v) => (isFiniteNumber(v) ? (v === 0 ? '0' : f(v)) : ''));
  if (maxAbs === 0) return out(() => '0');
  if (maxAbs >= 1e15 || (step > 0 && step < 1e-3 * maxAbs && maxAbs >= SI_FROM)) {
    // Huge, or a step too fine for a prefix to show: exponents with the digits the step needs.
    return out((v) => expLabel(v, digitsFor(v, step)));
  }
  if (maxAbs >= SI_FROM) {
    const [k, p] = SI.find(([k]) => maxAbs >= k) ?? SI[SI.length - 1];
    const d = Math.max(decimalsOf(step / k, 6), ...vals.map((v) => decimalsOf(v / k, 6)));
    return out((v) => `${fixedNoNegZero(v / k, Math.min(d, 3))}${p}`);
  }
  const d = Math.max(decimalsOf(step, 12), ...vals.map((v) => decimalsOf(v, 12)));
  if (d <= MAX_DECIMALS && (maxAbs >= 1e-3 || d <= 4)) return out((v) => fixedNoNegZero(v, d));
  return out((v) => expLabel(v, digitsFor(v, step)));
}

/** Mantissa decimals of `v` so that a change of `step` shows. */
function digitsFor(v: number, step: number): number {
  if (!(step > 0)) return 3;
  const ev = Math.floor(Math.log10(Math.abs(v)));
  const es = Math.floor(Math.log10(step) + 1e-9);
  const base = Math.max(0, ev - es);
  // A step such as 2.5 × 10^k needs one more digit than 10^k.
  return Math.min(15, base + (decimalsOf(step / 10 ** es, 3) > 0 ? 1 : 0));
}

function fallbackStep(vals: readonly number[]): number {
  let m = Infinity;
  for (let i = 1; i < vals.length; i++) {
    const d = Math.abs(vals[i] - vals[i - 1]);
    if (d > 0) m = Math.min(m, d);
  }
  return Number.isFinite(m) ? m : 0;
}

/**
 * Labels of log-axis ticks (decades and their multiples): each value on its own with 3 significant digits,
 * SI prefixes from {@link SI_FROM}, exponents below 1e-3.
 */
export function logTickLabels(splits: readonly (number | null)[]): string[] {
  return splits.map((v) => (isFiniteNumber(v) ? compact(v) : ''));
}

/** One value, compactly: `0.0025`, `41.2`, `200k`, `1.25M`, `5e-4` (for legends and log ticks). */
export function compact(v: number | null | undefined, digits = 3): string {
  if (!isFiniteNumber(v)) return DASH;
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 1e15 || a < 1e-3) return expLabel(v, digits - 1);
  if (a >= SI_FROM) {
    const [k, p] = SI.find(([k]) => a >= k) ?? SI[SI.length - 1];
    return `${Number((v / k).toPrecision(digits))}${p}`;
  }
  return String(Number(v.toPrecision(digits)));
}

/** Percent ticks of fractions (`0.5 → 50%`), decimals from the step like {@link tickLabels}. */
export function percentTickLabels(splits: readonly (number | null)[], incr: number): string[] {
  const labels = tickLabels(
    splits.map((v) => (isFiniteNumber(v) ? Math.round(v * 100 * 1e9) / 1e9 : v)),
    incr * 100,
  );
  return labels.map((l) => (l ? `${l}%` : l));
}

/** Label runs: `Tr(F_B)` is `Tr(F`, subscript `B`, `)` (the catalogue writes subscripts with `_`). */
export function labelRuns(label: string): { text: string; sub: boolean }[] {
  const out: { text: string; sub: boolean }[] = [];
  let last = 0;
  for (const m of label.matchAll(/_([A-Za-z0-9]+)/g)) {
    if (m.index > last) out.push({ text: label.slice(last, m.index), sub: false });
    out.push({ text: m[1], sub: true });
    last = m.index + m[0].length;
  }
  if (last < label.length) out.push({ text: label.slice(last), sub: false });
  return out;
}
