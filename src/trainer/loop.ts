/**
 * The training loop, engine-independent: it starts an {@link Engine}, creates the run folder, pulls the
 * engine's events step by step and records each one ({@link RunRecorder}: run folder, detector, summary, sinks),
 * and decides when the run ends.
 *
 * End states: `diverged` by the rule in ./divergence (non-finite loss or gradient, or a sustained / runaway
 * training loss); `failed` on any error, a write error included (the message names the file and the cause);
 * `stopped` on a STOP file, an abort, or SIGINT/SIGTERM/SIGHUP (after the current step; a second signal ends
 * at once, writing `stopped` synchronously, exit 130). tfjs compute is synchronous, so the loop yields to the
 * event loop after every step (and the tfjs engine between evaluation chunks): that is when signals, the STOP
 * check and the writer's heartbeat timer get to run.
 */
import { totalSteps, type RunConfig } from '../shared/config';
import type { DetectorReference } from '../shared/detector';
import type { RunState, RunSummary } from '../shared/protocol';
import { RunRecorder, type EventSink } from '../runs/recorder';
import { RunWriteError, type RunWriterOptions } from '../runs/writer';
import { makeRunId } from '../runs/runId';
import { DivergenceMonitor } from './divergence';
import type { Engine } from './engine';
import { onStopSignals } from './signals';

export interface LoopOptions {
  runsRoot: string;
  /** Run id (the folder name); default: `<timestamp>-<name>` from {@link makeRunId}. */
  runId?: string;
  /** Base of the run id when the config has no name. */
  configName?: string;
  /** Where events go besides the run folder (progress bar, NDJSON, a callback). */
  sinks?: EventSink[];
  /** Install SIGINT/SIGTERM/SIGHUP handlers that stop the run after the current step (CLI). */
  handleSignals?: boolean;
  /** Aborting stops the run after the current step (programmatic use, tests). */
  signal?: AbortSignal;
  /** Test hook: called after every step with the step count (e.g. to count tensors). */
  afterStep?: (step: number) => void;
  /** Options of the run writer (tests: heartbeat, throttling). */
  writerOptions?: RunWriterOptions;
  /** The run the explosion detector compares this one with (`train --reference`); default: its own start. */
  detectorReference?: DetectorReference | null;
}

const yieldToEventLoop = () => new Promise<void>((r) => setImmediate(r));

/** One readable line of an error for status.json, summary.json and the CLI (the stack goes to the log only). */
function oneLine(e: unknown): string {
  const m =
    String((e as Error)?.message ?? e)
      .split('\n')
      .find((l) => l.trim()) ?? String(e);
  return m.length > 500 ? `${m.slice(0, 499)}…` : m;
}

/** Stop requests: signals (a second one ends the run at once) and an abort signal. */
class StopRequests {
  reason: string | null = null;
  /** Set once the run is being finished: a signal then no longer ends it early. */
  finished = false;
  private readonly onSignal = (sig: NodeJS.Signals) => {
    if (!this.reason || this.finished) {
      const first = !this.reason && !this.finished;
      this.request(`received ${sig}`);
      if (first) this.onFirstSignal(sig);
      return;
    }
    this.finished = true;
    this.onSecondSignal(sig);
  };
  private readonly onAbort = () => this.request('aborted');
  private readonly offSignals: () => void;

  constructor(
    private readonly opts: Pick<LoopOptions, 'handleSignals' | 'signal'>,
    private readonly onSecondSignal: (sig: NodeJS.Signals) => void,
    private readonly onFirstSignal: (sig: NodeJS.Signals) => void = () => {},
  ) {
    this.offSignals = opts.handleSignals ? onStopSignals(this.onSignal) : () => {};
    opts.signal?.addEventListener('abort', this.onAbort);
  }

  request(why: string): void {
    this.reason ??= why;
  }

  dispose(): void {
    this.offSignals();
    this.opts.signal?.removeEventListener('abort', this.onAbort);
  }
}

/** Steps until the end, a stop or divergence; the state the run is in after them and the error of a divergence. */
async function trainSteps(
  engine: Engine,
  rec: RunRecorder,
  stop: StopRequests,
  cfg: RunConfig,
  numClasses: number,
  opts: LoopOptions,
): Promise<{ state: RunState; error: string | null }> {
  const total = totalSteps(cfg);
  const divergence = new DivergenceMonitor({ numClasses });
  for (let step = 0; step < total; step++) {
    if (stop.reason || rec.stopRequested()) {
      stop.request('STOP file');
      return { state: 'stopped', error: null };
    }
    for await (const e of engine.step()) {
      rec.record(e);
      if (e.type === 'step') {
        // Divergence is judged before the detector sees the step's loss.
        const verdict = divergence.add(e.step, e.loss ?? NaN, e.gradNorm ?? 0);
        if (verdict)
          return { state: 'diverged', error: `${verdict.message} (learning rate ${e.lr})` };
      }
      rec.detect(e);
    }
    opts.afterStep?.(step + 1);
    // Yield after every step (cheap next to a step): signals, the STOP file and the writer's heartbeat timer
    // are only noticed while the loop runs.
    await yieldToEventLoop();
  }
  return { state: 'completed', error: null };
}

/**
 * Train one run with `engine` to the end (or until stopped) and return its summary. Input errors throw from
 * the engine's start, before anything is written.
 */
export async function runLoop(
  engine: Engine,
  cfg: RunConfig,
  opts: LoopOptions,
): Promise<RunSummary> {
  const started = Date.now();
  const { header, notes } = await engine.start(cfg);
  const runId =
    opts.runId ?? makeRunId(cfg.name ?? opts.configName ?? 'run', new Date(), opts.runsRoot);
  const rec = RunRecorder.create(opts.runsRoot, runId, cfg, header, {
    ...opts.writerOptions,
    sinks: opts.sinks,
    startedAt: started,
    detectorReference: opts.detectorReference ?? null,
  });
  for (const n of notes) rec.recordSafe(n);

  const stop = new StopRequests(
    opts,
    (sig) => {
      // Second signal: do not wait for the current phase (final evaluation, checkpoint); record `stopped` with
      // what the run has measured so far, synchronously, and exit.
      rec.finish('stopped', `stopped: ${stop.reason}, then ${sig} (ended at once)`);
      process.exit(130);
    },
    (sig) =>
      rec.recordSafe({
        type: 'log',
        t: Date.now(),
        level: 'info',
        message: `received ${sig}: stopping after the current step (the final measurement and checkpoint follow); send it again to end at once`,
      }),
  );
  let state: RunState = 'running';
  let error: string | null = null;
  try {
    ({ state, error } = await trainSteps(engine, rec, stop, cfg, header.dataset.numClasses, opts));
    if (state !== 'diverged') {
      // Yield between the final phases, so that a second signal is noticed during them.
      for await (const e of engine.finish()) {
        rec.append(e);
        await yieldToEventLoop();
      }
      if (cfg.checkpoint) await rec.writeCheckpoint((dir) => engine.saveCheckpoint(dir));
    }
  } catch (e) {
    state = 'failed';
    error = oneLine(e);
    // The log keeps the stack (events.jsonl, level error); a failing disk gets no further line.
    if (!(e instanceof RunWriteError))
      rec.recordSafe({
        type: 'log',
        t: Date.now(),
        level: 'error',
        message: (e as Error)?.stack ?? String(e),
      });
  } finally {
    stop.dispose();
  }
  for (const w of engine.close()) rec.recordSafe(w);

  stop.finished = true;
  if (rec.writeError && state !== 'failed') {
    state = 'failed';
    error = rec.writeError.message;
  }
  return rec.finish(state, state === 'stopped' ? `stopped: ${stop.reason}` : error);
}
