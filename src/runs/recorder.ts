/**
 * What is done with the events of a live run, whoever computes them (the tfjs engine today, a Python child
 * later): each event goes to the run folder (the one {@link RunWriter}) and then to the other sinks (progress bar,
 * NDJSON on stdout, a caller's callback), in order; the run's one explosion detector and its one summary
 * ({@link SummaryAccumulator}) see every event before the writer's throttling; the header and the final status are
 * built once, by the writer, and handed to the sinks as written.
 *
 * Stopping (signals, STOP file) and divergence are the loop's: it records an engine's `step` event, checks it
 * for divergence, and only then lets the detector see it ({@link RunRecorder.detect}).
 */
import {
  detectorOptionsFromConfig,
  toDetectorEvent,
  type DetectorReference,
  type DetectorState,
} from '../shared/detector';
import type { RunEvent, RunState, RunSummary } from '../shared/protocol';
import { SummaryAccumulator } from './summary';
import { RunExistsError, UnsafeRunDirError } from './safeFs';
import { makeRunId } from './runId';
import { RunWriter, type EventInput, type HeaderFields, type RunWriterOptions } from './writer';
import type { StoredRunConfig } from './runDir';

/** The detector's settings of a run config; a script run (`fisher-lens run`) has the config schema's defaults. */
const SCRIPT_DETECTOR_CONFIG = { fisher: { lossThreshold: 1 } };
function detectorConfigOf(c: StoredRunConfig) {
  return 'kind' in c && c.kind === 'script'
    ? SCRIPT_DETECTOR_CONFIG
    : (c as Exclude<StoredRunConfig, { kind: 'script' }>);
}

/** Where recorded events go besides the run folder. */
export interface EventSink {
  /** Every event of the run in order: the header and first status, then each event, the final status last. */
  event(e: RunEvent): void;
}

export interface RunRecorderOptions extends RunWriterOptions {
  /** Append the detector's `detector` events to the run (default true; the summary uses the detector either way). */
  detectorEvents?: boolean;
  /** Sinks that get every recorded event after the run folder. */
  sinks?: EventSink[];
  /** When the run started, for the summary's `wallSeconds` (default: when the folder was created). */
  startedAt?: number;
  /** The run the explosion detector compares this one with (default: its own Tr(F) at initialisation). */
  detectorReference?: DetectorReference | null;
}

export class RunRecorder {
  readonly writer: RunWriter;
  private readonly summary: SummaryAccumulator;
  private readonly sinks: EventSink[];
  private readonly now: () => number;
  private readonly detectorEvents: boolean;
  private readonly startedAt: number;

  private constructor(writer: RunWriter, opts: RunRecorderOptions) {
    this.writer = writer;
    this.now = opts.now ?? Date.now;
    this.sinks = opts.sinks ?? [];
    this.detectorEvents = opts.detectorEvents ?? true;
    this.summary = new SummaryAccumulator(
      detectorOptionsFromConfig(detectorConfigOf(writer.config), {
        reference: opts.detectorReference ?? null,
      }),
    );
    this.startedAt = opts.startedAt ?? writer.opening[0].t;
    for (const e of writer.opening) {
      this.summary.note(e);
      for (const s of this.sinks) s.event(e);
    }
  }

  /** Create `<runsRoot>/<runId>/` (or adopt its queued placeholder) and hand the header to the sinks. */
  static create(
    runsRoot: string,
    runId: string,
    config: StoredRunConfig,
    header: HeaderFields,
    opts: RunRecorderOptions = {},
  ): RunRecorder {
    return new RunRecorder(RunWriter.create(runsRoot, runId, config, header, opts), opts);
  }

  /**
   * Create a run under a fresh id from {@link makeRunId} (`name`: the run name or config file name), retrying
   * with the next suffix if another process takes the same folder first.
   */
  static createUnique(
    runsRoot: string,
    name: string,
    config: StoredRunConfig,
    header: HeaderFields,
    opts: RunRecorderOptions & { date?: Date } = {},
  ): RunRecorder {
    for (let attempt = 0; ; attempt++) {
      const id = makeRunId(name, opts.date ?? new Date(), runsRoot);
      try {
        return RunRecorder.create(runsRoot, id, config, header, opts);
      } catch (e) {
        if (!(e instanceof RunExistsError) || e instanceof UnsafeRunDirError || attempt >= 20)
          throw e;
      }
    }
  }

  get dir(): string {
    return this.writer.dir;
  }

  get runId(): string {
    return this.writer.runId;
  }

  /** The explosion detector's state after every event recorded so far. */
  get detectorState(): DetectorState {
    return this.summary.detector.state;
  }

  /** Latest step recorded. */
  get currentStep(): number {
    return this.writer.currentStep;
  }

  /** The first write error, once one happened (the run can then only end `failed`). */
  get writeError() {
    return this.writer.writeError;
  }

  /** Record an event: the run folder first (a write error throws, and the sinks do not get it), then the sinks. */
  record(input: EventInput): RunEvent {
    const e = { ...input, t: input.t ?? this.now() } as RunEvent;
    this.writer.append(e as EventInput);
    this.summary.note(e);
    for (const s of this.sinks) s.event(e);
    return e;
  }

  /** Let the detector see a recorded event; what it reports is recorded as `detector` events. */
  detect(e: RunEvent): void {
    for (const c of this.summary.detect(e)) {
      const d = toDetectorEvent(c, e.t);
      if (this.detectorEvents) this.record(d);
    }
  }

  /** {@link record} then {@link detect}. */
  append(input: EventInput): RunEvent {
    const e = this.record(input);
    this.detect(e);
    return e;
  }

  /** For events after a failure (the disk may be the failure): never throws. */
  recordSafe(input: EventInput): void {
    try {
      this.record(input);
    } catch {
      /* the run ends failed with the first write error */
    }
  }

  /** True once someone created the `STOP` file in the run folder. */
  stopRequested(): boolean {
    return this.writer.stopRequested();
  }

  /** Write the final parameters (see {@link RunWriter.writeCheckpoint}). */
  writeCheckpoint(save: (tmpDir: string) => Promise<void> | void): Promise<void> {
    return this.writer.writeCheckpoint(save);
  }

  /** Write the held-back step now. */
  flush(): void {
    this.writer.flush();
  }

  /** Flush and close without a terminal state (see {@link RunWriter.close}). */
  close(): void {
    this.writer.close();
  }

  /**
   * End the run in `state` (`message`: the stop reason or the error): the summary is built once from every
   * recorded event (`extra` overlays fields), written with the final status by the writer, and the final status
   * as written goes to the sinks. A write error turns the run `failed`: the returned summary says what was recorded.
   */
  finish(state: RunState, message?: string | null, extra: Partial<RunSummary> = {}): RunSummary {
    const isError = state === 'failed' || state === 'diverged';
    const base = this.summary.result(state, {
      lossThreshold: detectorConfigOf(this.writer.config).fisher.lossThreshold,
      wallSeconds: (this.now() - this.startedAt) / 1000,
      runId: this.writer.runId,
      error: isError ? (message ?? null) : null,
    });
    const out = this.writer.finish(state, { ...base, ...extra }, message);
    this.summary.note(out.status);
    for (const s of this.sinks) s.event(out.status);
    return out.summary;
  }
}
