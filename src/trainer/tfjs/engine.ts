/**
 * The tfjs engine: SGD with momentum on a function-style tfjs model, instrumented with exact Tr(F) on a fixed
 * probe set, an optional gradient-norm penalty and test / clean / noisy evaluation. It computes events only;
 * the loop (../loop) records them, runs the detector and decides when to stop.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import { stepsPerEpoch, totalSteps, type RunConfig } from '../../shared/config';
import type { LogEvent } from '../../shared/protocol';
import { installPatches, saveParams } from '../../core';
import { loadDataset } from '../data';
import { isTorchBackend, selectBackend, tfjs, type BackendChoice } from '../backend';
import { learningRate } from '../schedule';
import type { Engine, EngineEvent, EngineStart } from '../engine';
import { arrange, dataNotes, headerFacts, type TrainingSetup } from './setup';
import { evalEvent, fisherEvent, toX } from './measure';
import { Sgd } from './sgd';

export class TfjsEngine implements Engine {
  private cfg!: RunConfig;
  private setup!: TrainingSetup;
  private sgd!: Sgd;
  private probeX!: tfTypes.Tensor4D;
  private tensorsAtStart = 0;
  private spe = 1;
  private total = 0;
  /** Steps taken. */
  private taken = 0;
  /** EMA of the examples per second. */
  private emaRate = 0;

  /**
   * @param baseDir folder a relative `dataset.path` resolves against (a resolved config has none).
   * @param choice the backend chosen already (e.g. by `auto` over both engines); default: chosen at start.
   */
  constructor(
    private readonly baseDir?: string,
    private readonly choice?: BackendChoice,
  ) {}

  async start(cfg: RunConfig): Promise<EngineStart> {
    this.cfg = cfg;
    const data = loadDataset(cfg.dataset, { seed: cfg.seed, baseDir: this.baseDir });
    if (!this.choice && isTorchBackend(cfg.backend))
      throw new Error(`backend ${cfg.backend} is the PyTorch engine's, not tfjs's`);
    const choice = this.choice ?? (await selectBackend(cfg.backend as 'auto'));
    installPatches(choice.engineName);
    this.setup = arrange(cfg, data);
    this.spe = stepsPerEpoch(cfg);
    this.total = totalSteps(cfg);
    return { header: headerFacts(cfg, this.setup, choice), notes: dataNotes(cfg, this.setup) };
  }

  /** Tensors live from here on are the run's own; whatever else remains at {@link close} leaked. */
  private ensureState(): void {
    if (this.sgd) return;
    this.probeX = toX(this.setup.probe, this.setup.shape);
    this.sgd = new Sgd(
      this.cfg,
      this.setup.model,
      this.setup.train,
      this.setup.shape,
      this.setup.numClasses,
    );
    this.tensorsAtStart = tfjs().memory().numTensors;
  }

  async *step(): AsyncGenerator<EngineEvent> {
    this.ensureState();
    const { cfg, spe } = this;
    const step = this.taken;
    if (step % cfg.fisher.every === 0)
      yield await fisherEvent(this.setup.model, this.probeX, cfg.seed, step, spe);
    if (step % cfg.evalEvery === 0 && step > 0) yield await evalEvent(this.setup, step, spe);
    const t0 = performance.now();
    const lr = learningRate(cfg, step, this.total);
    const r = await this.sgd.step(step, lr, spe);
    const rate = cfg.optimizer.batchSize / Math.max((performance.now() - t0) / 1000, 1e-6);
    this.emaRate = this.emaRate ? 0.9 * this.emaRate + 0.1 * rate : rate;
    this.taken = step + 1;
    yield {
      type: 'step',
      t: Date.now(),
      step: step + 1,
      epoch: (step + 1) / spe,
      loss: r.loss,
      lr,
      penalty: r.penalty,
      gradNorm: r.gradNorm,
      examplesPerSec: this.emaRate,
    };
  }

  async *finish(): AsyncGenerator<EngineEvent> {
    this.ensureState();
    yield await fisherEvent(this.setup.model, this.probeX, this.cfg.seed, this.taken, this.spe);
    yield await evalEvent(this.setup, this.taken, this.spe);
  }

  async saveCheckpoint(dir: string): Promise<void> {
    await saveParams(this.setup.model, dir);
  }

  close(): LogEvent[] {
    if (!this.setup) return [];
    const out: LogEvent[] = [];
    if (this.sgd) {
      const held = this.sgd.heldTensors;
      this.sgd.dispose();
      this.probeX.dispose();
      const leaked = tfjs().memory().numTensors - this.tensorsAtStart + held + 1;
      if (leaked > 0)
        out.push({
          type: 'log',
          t: Date.now(),
          level: 'warn',
          message: `${leaked} tensors were not released during training`,
        });
    }
    this.setup.model.dispose();
    return out;
  }
}
