/**
 * The Fisher-explosion detector: the one definition of the early peak, Tr(F_i) and the explosion, shared by the
 * trainer (the recorder feeds it every live event and writes its `detector` events and the summary), the
 * `fisher-lens detect` command (replays a finished run's events) and the bench. Pure: no I/O, no clock. Every update
 * is O(1); {@link detectOffline} replays a recorded stream and reaches exactly the state of the online detector.
 * The reasoning behind the rule and its constants is in docs/DETECTOR.md.
 *
 * Definitions (measured from the first measurement, step 0: there is no warm-up):
 * - **Level.** The mean of `window` (3) consecutive Tr(F) measurements, with the standard error of that mean from
 *   the measurements' own (`trFStderr`). One single-probe measurement is noisy (5–40 %); three averaged are not
 *   fooled by one outlier, and the mean of real measurements is what the chart's marker shows.
 * - **Early peak.** The highest level of the early phase: from the first measurement up to the first learning-rate
 *   drop (`peakUntilStep`; the whole run without one). Its step is the middle measurement of the window; `from`
 *   and `to` are the first and last. It is the early peak *so far* while the run trains (a `peak` change each time
 *   it rises).
 * - **Tr(F_i).** The level of the latest window at or before the step where the training loss (an EMA over
 *   `lossSpan` updates, as mini-batch losses are noisy) first falls to ε = `lossThreshold`; when no measurement
 *   exists yet, the first one after the crossing.
 * - **Explosion.** The early peak stands at least `riseFactor` (1.3) × above a *base*, and the difference is at
 *   least `z` (3) standard errors of the two combined: 3 rather than 2 because the early peak is the largest of
 *   many levels (a flat curve with 10–20 % noise then shows a false peak in about 1 run in 100, not 1 in 7). The base
 *   is the run's **own Tr(F) at initialisation** (its first measurement): in the paper's regimes a well-tuned
 *   learning rate keeps Tr(F) from ever climbing far above where it started, while η* ÷ 10 lifts it well above. When
 *   a **reference** run is given (the same model and data at the best known learning rate: a pinned baseline, the
 *   sweep's best run, the reproduction's η*) its early peak is a base too; and when the reference itself rises over
 *   its own start (that premise fails: the CIFAR/synthetic regime) it is the only one. A base that is not clearly positive (a dead network: Tr(F) ≈ 0 at the start) decides nothing:
 *   the verdict is then "undecided", never an absurd ratio.
 *
 * Non-finite inputs (a diverged run) are counted and ignored so they cannot poison the averages.
 */
import { eventValue } from './format';
import type { DetectorEvent, RunSummary } from './protocol';

/** A run to compare with: its early peak (as this detector defines it) and who it is. */
export interface DetectorReference {
  /** Early peak of the reference run. */
  peak: number;
  /** Standard error of that peak (0 or null: unknown). */
  stderr?: number | null;
  /** Who the reference is, for messages ("run large-lr-s0 at lr 0.05"). */
  label: string;
  runId?: string;
  lr?: number;
  /**
   * Whether the reference's own early peak stands out above its own Tr(F) at initialisation (the explosion test run on
   * the reference against its start). False: the well-tuned run holds Tr(F) at or below where it started, so a run
   * rising clearly above its own start is exploding too (the own-start test stays valid next to the reference's).
   * True or unknown: the set-up lifts Tr(F) even at the best learning rate, and only the reference decides.
   */
  risesOverStart?: boolean | null;
}

export interface DetectorOptions {
  /** Measurements averaged into one level (≥ 1). */
  window: number;
  /** The early peak must be ≥ riseFactor × the base (> 1). */
  riseFactor: number;
  /** …and exceed it by ≥ z standard errors (0: no significance test). */
  z: number;
  /** Measurements after this step no longer move the early peak (the first LR drop; default: never). */
  peakUntilStep: number;
  /** Training-loss threshold ε for Tr(F_i). */
  lossThreshold: number;
  /** EMA span over loss updates used for the ε crossing; 1 = raw mini-batch loss. */
  lossSpan: number;
  /** The run to compare with; null: the run's own Tr(F) at initialisation. */
  reference: DetectorReference | null;
}

export const DEFAULT_DETECTOR_OPTIONS: Readonly<DetectorOptions> = Object.freeze({
  window: 3,
  riseFactor: 1.3,
  z: 3,
  peakUntilStep: Infinity,
  lossThreshold: 1.0,
  lossSpan: 10,
  reference: null,
});

/**
 * Detector options from a resolved run config: `fisher.lossThreshold`, and with a `step` LR schedule the first
 * milestone as `peakUntilStep` (total steps computed as `totalSteps()` in config.ts does; not imported, to keep this
 * module free of the validator). `fisher.warmupSteps` is no longer read: the early phase counts from step 0.
 */
export function detectorOptionsFromConfig(
  cfg: {
    fisher: { lossThreshold: number };
    schedule?: { steps?: number; epochs?: number; lrSchedule?: string; milestones?: number[] };
    dataset?: { trainSize: number };
    optimizer?: { batchSize: number };
  },
  extra?: Partial<DetectorOptions>,
): DetectorOptions {
  let peakUntilStep = Infinity;
  const sc = cfg.schedule;
  if (sc?.lrSchedule === 'step' && sc.milestones?.length && cfg.dataset && cfg.optimizer) {
    const spe = Math.max(1, Math.floor(cfg.dataset.trainSize / cfg.optimizer.batchSize));
    const total = sc.steps ?? Math.max(1, Math.round((sc.epochs ?? 1) * spe));
    peakUntilStep = Math.round(sc.milestones[0] * total);
  }
  return {
    ...DEFAULT_DETECTOR_OPTIONS,
    lossThreshold: cfg.fisher.lossThreshold,
    peakUntilStep,
    ...stripUndefined(extra ?? {}),
  };
}

/** A level: the mean of consecutive measurements. */
export interface Level {
  /** Step of the middle measurement (the marker's step). */
  step: number;
  /** Mean Tr(F) of the window. */
  value: number;
  /** Standard error of the mean (from the measurements' own; 0 when they carry none). */
  stderr: number;
  /** First and last step of the window. */
  from: number;
  to: number;
}

export interface EarlyPeak extends Level {
  /** Raw Tr(F) measured at `step`. */
  raw: number;
  /** Always true (kept for run folders of older versions, where a peak could be provisional). */
  confirmed: boolean;
}

export interface TrFi {
  /** Step of the (smoothed) loss crossing ≤ ε. */
  step: number;
  /** Level of the window ending at `fisherStep`. */
  value: number;
  /** Step of the latest measurement in that window. */
  fisherStep: number;
}

/** What the early peak was compared with. */
export interface DetectorBase {
  basis: 'reference' | 'initial';
  value: number;
  stderr: number;
  /** 'initial': the step of the first measurement; 'reference': null. */
  step: number | null;
  /** Who: "run X at lr 0.05" or "its Tr(F) at initialisation (step 0)". */
  label: string;
}

export interface Explosion {
  /** Step of the measurement that completed the deciding window. */
  step: number;
  /** Early peak / base at firing. */
  rise: number;
  /** Early peak at firing. */
  value: number;
  peakStep: number;
  base: DetectorBase;
}

/** The detector's answer for the run so far (what `fisher-lens detect` prints). */
export interface DetectorVerdict {
  /** True: exploded; false: not (so far); null: undecidable (no usable base or too few measurements). */
  explosion: boolean | null;
  /** The early peak (so far) / base (null when undecidable); for an explosion larger than at firing. */
  rise: number | null;
  base: DetectorBase | null;
  /** One line: why. */
  reason: string;
}

export interface DetectorState {
  earlyPeak: EarlyPeak | null;
  trFi: TrFi | null;
  explosion: Explosion | null;
  /** First finite measurement (the fallback base). */
  initial: { step: number; value: number; stderr: number } | null;
  /** Largest raw Tr(F) of the whole run. */
  maxRaw: { step: number; value: number } | null;
  /** Level of the latest full window. */
  smoothed: number | null;
  /** Smoothed training loss after the latest loss update. */
  smoothedLoss: number | null;
  /** Tr(F) measurements accepted (finite) and ignored (non-finite). */
  measurements: number;
  ignored: number;
  /** The verdict so far. */
  verdict: DetectorVerdict;
}

/** A change worth an event: the early peak rose, Tr(F_i) was taken, or the explosion fired. */
export interface DetectorChange {
  kind: 'peak' | 'trFi' | 'explosion';
  step: number;
  value: number;
  rise?: number;
  /** 'peak': the window; 'explosion': the peak's step. */
  from?: number;
  to?: number;
  peakStep?: number;
  base?: DetectorBase;
  message: string;
}

/** One input of a recorded stream, for {@link detectOffline}. */
export type DetectorInput =
  { step: number; trF: number; stderr?: number | null } | { step: number; loss: number };

export class ExplosionDetector {
  readonly options: Readonly<DetectorOptions>;
  private readonly lossAlpha: number;
  private readonly win: { step: number; trF: number; se: number }[] = [];
  private lossEma: number | null = null;
  private pendingTrFiStep: number | null = null;
  private readonly s: Omit<DetectorState, 'verdict'> = {
    earlyPeak: null,
    trFi: null,
    explosion: null,
    initial: null,
    maxRaw: null,
    smoothed: null,
    smoothedLoss: null,
    measurements: 0,
    ignored: 0,
  };
  private current: Level | null = null;

  constructor(options: Partial<DetectorOptions> = {}) {
    const o = { ...DEFAULT_DETECTOR_OPTIONS, ...stripUndefined(options) };
    const bad = (name: string, v: unknown, allowed: string) =>
      new RangeError(`detector option ${name}: got ${String(v)}; expected ${allowed}`);
    if (!(Number.isInteger(o.window) && o.window >= 1))
      throw bad('window', o.window, 'an integer ≥ 1');
    if (!(o.riseFactor > 1)) throw bad('riseFactor', o.riseFactor, '> 1');
    if (!(o.z >= 0)) throw bad('z', o.z, '≥ 0');
    if (!(o.lossThreshold > 0)) throw bad('lossThreshold', o.lossThreshold, '> 0');
    if (!(o.lossSpan >= 1)) throw bad('lossSpan', o.lossSpan, '≥ 1');
    if (!(o.peakUntilStep >= 0)) throw bad('peakUntilStep', o.peakUntilStep, '≥ 0');
    if (o.reference !== null && !(Number.isFinite(o.reference.peak) && o.reference.peak >= 0))
      throw bad('reference.peak', o.reference.peak, 'a finite number ≥ 0');
    this.options = Object.freeze({ ...o, reference: o.reference && { ...o.reference } });
    this.lossAlpha = 2 / (o.lossSpan + 1);
  }

  /** A snapshot of the current state (a copy; safe to keep). */
  get state(): DetectorState {
    const s = this.s;
    return {
      ...s,
      earlyPeak: s.earlyPeak && { ...s.earlyPeak },
      trFi: s.trFi && { ...s.trFi },
      explosion: s.explosion && { ...s.explosion, base: { ...s.explosion.base } },
      initial: s.initial && { ...s.initial },
      maxRaw: s.maxRaw && { ...s.maxRaw },
      verdict: this.verdict(),
    };
  }

  /** The base the early peak is compared with, or why there is none. */
  base(): DetectorBase | string {
    const ref = this.options.reference;
    if (ref) {
      if (!(ref.peak > 0)) return `the reference ${ref.label} has no positive early peak`;
      return {
        basis: 'reference',
        value: ref.peak,
        stderr: ref.stderr ?? 0,
        step: null,
        label: `the early peak of ${ref.label}`,
      };
    }
    const i = this.s.initial;
    if (!i) return 'no Tr(F) measured yet';
    const z = Math.max(this.options.z, 1);
    if (!(i.value > 0) || i.value <= z * i.stderr || i.value < 1e-12)
      return `Tr(F) at initialisation (step ${i.step}) is ${eventValue(i.value)}, not clearly above 0: no scale to compare with (a dead network?)`;
    return {
      basis: 'initial',
      value: i.value,
      stderr: i.stderr,
      step: i.step,
      label: `its Tr(F) at initialisation (step ${i.step})`,
    };
  }

  /**
   * Every base the early peak is tested against: the reference's early peak, and the run's own start where that test
   * is valid (no reference, or a reference that does not itself rise over its start: see
   * {@link DetectorReference.risesOverStart}). An explosion against any one of them counts.
   */
  bases(): DetectorBase[] {
    const first = this.base();
    if (typeof first === 'string') return [];
    const ref = this.options.reference;
    if (!ref || ref.risesOverStart !== false) return [first];
    const own = new ExplosionDetector({ ...this.options, reference: null });
    own.s.initial = this.s.initial;
    const b = own.base();
    if (typeof b === 'string') return [first];
    const at = b.label.replace(/\)$/, '');
    return [
      first,
      { ...b, label: `${at}; the reference, ${ref.label}, stays near its own start)` },
    ];
  }

  /** The verdict so far. */
  verdict(): DetectorVerdict {
    const b = this.base();
    const p = this.s.earlyPeak;
    if (typeof b === 'string') return { explosion: null, rise: null, base: null, reason: b };
    if (this.s.explosion && p) {
      // The size of the explosion is the early peak's (final, or so far) against the same base; it fired earlier.
      const e = this.s.explosion;
      const rise = p.value / e.base.value;
      return {
        explosion: true,
        rise,
        base: e.base,
        reason: `${explosionText({ rise, value: p.value, peakStep: p.step, base: e.base })} (fired at step ${e.step})`,
      };
    }
    if (!p)
      return {
        explosion: null,
        rise: null,
        base: b,
        reason: `fewer than ${this.options.window} Tr(F) measurements in the early phase`,
      };
    const rise = p.value / b.value;
    const also = this.bases()
      .slice(1)
      .map((x) => ` and ${(p.value / x.value).toFixed(2)}× ${x.label} ${eventValue(x.value)}`)
      .join('');
    return {
      explosion: false,
      rise,
      base: b,
      reason: `early peak ${eventValue(p.value)} is ${rise.toFixed(2)}× ${b.label} ${eventValue(b.value)}${also} (explosion: ≥ ${this.options.riseFactor}× and ≥ ${this.options.z} standard errors above${also ? ' either' : ''})`,
    };
  }

  /** Feed one Tr(F) measurement (with its standard error when known); returns the changes it caused. */
  addFisher(step: number, trF: number, stderr?: number | null): DetectorChange[] {
    if (!Number.isFinite(trF) || !Number.isFinite(step)) {
      this.s.ignored++;
      return [];
    }
    const s = this.s;
    const o = this.options;
    const out: DetectorChange[] = [];
    const se = typeof stderr === 'number' && Number.isFinite(stderr) && stderr > 0 ? stderr : 0;
    s.measurements++;
    if (!s.maxRaw || trF > s.maxRaw.value) s.maxRaw = { step, value: trF };
    if (!s.initial) s.initial = { step, value: trF, stderr: se };
    this.win.push({ step, trF, se });
    if (this.win.length > o.window) this.win.shift();

    if (this.win.length === o.window) {
      const n = o.window;
      const mid = this.win[Math.floor((n - 1) / 2)];
      const value = this.win.reduce((a, x) => a + x.trF, 0) / n;
      const lvlSe = Math.sqrt(this.win.reduce((a, x) => a + x.se * x.se, 0)) / n;
      this.current = { step: mid.step, value, stderr: lvlSe, from: this.win[0].step, to: step };
      s.smoothed = value;
      const peak = s.earlyPeak;
      if (mid.step <= o.peakUntilStep && (!peak || value > peak.value)) {
        s.earlyPeak = { ...this.current, raw: mid.trF, confirmed: true };
        out.push({
          kind: 'peak',
          step: mid.step,
          value,
          from: this.current.from,
          to: step,
          message: `Early Tr(F) peak so far ${eventValue(value)} at step ${mid.step} (mean of the ${n} measurements at steps ${this.current.from}–${step})`,
        });
        const fired = this.testExplosion(step);
        if (fired) out.push(fired);
      }
    }
    if (this.pendingTrFiStep !== null) {
      s.trFi = { step: this.pendingTrFiStep, value: this.trailingLevel(), fisherStep: step };
      this.pendingTrFiStep = null;
      out.push(this.trFiChange());
    }
    return out;
  }

  /** Feed one training loss; returns the changes it caused (at most the Tr(F_i) reading). */
  addLoss(step: number, loss: number): DetectorChange[] {
    if (!Number.isFinite(loss) || !Number.isFinite(step)) return [];
    const s = this.s;
    this.lossEma =
      this.lossEma === null ? loss : this.lossEma + this.lossAlpha * (loss - this.lossEma);
    s.smoothedLoss = this.lossEma;
    if (s.trFi || this.pendingTrFiStep !== null || this.lossEma > this.options.lossThreshold)
      return [];
    if (this.win.length === 0) {
      this.pendingTrFiStep = step; // no measurement yet: take the next one
      return [];
    }
    s.trFi = { step, value: this.trailingLevel(), fisherStep: this.win[this.win.length - 1].step };
    return [this.trFiChange()];
  }

  /** Feed one input of a recorded stream. */
  add(input: DetectorInput): DetectorChange[] {
    return 'trF' in input
      ? this.addFisher(input.step, input.trF, input.stderr)
      : this.addLoss(input.step, input.loss);
  }

  /** Mean of the measurements in the window so far (fewer than `window` early in a run). */
  private trailingLevel(): number {
    return this.win.reduce((a, x) => a + x.trF, 0) / this.win.length;
  }

  private testExplosion(step: number): DetectorChange | null {
    const s = this.s;
    const p = s.earlyPeak;
    if (s.explosion || !p) return null;
    const o = this.options;
    const b = this.bases().find((x) => {
      const se = Math.sqrt(p.stderr ** 2 + x.stderr ** 2);
      return p.value >= o.riseFactor * x.value && p.value - x.value >= o.z * se;
    });
    if (!b) return null;
    const e: Explosion = {
      step,
      rise: p.value / b.value,
      value: p.value,
      peakStep: p.step,
      base: b,
    };
    s.explosion = e;
    return {
      kind: 'explosion',
      step,
      value: p.value,
      rise: e.rise,
      peakStep: p.step,
      from: p.from,
      to: p.to,
      base: b,
      message: `Fisher explosion: ${explosionText(e)}`,
    };
  }

  private trFiChange(): DetectorChange {
    const t = this.s.trFi!;
    return {
      kind: 'trFi',
      step: t.step,
      value: t.value,
      message: `Training loss reached ε = ${this.options.lossThreshold} at step ${t.step}: Tr(F_i) = ${eventValue(t.value)} (mean of the measurements up to step ${t.fisherStep})`,
    };
  }
}

/** "early peak 118 at step 80 is 1.42× its Tr(F) at initialisation (step 0) 83.0". */
export function explosionText(e: Pick<Explosion, 'rise' | 'value' | 'peakStep' | 'base'>): string {
  return `early peak ${eventValue(e.value)} at step ${e.peakStep} is ${e.rise.toFixed(2)}× ${e.base.label} ${eventValue(e.base.value)}`;
}

/** Summary fields that come from the detector's state: the one early peak, Tr(F_i) and verdict of the run. */
export function detectorSummary(
  s: DetectorState,
): Pick<
  RunSummary,
  | 'peakTrF'
  | 'peakTrFRaw'
  | 'peakStep'
  | 'peakConfirmed'
  | 'maxTrF'
  | 'maxTrFStep'
  | 'trFi'
  | 'trFiStep'
  | 'explosion'
  | 'explosionStep'
  | 'explosionRise'
  | 'explosionBasis'
  | 'explosionBase'
  | 'explosionReason'
> {
  const v = s.verdict;
  return {
    peakTrF: s.earlyPeak?.value ?? null,
    peakTrFRaw: s.earlyPeak?.raw ?? null,
    peakStep: s.earlyPeak?.step ?? null,
    peakConfirmed: s.earlyPeak !== null,
    maxTrF: s.maxRaw?.value ?? null,
    maxTrFStep: s.maxRaw?.step ?? null,
    trFi: s.trFi?.value ?? null,
    trFiStep: s.trFi?.step ?? null,
    explosion: v.explosion,
    explosionStep: s.explosion?.step ?? null,
    explosionRise: v.rise,
    explosionBasis: v.base?.basis ?? null,
    explosionBase: v.base?.value ?? null,
    explosionReason: v.reason,
  };
}

/** A detector change as a `detector` event of `events.jsonl`. */
export function toDetectorEvent(change: DetectorChange, t: number = Date.now()): DetectorEvent {
  const e: DetectorEvent = {
    type: 'detector',
    t,
    step: change.step,
    kind: change.kind,
    value: change.value,
    message: change.message,
  };
  if (change.rise !== undefined) e.rise = change.rise;
  if (change.from !== undefined) e.from = change.from;
  if (change.to !== undefined) e.to = change.to;
  if (change.peakStep !== undefined) e.peakStep = change.peakStep;
  if (change.base) {
    e.basis = change.base.basis;
    e.base = change.base.value;
    e.baseLabel = change.base.label;
  }
  return e;
}

/**
 * Replay a recorded stream. Either the inputs in the order they happened (identical to feeding them to
 * {@link ExplosionDetector} one by one), or separate series merged by step with a measurement before a
 * loss of the same step (the order the online detector must be fed to agree).
 */
export function detectOffline(
  series:
    | readonly DetectorInput[]
    | {
        fisher: readonly { step: number; trF: number; stderr?: number | null }[];
        loss: readonly { step: number; loss: number }[];
      },
  options: Partial<DetectorOptions> = {},
): { state: DetectorState; changes: DetectorChange[] } {
  const det = new ExplosionDetector(options);
  const changes: DetectorChange[] = [];
  const stream = Array.isArray(series)
    ? (series as readonly DetectorInput[])
    : mergeSeries(
        series as {
          fisher: { step: number; trF: number; stderr?: number | null }[];
          loss: { step: number; loss: number }[];
        },
      );
  for (const x of stream) changes.push(...det.add(x));
  return { state: det.state, changes };
}

/** Merge separate Tr(F) and loss series by step; at equal steps the measurement comes first. Stable. */
export function mergeSeries(s: {
  fisher: readonly { step: number; trF: number; stderr?: number | null }[];
  loss: readonly { step: number; loss: number }[];
}): DetectorInput[] {
  const f = [...s.fisher].map((x, i) => ({
    x: { step: x.step, trF: x.trF, stderr: x.stderr ?? null } as DetectorInput,
    k: 0,
    i,
  }));
  const l = [...s.loss].map((x, i) => ({
    x: { step: x.step, loss: x.loss } as DetectorInput,
    k: 1,
    i,
  }));
  return [...f, ...l].sort((a, b) => a.x.step - b.x.step || a.k - b.k || a.i - b.i).map((e) => e.x);
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
