/**
 * The online Fisher-explosion detector, shared by the trainer (which writes `detector` events and the
 * summary) and the editor (which marks the peak and raises the notification). Pure: no I/O, no clock.
 *
 * Input: a stream of Tr(F) measurements `(step, trF)` and training losses `(step, loss)`, in the order they
 * happened. Every update is O(1). {@link detectOffline} replays a recorded stream and gives exactly the
 * state the online detector reaches on the same stream.
 *
 * What it computes (the paper's early-phase quantities, made robust to a noisy single-probe Tr(F)):
 * - **Smoothing.** An exponential moving average over *measurements*, α = 2 / (span + 1). Default span 8:
 *   a lag of ~3.5 measurements (35 steps at the default `fisher.every` of 10) and 2.1× less noise than a
 *   single-probe Tr(F); a synthetic sweep at 10–20 % measurement noise needed that much to keep flat curves
 *   from showing confirmed peaks. It restarts at the first measurement at or after `warmupSteps`, so a
 *   transient spike in the first few dozen steps (common even for a good learning rate) leaves no residue
 *   in the post-warm-up curve. An EMA rather than a running median: O(1) with no window buffer, no
 *   plateaus that make the peak step ambiguous, and single-probe noise is roughly Gaussian, so the
 *   median's robustness buys little.
 * - **Early peak.** The maximum of the smoothed curve after warm-up (up to `peakUntilStep`, e.g. the first
 *   learning-rate milestone, so a late rise after a decay does not move the *early* peak). It is
 *   *provisional* until the smoothed curve has fallen below it by `peakDrop` (default 20 %) **and** it
 *   stands `peakMinRise` (default 50 %) above the lowest smoothed value before it; both margins grow to
 *   `noiseSigmas` (default 4) standard deviations of the difference of two smoothed values when the
 *   measurements are noisier (noise estimated online from successive differences). This keeps noise from
 *   confirming a "peak" on a flat curve (at 15 % measurement noise a 20 % fall from the running maximum is
 *   common; at 20 % about one flat run in ten still shows one) and leaves a curve that merely decays from
 *   its first post-warm-up value without a confirmed peak. A later, higher maximum replaces a confirmed
 *   peak and is provisional until confirmed in turn (another `peak` change): `earlyPeak` is always the
 *   maximum. `maxRaw` tracks the largest raw value of the whole run, warm-up included.
 * - **Settling.** The first `ceil(span / 2)` post-warm-up measurements only seed the average (the first one
 *   enters unsmoothed); minimum, peak and explosion start after them.
 * - **Explosion.** Fired once, when the smoothed Tr(F) reaches `riseFactor` (default 3) × its post-warm-up
 *   minimum so far. In the paper a small learning rate climbs 5× or more (SimpleCNN/CIFAR-10: ~10 → 50–60)
 *   while a good one stays within ~1.5× of its early level; 3 sits between with margin for noise.
 * - **Tr(F_i).** The smoothed Tr(F) when the training loss first crosses ≤ `lossThreshold` (ε). Mini-batch
 *   losses are noisy, so the crossing is taken on an EMA of the loss updates (span `lossSpan`, default 10;
 *   1 = raw). The value is the smoothed Tr(F) of the latest measurement at or before the crossing (during
 *   warm-up: the warm-up EMA); when no measurement exists yet, the first one after the crossing.
 *
 * Non-finite inputs (a diverged run) are counted and ignored so they cannot poison the averages.
 */
import { eventValue } from './format';
import type { DetectorEvent } from './protocol';

export interface DetectorOptions {
  /** Measurements before this step are ignored by peak and explosion detection. */
  warmupSteps: number;
  /** EMA span over Tr(F) measurements (α = 2/(span+1)); 1 disables smoothing. */
  span: number;
  /** Fire when smoothed Tr(F) ≥ riseFactor × its post-warm-up minimum (> 1). */
  riseFactor: number;
  /** Confirm the early peak once the smoothed curve is ≤ (1 − peakDrop) × peak (0 < peakDrop < 1). */
  peakDrop: number;
  /** A confirmed peak must be ≥ (1 + peakMinRise) × the lowest smoothed value before it. */
  peakMinRise: number;
  /** Peak margins are at least this many standard deviations of the difference of two smoothed values. */
  noiseSigmas: number;
  /** Measurements after this step no longer move the early peak (default: never stop). */
  peakUntilStep: number;
  /** Training-loss threshold ε for Tr(F_i). */
  lossThreshold: number;
  /** EMA span over loss updates used for the ε crossing; 1 = raw mini-batch loss. */
  lossSpan: number;
}

export const DEFAULT_DETECTOR_OPTIONS: Readonly<DetectorOptions> = Object.freeze({
  warmupSteps: 20,
  span: 8,
  riseFactor: 3,
  peakDrop: 0.2,
  peakMinRise: 0.5,
  noiseSigmas: 4,
  peakUntilStep: Infinity,
  lossThreshold: 1.0,
  lossSpan: 10,
});

/**
 * Detector options from a resolved run config: `fisher.warmupSteps`, `fisher.lossThreshold`, and with a
 * `step` LR schedule the first milestone as `peakUntilStep` (total steps computed as `totalSteps()` in
 * config.ts does; not imported, to keep this module free of the validator).
 */
export function detectorOptionsFromConfig(
  cfg: {
    fisher: { warmupSteps: number; lossThreshold: number };
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
    warmupSteps: cfg.fisher.warmupSteps,
    lossThreshold: cfg.fisher.lossThreshold,
    peakUntilStep,
    ...extra,
  };
}

export interface EarlyPeak {
  step: number;
  /** Smoothed Tr(F) at the peak. */
  value: number;
  /** Raw Tr(F) measured at the peak step. */
  raw: number;
  /** False while the smoothed curve has not yet fallen far enough below it. */
  confirmed: boolean;
}

export interface TrFi {
  /** Step of the (smoothed) loss crossing ≤ ε. */
  step: number;
  /** Smoothed Tr(F) at that time. */
  value: number;
  /** Step of the measurement the value comes from. */
  fisherStep: number;
}

export interface Explosion {
  step: number;
  /** Smoothed Tr(F) / its post-warm-up minimum at firing. */
  rise: number;
  /** Smoothed Tr(F) at firing. */
  value: number;
}

export interface DetectorState {
  earlyPeak: EarlyPeak | null;
  trFi: TrFi | null;
  explosion: Explosion | null;
  /** Largest raw Tr(F) of the whole run (warm-up included). */
  maxRaw: { step: number; value: number } | null;
  /** Smoothed Tr(F) after the latest measurement (warm-up EMA during warm-up). */
  smoothed: number | null;
  /** Post-warm-up minimum of the smoothed curve. */
  minSmoothed: { step: number; value: number } | null;
  /** Estimated relative standard deviation of one raw measurement (null until two post-warm-up ones). */
  noise: number | null;
  /** Smoothed training loss after the latest loss update. */
  smoothedLoss: number | null;
  /** Tr(F) measurements accepted (finite) and ignored (non-finite). */
  measurements: number;
  ignored: number;
}

/** A change worth an event: the early peak was confirmed, Tr(F_i) was taken, or the explosion fired. */
export interface DetectorChange {
  kind: 'peak' | 'trFi' | 'explosion';
  step: number;
  value: number;
  rise?: number;
  message: string;
}

/** One input of a recorded stream, for {@link detectOffline}. */
export type DetectorInput = { step: number; trF: number } | { step: number; loss: number };

/** EMA weight of the noise estimate (span 20 measurements). */
const NOISE_ALPHA = 2 / 21;

export class ExplosionDetector {
  readonly options: Readonly<DetectorOptions>;
  private readonly alpha: number;
  private readonly lossAlpha: number;
  private ema: number | null = null;
  private inWarmup = true;
  private postCount = 0;
  private settleCount: number;
  private prevRaw: number | null = null;
  private noiseVar: number | null = null;
  private minBeforePeak = Infinity;
  private lossEma: number | null = null;
  private lastFisherStep: number | null = null;
  private pendingTrFiStep: number | null = null;
  private readonly s: DetectorState = {
    earlyPeak: null,
    trFi: null,
    explosion: null,
    maxRaw: null,
    smoothed: null,
    minSmoothed: null,
    noise: null,
    smoothedLoss: null,
    measurements: 0,
    ignored: 0,
  };

  constructor(options: Partial<DetectorOptions> = {}) {
    const o = { ...DEFAULT_DETECTOR_OPTIONS, ...stripUndefined(options) };
    const bad = (name: string, v: number, allowed: string) =>
      new RangeError(`detector option ${name}: got ${v}; expected ${allowed}`);
    if (!(o.warmupSteps >= 0)) throw bad('warmupSteps', o.warmupSteps, '≥ 0');
    if (!(o.span >= 1)) throw bad('span', o.span, '≥ 1');
    if (!(o.riseFactor > 1)) throw bad('riseFactor', o.riseFactor, '> 1');
    if (!(o.peakDrop > 0 && o.peakDrop < 1)) throw bad('peakDrop', o.peakDrop, 'in (0, 1)');
    if (!(o.peakMinRise >= 0)) throw bad('peakMinRise', o.peakMinRise, '≥ 0');
    if (!(o.lossThreshold > 0)) throw bad('lossThreshold', o.lossThreshold, '> 0');
    if (!(o.lossSpan >= 1)) throw bad('lossSpan', o.lossSpan, '≥ 1');
    if (!(o.noiseSigmas >= 0)) throw bad('noiseSigmas', o.noiseSigmas, '≥ 0');
    if (!(o.peakUntilStep >= 0)) throw bad('peakUntilStep', o.peakUntilStep, '≥ 0');
    this.options = Object.freeze(o);
    this.alpha = 2 / (o.span + 1);
    this.lossAlpha = 2 / (o.lossSpan + 1);
    this.settleCount = Math.ceil(o.span / 2);
  }

  /** A snapshot of the current state (a copy; safe to keep). */
  get state(): DetectorState {
    const s = this.s;
    return {
      ...s,
      earlyPeak: s.earlyPeak && { ...s.earlyPeak },
      trFi: s.trFi && { ...s.trFi },
      explosion: s.explosion && { ...s.explosion },
      maxRaw: s.maxRaw && { ...s.maxRaw },
      minSmoothed: s.minSmoothed && { ...s.minSmoothed },
    };
  }

  /** Feed one Tr(F) measurement; returns the changes it caused (usually none). */
  addFisher(step: number, trF: number): DetectorChange[] {
    if (!Number.isFinite(trF) || !Number.isFinite(step)) {
      this.s.ignored++;
      return [];
    }
    const s = this.s;
    const o = this.options;
    const out: DetectorChange[] = [];
    s.measurements++;
    if (!s.maxRaw || trF > s.maxRaw.value) s.maxRaw = { step, value: trF };
    const postWarmup = step >= o.warmupSteps;
    if (postWarmup && this.inWarmup) {
      this.inWarmup = false;
      this.ema = null; // restart: no warm-up residue
    }
    if (postWarmup && this.prevRaw !== null && this.ema !== null && this.ema > 0) {
      // Successive differences: Var((x_t − x_{t−1}) / level) ≈ 2σ², nearly free of the trend.
      const r2 = ((trF - this.prevRaw) / this.ema) ** 2 / 2;
      this.noiseVar =
        this.noiseVar === null ? r2 : this.noiseVar + NOISE_ALPHA * (r2 - this.noiseVar);
      s.noise = Math.sqrt(this.noiseVar);
    }
    if (postWarmup) this.prevRaw = trF;
    this.ema = this.ema === null ? trF : this.ema + this.alpha * (trF - this.ema);
    const sm = this.ema;
    s.smoothed = sm;
    this.lastFisherStep = step;

    if (this.pendingTrFiStep !== null) {
      s.trFi = { step: this.pendingTrFiStep, value: sm, fisherStep: step };
      this.pendingTrFiStep = null;
      out.push(this.trFiChange());
    }
    if (!postWarmup || ++this.postCount < this.settleCount) return out;

    if (!s.minSmoothed || sm < s.minSmoothed.value) s.minSmoothed = { step, value: sm };
    const min = s.minSmoothed.value;
    // Relative standard deviation of the difference of two smoothed values (stationary EMA of white noise:
    // Var = σ²·α/(2−α) each): the peak test compares two points of the smoothed curve.
    const margin =
      o.noiseSigmas * Math.sqrt(2 * (this.noiseVar ?? 0) * (this.alpha / (2 - this.alpha)));

    const peak = s.earlyPeak;
    if (step <= o.peakUntilStep && (!peak || sm > peak.value)) {
      // New running maximum: it exceeds every earlier value, so the running minimum is the lowest value
      // before it (or itself, for the first point).
      this.minBeforePeak = min;
      s.earlyPeak = { step, value: sm, raw: trF, confirmed: false };
    } else if (peak && !peak.confirmed) {
      const fell = sm <= (1 - Math.max(o.peakDrop, margin)) * peak.value;
      const rose = peak.value >= (1 + Math.max(o.peakMinRise, margin)) * this.minBeforePeak;
      if (fell && rose) {
        peak.confirmed = true;
        out.push({
          kind: 'peak',
          step: peak.step,
          value: peak.value,
          message: `Early Tr(F) peak ${eventValue(peak.value)} at step ${peak.step} (smoothed; raw ${eventValue(peak.raw)}), confirmed at step ${step}`,
        });
      }
    }

    if (!s.explosion && min > 0 && sm >= o.riseFactor * min) {
      const rise = sm / min;
      s.explosion = { step, rise, value: sm };
      out.push({
        kind: 'explosion',
        step,
        value: sm,
        rise,
        message: `Fisher explosion: smoothed Tr(F) ${eventValue(sm)} at step ${step} is ${rise.toFixed(1)}× its post-warm-up minimum ${eventValue(min)} (step ${s.minSmoothed.step})`,
      });
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
    if (s.smoothed === null || this.lastFisherStep === null) {
      this.pendingTrFiStep = step; // no measurement yet: take the next one
      return [];
    }
    s.trFi = { step, value: s.smoothed, fisherStep: this.lastFisherStep };
    return [this.trFiChange()];
  }

  /** Feed one input of a recorded stream. */
  add(input: DetectorInput): DetectorChange[] {
    return 'trF' in input
      ? this.addFisher(input.step, input.trF)
      : this.addLoss(input.step, input.loss);
  }

  private trFiChange(): DetectorChange {
    const t = this.s.trFi!;
    return {
      kind: 'trFi',
      step: t.step,
      value: t.value,
      message: `Training loss reached ε = ${this.options.lossThreshold} at step ${t.step}: Tr(F_i) = ${eventValue(t.value)} (smoothed, measured at step ${t.fisherStep})`,
    };
  }
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
        fisher: readonly { step: number; trF: number }[];
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
          fisher: { step: number; trF: number }[];
          loss: { step: number; loss: number }[];
        },
      );
  for (const x of stream) changes.push(...det.add(x));
  return { state: det.state, changes };
}

/** Merge separate Tr(F) and loss series by step; at equal steps the measurement comes first. Stable. */
export function mergeSeries(s: {
  fisher: readonly { step: number; trF: number }[];
  loss: readonly { step: number; loss: number }[];
}): DetectorInput[] {
  const f = [...s.fisher].map((x, i) => ({
    x: { step: x.step, trF: x.trF } as DetectorInput,
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
