/**
 * The trainer → run directory → editor protocol: the files of a run directory and the typed events of
 * `events.jsonl`. No `vscode`, no tfjs, no DOM: shared by the trainer, the CLI, the host and the webview.
 *
 * Run directory `<runsRoot>/<runId>/`:
 * - `config.json`  resolved run config (immutable once written)
 * - `events.jsonl` append-only, one JSON object per line; the first line is a {@link HeaderEvent}
 * - `status.json`  {@link RunStatus}, replaced atomically (write + rename)
 * - `summary.json` {@link RunSummary}, written when the run ends
 * - `checkpoint/`  optional: `params.json` + `params.bin` (see README "Checkpoint format")
 * - `STOP`         created by anyone who wants the run to stop after its current step
 */

/** Version of the events format; readers reject a header with a newer major version. */
export const EVENTS_SCHEMA_VERSION = 1;

export const RUN_FILES = {
  config: 'config.json',
  events: 'events.jsonl',
  status: 'status.json',
  summary: 'summary.json',
  checkpoint: 'checkpoint',
  stop: 'STOP',
} as const;

export type RunState = 'queued' | 'running' | 'completed' | 'stopped' | 'failed' | 'diverged';
export const TERMINAL_STATES: readonly RunState[] = ['completed', 'stopped', 'failed', 'diverged'];
export const isTerminal = (s: RunState): boolean => TERMINAL_STATES.includes(s);

/** A backend the trainer considered and did not take, with the reason. */
export interface BackendRejection {
  backend: string;
  reason: string;
}

interface EventBase {
  /** Wall-clock time of the event, ms since the Unix epoch. */
  t: number;
}

/** First line of `events.jsonl`. */
export interface HeaderEvent extends EventBase {
  type: 'header';
  schemaVersion: number;
  runId: string;
  /** Backend actually used (`tensorflow-gpu`, `tensorflow`, `webgpu`, `wasm`, `cpu`). */
  backend: string;
  backendRejections: BackendRejection[];
  dataset: {
    name: string;
    trainSize: number;
    testSize: number;
    inputShape: [number, number, number];
    numClasses: number;
    /** Training examples whose label was replaced by label noise. */
    noisyCount: number;
  };
  model: { arch: string; paramCount: number };
  seed: number;
  stepsPerEpoch: number;
  totalSteps: number;
  host: string;
  pid: number;
  version: string;
  /**
   * The Tr(F) probe set, so a run's Tr(F) can be recomputed from its folder: indices into the training set
   * as loaded (after the `trainSize` subset and label noise), in probe order. Absent in runs written before
   * it was recorded.
   */
  probe?: { split: 'train'; indices: number[] };
}

/** One optimisation step (throttled: not every step needs to be written). */
export interface StepEvent extends EventBase {
  type: 'step';
  step: number;
  /** Fractional epoch: step / stepsPerEpoch. */
  epoch: number;
  /** Mini-batch cross-entropy w.r.t. the (possibly noisy) training labels. */
  loss: number;
  lr: number;
  /** Penalty value α·P as last computed (null when no penalty is active). */
  penalty: number | null;
  /** Norm of the full update gradient (loss + penalty + weight decay). */
  gradNorm: number;
  examplesPerSec: number;
}

/** An exact Tr(F) measurement on the fixed probe set. Never dropped by throttling. */
export interface FisherEvent extends EventBase {
  type: 'fisher';
  step: number;
  epoch: number;
  /** Tr(F): mean over the probe set of per-example ||∇θ ℓ(x, ŷ)||², ŷ sampled from the model. */
  trF: number;
  /** Standard error of that mean over the probe set. */
  trFStderr: number;
  probeSize: number;
  /**
   * Seed of the label sampling of this measurement (ŷ ~ p_θ(y|x) for each probe example, see README
   * "Run directory"). Absent in runs written before it was recorded.
   */
  labelSeed?: number;
  /** Mini-batch Tr(F_B) = ||(1/B) Σ ∇θ ℓ(x_i, ŷ_i)||² on the same probe (the quantity the penalty uses). */
  trFB: number | null;
  /** Milliseconds the measurement took. */
  ms: number;
}

/** Evaluation on the test set and on tracked training subsets (labels as given, i.e. noisy ones noisy). */
export interface EvalEvent extends EventBase {
  type: 'eval';
  step: number;
  epoch: number;
  testLoss: number;
  testAcc: number;
  /** Loss/accuracy on a fixed tracked subset of the training set w.r.t. the given labels. */
  trainLoss: number;
  trainAcc: number;
  /** Tracked clean (label unchanged) training examples; null without label noise. */
  cleanLoss: number | null;
  cleanAcc: number | null;
  /** Tracked noisy (label replaced) training examples w.r.t. their *given* (wrong) label; null without noise. */
  noisyLoss: number | null;
  noisyAcc: number | null;
}

/** The explosion detector's state changed (peak confirmed, Tr(F_i) taken, explosion fired). */
export interface DetectorEvent extends EventBase {
  type: 'detector';
  step: number;
  kind: 'explosion' | 'peak' | 'trFi';
  /** The value concerned (peak value, Tr(F_i), or the smoothed Tr(F) at firing). */
  value: number;
  /** For 'explosion': smoothed Tr(F) / its post-warm-up minimum. */
  rise?: number;
  message: string;
}

export interface StatusEvent extends EventBase {
  type: 'status';
  step: number;
  state: RunState;
  message?: string;
}

export interface LogEvent extends EventBase {
  type: 'log';
  level: 'info' | 'warn' | 'error';
  message: string;
}

export type RunEvent = HeaderEvent | StepEvent | FisherEvent | EvalEvent | DetectorEvent | StatusEvent | LogEvent;
export type RunEventType = RunEvent['type'];

/** `status.json`, replaced atomically. */
export interface RunStatus {
  runId: string;
  state: RunState;
  step: number;
  totalSteps: number;
  pid: number | null;
  host: string;
  /** Slurm job id when launched through Slurm. */
  jobId?: string | null;
  startedAt: string;
  /** Last rewrite of status.json; while `running` (or `queued`) it is the heartbeat. */
  updatedAt: string;
  /**
   * While running, the writer rewrites status.json at least every `heartbeatSeconds` (a background timer,
   * even while a step or an evaluation is busy); a reader that sees no rewrite for several intervals treats
   * the run as stale. Absent in runs written before heartbeats.
   */
  heartbeatSeconds?: number;
  /** Error message for `failed` / `diverged`. */
  error?: string | null;
}

/** `summary.json`, written when the run ends (any terminal state). */
export interface RunSummary {
  runId: string;
  state: RunState;
  steps: number;
  epochs: number;
  wallSeconds: number;
  backend: string;
  /** Early peak of the smoothed Tr(F) (after warm-up), its raw value and step. */
  peakTrF: number | null;
  peakTrFRaw: number | null;
  peakStep: number | null;
  /**
   * True once the smoothed curve has fallen clearly below the early peak (a real peak); false while it is
   * only the largest smoothed value after warm-up so far (e.g. a curve that only decays).
   */
  peakConfirmed: boolean;
  /** Largest raw Tr(F) measured anywhere in the run, and its step. */
  maxTrF: number | null;
  maxTrFStep: number | null;
  /** Tr(F) when the training loss first crossed `lossThreshold`, and that step. */
  trFi: number | null;
  trFiStep: number | null;
  lossThreshold: number;
  finalTrF: number | null;
  finalTrainLoss: number | null;
  finalTestLoss: number | null;
  finalTestAcc: number | null;
  bestTestAcc: number | null;
  finalTrainAcc: number | null;
  finalCleanAcc: number | null;
  finalNoisyAcc: number | null;
  error?: string | null;
}
