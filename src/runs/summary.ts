/**
 * The one summary builder: a {@link RunSummary} from the events of a run, with the run's one explosion detector.
 * The recorder (`./recorder`) feeds it every event of a live run (before the writer's throttling, so the detector
 * sees every step's loss); the reader rebuilds a summary for a run that died without writing one (from the
 * throttled file: the Tr(F_i) crossing may then be a little later).
 */
import type { RunEvent, RunState, RunSummary } from '../shared/protocol';
import {
  ExplosionDetector,
  detectorSummary,
  type DetectorChange,
  type DetectorOptions,
} from '../shared/detector';

export { detectorSummary } from '../shared/detector';

export class SummaryAccumulator {
  readonly detector: ExplosionDetector;
  private runId = '';
  private backend = '';
  private firstT: number | null = null;
  private lastT: number | null = null;
  private steps = 0;
  private epochs = 0;
  private finalTrF: number | null = null;
  private finalTrainLoss: number | null = null;
  private finalTestLoss: number | null = null;
  private finalTestAcc: number | null = null;
  private bestTestAcc: number | null = null;
  private finalTrainAcc: number | null = null;
  private finalCleanAcc: number | null = null;
  private finalNoisyAcc: number | null = null;

  constructor(detectorOptions: Partial<DetectorOptions>) {
    this.detector = new ExplosionDetector(detectorOptions);
  }

  /** Take one event: its fields, then the detector (from `step` and `fisher` events); returns what the detector reported. */
  add(e: RunEvent): DetectorChange[] {
    this.note(e);
    return this.detect(e);
  }

  /** The event's fields for the summary (final values, steps), without the detector. */
  note(e: RunEvent): void {
    if (this.firstT === null) this.firstT = e.t;
    this.lastT = e.t;
    switch (e.type) {
      case 'header':
        this.runId = e.runId;
        this.backend = e.backend;
        break;
      case 'step':
        this.advance(e.step, e.epoch);
        this.finalTrainLoss = e.loss;
        break;
      case 'fisher':
        this.advance(e.step, e.epoch);
        this.finalTrF = e.trF;
        break;
      case 'eval':
        this.advance(e.step, e.epoch);
        this.finalTestLoss = e.testLoss;
        this.finalTestAcc = e.testAcc;
        if (
          Number.isFinite(e.testAcc) &&
          (this.bestTestAcc === null || e.testAcc > this.bestTestAcc)
        )
          this.bestTestAcc = e.testAcc;
        this.finalTrainAcc = e.trainAcc;
        this.finalCleanAcc = e.cleanAcc;
        this.finalNoisyAcc = e.noisyAcc;
        break;
      case 'status':
        this.advance(e.step, null);
        break;
      default:
        break;
    }
  }

  /** The detector's view of the event (training loss of a `step`, Tr(F) of a `fisher`); what it reported. */
  detect(e: RunEvent): DetectorChange[] {
    if (e.type === 'step') return this.detector.addLoss(e.step, e.loss ?? NaN);
    if (e.type === 'fisher') return this.detector.addFisher(e.step, e.trF, e.trFStderr);
    return [];
  }

  private advance(step: number, epoch: number | null): void {
    if (step >= this.steps) {
      this.steps = step;
      if (epoch !== null) this.epochs = epoch;
    }
  }

  /** The summary so far, for a run ending in `state`. */
  result(
    state: RunState,
    opts: {
      lossThreshold: number;
      wallSeconds?: number;
      error?: string | null;
      runId?: string;
      backend?: string;
    },
  ): RunSummary {
    const s: RunSummary = {
      runId: opts.runId ?? this.runId,
      state,
      steps: this.steps,
      epochs: this.epochs,
      wallSeconds:
        opts.wallSeconds ??
        (this.firstT !== null && this.lastT !== null ? (this.lastT - this.firstT) / 1000 : 0),
      backend: opts.backend ?? this.backend,
      ...detectorSummary(this.detector.state),
      lossThreshold: opts.lossThreshold,
      finalTrF: this.finalTrF,
      finalTrainLoss: this.finalTrainLoss,
      finalTestLoss: this.finalTestLoss,
      finalTestAcc: this.finalTestAcc,
      bestTestAcc: this.bestTestAcc,
      finalTrainAcc: this.finalTrainAcc,
      finalCleanAcc: this.finalCleanAcc,
      finalNoisyAcc: this.finalNoisyAcc,
    };
    if (opts.error !== undefined) s.error = opts.error;
    return s;
  }
}
