/**
 * The one number formatter: every label, table cell, terminal line and report in Fisher Lens formats its numbers
 * here (significant digits, fixed decimals, percentages, thousands separators, SI prefixes, durations and ETAs),
 * and decides here which Tr(F) a run is known by ("peak, else max"). Pure: no `vscode`, no Node, no DOM, so the
 * host, the webviews, the trainer and the reproduction report all share it. A missing or non-finite number is
 * shown as {@link DASH} everywhere.
 */

/** What every formatter shows for null, undefined, NaN or ±Infinity. */
export const DASH = '–';

/** A number that may be missing. */
export type MaybeNumber = number | null | undefined;

/** Whether `v` is a finite number (the formatters show {@link DASH} otherwise). */
export const isFiniteNumber = (v: unknown): v is number =>
  typeof v === 'number' && Number.isFinite(v);

/** Options of {@link fmt}: when to switch to an exponent, and with how many digits after its point. */
export interface FmtOptions {
  /** Magnitudes at or above this use an exponent (default 1e6). */
  expAbove?: number;
  /** Non-zero magnitudes below this use an exponent (default 1e-3). */
  expBelow?: number;
  /** Digits after the point of the mantissa (default `digits - 1`). */
  expDigits?: number;
}

/**
 * Short number for labels: `digits` significant digits without trailing zeros (`0.0123`, `41.2`, `1230`), an
 * exponent only for very large or small magnitudes (`1.23e+6`, `4.56e-4`).
 */
export function fmt(v: MaybeNumber, digits = 3, o: FmtOptions = {}): string {
  if (!isFiniteNumber(v)) return DASH;
  const a = Math.abs(v);
  if (a !== 0 && (a >= (o.expAbove ?? 1e6) || a < (o.expBelow ?? 1e-3)))
    return v.toExponential(o.expDigits ?? digits - 1);
  return String(Number(v.toPrecision(digits)));
}

/** Compact value for chart axes and legends: 4 significant digits, an exponent from 1e5 and below 1e-3. */
export const fmtAxis = (v: MaybeNumber): string => fmt(v, 4, { expAbove: 1e5, expDigits: 2 });

/** `digits` significant digits, never an exponent for ordinary magnitudes, trailing zeros dropped (`sig(0.5) = '0.5'`). */
export const sig = (v: MaybeNumber, digits = 3): string =>
  isFiniteNumber(v) ? String(Number(v.toPrecision(digits))) : DASH;

/** `digits` significant digits kept as written by `toPrecision` (`prec(0.5, 4) = '0.5000'`), for aligned terminal columns. */
export const prec = (v: MaybeNumber, digits = 4): string =>
  isFiniteNumber(v) ? v.toPrecision(digits) : DASH;

/** Exactly `digits` decimals (`fixed(2, 1) = '2.0'`). */
export const fixed = (v: MaybeNumber, digits = 2): string =>
  isFiniteNumber(v) ? v.toFixed(digits) : DASH;

/** A fraction in [0, 1] as a bare percentage number with `digits` decimals, no sign (`percentNumber(0.1234) = '12.34'`). */
export const percentNumber = (v: MaybeNumber, digits = 2): string =>
  isFiniteNumber(v) ? (100 * v).toFixed(digits) : DASH;

/** A fraction in [0, 1] as a percentage with `digits` decimals (`percent(0.1234) = '12.34%'`). */
export const percent = (v: MaybeNumber, digits = 2): string =>
  isFiniteNumber(v) ? `${(100 * v).toFixed(digits)}%` : DASH;

/**
 * Accuracy label with one decimal (`pct(0.912) = '91.2%'`). Values above 1 are taken as percentages already
 * (`pct(91.2) = '91.2%'`), so a run that logs either scale reads the same.
 */
export const pct = (v: MaybeNumber, digits = 1): string =>
  isFiniteNumber(v) ? `${(v > 1 ? v : v * 100).toFixed(digits)}%` : DASH;

/** A fraction as a percentage tick label with at most one decimal (`percentAxis(0.5) = '50%'`, `0.123 → '12.3%'`). */
export const percentAxis = (v: MaybeNumber): string =>
  isFiniteNumber(v) ? `${Number((v * 100).toFixed(1))}%` : DASH;

/** A difference of two fractions in signed percentage points (`pp(0.0123) = '+1.23 pp'`). */
export const pp = (v: MaybeNumber, digits = 2): string =>
  isFiniteNumber(v) ? `${v >= 0 ? '+' : ''}${(100 * v).toFixed(digits)} pp` : DASH;

/** A factor (`times(2.345) = '2.35×'`). */
export const times = (v: MaybeNumber, digits = 3): string =>
  isFiniteNumber(v) ? `${fmt(v, digits)}×` : DASH;

/** Thousands separators, English style (`thousands(1234567) = '1,234,567'`; fractions keep at most 3 decimals). */
export function thousands(v: MaybeNumber): string {
  if (!isFiniteNumber(v)) return DASH;
  if (Number.isInteger(v) && Math.abs(v) < 2 ** 53)
    return String(v).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return v.toLocaleString('en');
}

const SI = [
  [1e12, 'T'],
  [1e9, 'G'],
  [1e6, 'M'],
  [1e3, 'k'],
] as const;

/** SI prefix for large counts with `digits` significant digits (`si(1234567) = '1.23M'`, `si(950) = '950'`). */
export function si(v: MaybeNumber, digits = 3): string {
  if (!isFiniteNumber(v)) return DASH;
  for (const [k, p] of SI) if (Math.abs(v) >= k) return `${sig(v / k, digits)}${p}`;
  return sig(v, digits);
}

/** A byte count in binary units (`bytes(1536) = '1.5 KiB'`, `bytes(3 * 2 ** 20) = '3 MiB'`). */
export function bytes(v: MaybeNumber, digits = 3): string {
  if (!isFiniteNumber(v)) return DASH;
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let x = v;
  let i = 0;
  while (Math.abs(x) >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  return `${sig(x, digits)} ${units[i]}`;
}

/**
 * Elapsed seconds for a time axis: `42.5s` below two minutes, else whole minutes and seconds (`125 → '2m5s'`).
 */
export function duration(seconds: MaybeNumber): string {
  if (!isFiniteNumber(seconds)) return DASH;
  return seconds >= 120
    ? `${Math.floor(seconds / 60)}m${Math.round(seconds % 60)}s`
    : `${fmt(seconds)}s`;
}

/** Remaining or elapsed time with hours, for progress lines: `42s`, `3m05s`, `1h02m`. */
export function eta(seconds: MaybeNumber): string {
  if (!isFiniteNumber(seconds) || seconds < 0) return DASH;
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const two = (n: number) => String(n).padStart(2, '0');
  if (s < 3600) return `${Math.floor(s / 60)}m${two(s % 60)}s`;
  return `${Math.floor(s / 3600)}h${two(Math.floor((s % 3600) / 60))}m`;
}

/**
 * A value inside a detector event's message (written into events.jsonl, so its form is part of the run format):
 * one decimal from 100 up, else 3 significant digits as `toPrecision` writes them.
 */
export const eventValue = (x: number): string =>
  Math.abs(x) >= 100 ? x.toFixed(1) : x.toPrecision(3);

/** A loss in a divergence message: 3 significant digits, an exponent from 1e4 and below 1e-3. */
export const lossValue = (v: number): string =>
  Number.isFinite(v)
    ? Math.abs(v) >= 1e4 || Math.abs(v) < 1e-3
      ? v.toExponential(2)
      : v.toPrecision(3)
    : String(v);

/** Seconds as minutes with one decimal (`minutes(90) = '1.5 min'`). */
export const minutes = (seconds: MaybeNumber): string =>
  isFiniteNumber(seconds) ? `${(seconds / 60).toFixed(1)} min` : DASH;

// ------------------------------------------------------------------------------- "peak, else max"

/** Which Tr(F) a run is known by: the detector's confirmed early peak, else the largest raw value. */
export type PeakKind = 'peak' | 'max';

/** The headline Tr(F) of a run, with the step it was reached at and whether it is a confirmed peak. */
export interface HeadlineTrF {
  value: number;
  step: number | null;
  kind: PeakKind;
}

/** The summary fields the "peak, else max" rule reads (a {@link import('./protocol').RunSummary} has them). */
export interface PeakFields {
  peakTrF: number | null;
  peakStep: number | null;
  /** Absent in run folders written before the field existed: a peak there counts as confirmed. */
  peakConfirmed?: boolean;
  maxTrF?: number | null;
  maxTrFStep?: number | null;
}

/**
 * The "peak, else max" rule, decided here only: a confirmed early peak is shown as 'peak'; without one the largest
 * raw Tr(F) is shown as 'max' (`fallback` is that maximum when the caller knows it from the series); null when
 * neither is known.
 */
export function headlineTrF(
  s: PeakFields | null | undefined,
  fallback?: HeadlineTrF | null,
): HeadlineTrF | null {
  if (s && isFiniteNumber(s.peakTrF) && s.peakConfirmed !== false)
    return { value: s.peakTrF, step: s.peakStep, kind: 'peak' };
  if (fallback?.kind === 'peak') return fallback;
  if (s && isFiniteNumber(s.maxTrF))
    return { value: s.maxTrF, step: s.maxTrFStep ?? fallback?.step ?? null, kind: 'max' };
  return fallback ?? null;
}

/** Label of a headline Tr(F): 'Early peak Tr(F)' or 'Max Tr(F)'. */
export const peakLabel = (kind: PeakKind): string =>
  kind === 'peak' ? 'Early peak Tr(F)' : 'Max Tr(F)';

/** `value` and, when known, ` at step N` (`atStep(1.5, 40) = '1.5 at step 40'`). */
export const atStep = (value: string, step: number | null | undefined): string =>
  step === null || step === undefined ? value : `${value} at step ${step}`;

// ------------------------------------------------------------------------------- engine, device and versions

/** The run header's `engine` field (src/shared/protocol.ts `HeaderEvent.engine`): untrusted text from a run folder. */
export interface EngineFields {
  name: string;
  device: string;
  deviceName?: string;
  versions?: Record<string, string>;
}

/** What a run says about where it computed: its header's `engine`, else only the backend it used. */
export interface EngineSource {
  engine?: EngineFields | null;
  backend?: string | null;
}

// C0/C1 controls (tab and line breaks become spaces), zero-width and bidi controls, BOM: never part of a label
// (the text comes from a run folder). The same set as src/host/sanitize.ts.
const INVISIBLE =
  // eslint-disable-next-line no-control-regex
  /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/g;

/** One plain line of at most `max` characters (controls and bidi overrides removed, whitespace collapsed). */
function oneLine(v: unknown, max: number): string {
  let s = (typeof v === 'string' ? v : '').replace(INVISIBLE, '').replace(/\s+/g, ' ').trim();
  if (s.length > max) s = `${s.slice(0, Math.max(0, max - 1))}…`;
  return s;
}

/** The tfjs backends (runs written before the header named its engine were all tfjs). */
const TFJS_BACKENDS = ['tensorflow-gpu', 'tensorflow', 'webgpu', 'wasm', 'cpu'];

/**
 * Engine and device of a run, for labels: `torch 2.5.1 · cuda:0 (NVIDIA H200)`, `tfjs 4.22.0 · wasm`. A run whose
 * header has no `engine` (written before it was recorded) is named from its backend: `tfjs · wasm`, `torch · cpu`
 * (`torch-cpu`), the backend itself otherwise. Null when neither is known. Every part is made one plain, capped
 * line here (run folders are untrusted); the host still escapes the result for the place it is shown.
 */
export function engineLabel(src: EngineSource | null | undefined): string | null {
  const e = src?.engine;
  const name = oneLine(e?.name, 40);
  if (e && name) {
    const version = oneLine(e.versions?.[e.name], 40);
    const device = oneLine(e.device, 40);
    const deviceName = oneLine(e.deviceName, 80);
    const where = [device, deviceName && (device ? `(${deviceName})` : deviceName)]
      .filter(Boolean)
      .join(' ');
    return [version ? `${name} ${version}` : name, where].filter(Boolean).join(' · ');
  }
  const backend = oneLine(src?.backend, 60);
  if (!backend) return null;
  const torch = /^torch(?:-(.+))?$/.exec(backend);
  if (torch) return torch[1] ? `torch · ${torch[1]}` : 'torch';
  return TFJS_BACKENDS.includes(backend) ? `tfjs · ${backend}` : backend;
}

/** Every version the header records, the engine's first: `torch 2.5.1, cuda 12.4, python 3.11.9` ('' when none). */
export function engineVersions(engine: EngineFields | null | undefined): string {
  const v = engine?.versions;
  if (!v || typeof v !== 'object') return '';
  const keys = Object.keys(v).sort((a, b) =>
    a === engine.name ? -1 : b === engine.name ? 1 : a < b ? -1 : a > b ? 1 : 0,
  );
  return keys
    .slice(0, 20)
    .map((k) => [oneLine(k, 40), oneLine(v[k], 40)].filter(Boolean).join(' '))
    .filter(Boolean)
    .join(', ');
}

/**
 * The line of a process's stderr that says what went wrong: the last one that is not a stack frame (`at …`), a
 * Node warning hint or blank — `Error: ENOSPC …`, not `at async _se (…/cli.js:8637:839)`. '' when there is none.
 */
export function errorLineOf(stderr: string, max = 500): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(
      (l) =>
        l &&
        !/^at\s/.test(l) &&
        !/^\(Use `node --trace-/.test(l) &&
        !/^\^+$/.test(l) &&
        !/^Node\.js v\d/.test(l),
    );
  const last = lines.at(-1) ?? '';
  return last.length > max ? `${last.slice(0, max - 1)}…` : last;
}
