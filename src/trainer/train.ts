/**
 * `train()`: one run through the training loop (./loop) on the engine the config's backend selects — tfjs in
 * process (./tfjs/engine) or the PyTorch child (./torch/engine) — for the CLI, the reproduction's runner, the
 * demo, benchmarks and tests.
 */
import type { RunConfig } from '../shared/config';
import type { RunEvent, RunSummary } from '../shared/protocol';
import type { EventSink } from '../runs/recorder';
import { runLoop, type LoopOptions } from './loop';
import { TfjsEngine } from './tfjs/engine';
import { TorchEngine } from './torch/engine';
import { selectEngine } from './backend';

export interface TrainOptions extends LoopOptions {
  config: RunConfig;
  /** Folder a relative `dataset.path` resolves against (the config file's); a resolved config has none. */
  configDir?: string;
  /** Called with every event of the run, in order (a sink). */
  onEvent?: (e: RunEvent) => void;
  /** The Python interpreter for the torch backends (`--python`); default FISHER_LENS_PYTHON, else `python3`. */
  python?: string;
}

/** Error in the data a config points at (missing folder, bad IDX file): an input error, nothing is written. */
export { DataError } from './data';

/** Train one run to the end (or until stopped) and return its summary. Input errors throw before anything is written. */
export async function train(opts: TrainOptions): Promise<RunSummary> {
  const sinks: EventSink[] = [...(opts.sinks ?? [])];
  if (opts.onEvent) sinks.push({ event: opts.onEvent });
  const c = await selectEngine(opts.config.backend, { python: opts.python });
  const engine =
    c.engine === 'torch'
      ? new TorchEngine(c.choice, opts.configDir)
      : new TfjsEngine(opts.configDir, c.choice);
  return runLoop(engine, opts.config, { ...opts, sinks });
}
