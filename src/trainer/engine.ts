/**
 * The boundary between compute and everything done with its results. An engine turns a resolved run config
 * into events — `step`, `fisher`, `eval`, `log` in the published run-events schema — and nothing else; the loop
 * (./loop) owns the run folder, the detector, the summary, progress, stopping and divergence. The tfjs engine
 * (./tfjs/engine) implements it in process; a Python child streaming the same events will implement it too
 * (../../../shared/design/ENGINES.md): `step()` then reads the child's events up to its next `step` line.
 */
import type { RunConfig } from '../shared/config';
import type { EvalEvent, FisherEvent, LogEvent, StepEvent } from '../shared/protocol';
import type { HeaderFields } from '../runs/writer';

/** What an engine computes: the run's measurements (header, status and detector events are the loop's). */
export type EngineEvent = StepEvent | FisherEvent | EvalEvent | LogEvent;

/** What an engine knows once it is set up: the header's facts, and notes about the data to log first. */
export interface EngineStart {
  /** The header's fields (probe, backend, dataset, model, seed, steps); the loop adds run id, time, host, pid. */
  header: HeaderFields;
  /** `log` events to record right after the header (e.g. classes inferred from IDX labels). */
  notes: LogEvent[];
}

export interface Engine {
  /**
   * Load the data, choose the backend, build the model and the probe set. Input errors (a DataError, a
   * ConfigError) throw here, before any run folder exists.
   */
  start(config: RunConfig): Promise<EngineStart>;
  /**
   * Take the next SGD step: yields the measurements due before it (Tr(F) every `fisher.every` steps, an
   * evaluation every `evalEvery` steps), then the step's `step` event. The loop stops pulling when it stops
   * the run; the engine keeps its state until {@link finish} or {@link close}.
   */
  step(): AsyncIterable<EngineEvent>;
  /** The measurements after the last step taken (completed or stopped runs): Tr(F), then an evaluation. */
  finish(): AsyncIterable<EngineEvent>;
  /** Write the parameters into the empty folder `dir` (the checkpoint format, README "Checkpoint format"). */
  saveCheckpoint(dir: string): Promise<void>;
  /** Release everything the engine holds; warnings (e.g. leaked tensors) come back as `log` events. */
  close(): LogEvent[];
}
