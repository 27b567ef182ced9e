/**
 * One SGD step of a tfjs run: PyTorch-style momentum (v ← μ·v + g; θ ← θ − η·v), weight decay added to the
 * gradient, and the gradient-norm penalty (FP, GP, GPr, GPx) by double backprop, recomputed every
 * `penalty.every` steps and its cached gradient (already × α) added in between.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import type { RunConfig } from '../../shared/config';
import { deriveSeed } from '../../shared/rng';
import { penaltyGradients, lossAndGradients, type Model } from '../../core';
import { BatchIterator } from '../data';
import { tfjs } from '../backend';
import { gather, type ExampleSet } from './setup';
import { toX } from './measure';

export interface StepResult {
  /** Mean training loss of the mini-batch (before the update). */
  loss: number;
  /** ‖g‖ of the update direction (gradient + penalty gradient + weight decay), before momentum. */
  gradNorm: number;
  /** α × the penalty at its last recomputation, or null when the penalty is off at this step. */
  penalty: number | null;
}

export class Sgd {
  /** Momentum buffers, one per parameter (shapes of `model.params`). */
  private readonly velocity: tfTypes.Tensor[];
  /** α × the penalty's gradient, one per parameter, from the last recomputation. */
  private penaltyGrads: tfTypes.Tensor[] | null = null;
  private penaltyValue: number | null = null;
  private lastPenaltyStep = -Infinity;
  private readonly batches: BatchIterator;

  constructor(
    private readonly cfg: RunConfig,
    private readonly model: Model,
    private readonly train: ExampleSet,
    private readonly shape: [number, number, number],
    private readonly numClasses: number,
  ) {
    const tf = tfjs();
    this.velocity = model.params.map((p) => tf.keep(tf.zerosLike(p)));
    this.batches = new BatchIterator(
      train.n,
      cfg.optimizer.batchSize,
      deriveSeed(cfg.seed, 'batches'),
    );
  }

  /** Tensors held between steps (momentum buffers). */
  get heldTensors(): number {
    return this.velocity.length;
  }

  /** Step `step` (0-based) at learning rate `lr`, on the next mini-batch. */
  async step(step: number, lr: number, stepsPerEpoch: number): Promise<StepResult> {
    const tf = tfjs();
    const { cfg, model } = this;
    const [h, w, c] = this.shape;
    const batch = gather(this.train, this.batches.next(), h * w * c);
    const xb = toX(batch, this.shape);
    const pen = cfg.penalty;
    const penaltyOn =
      pen.kind !== 'none' && pen.alpha > 0 && step / stepsPerEpoch >= pen.startEpoch;
    if (penaltyOn && step - this.lastPenaltyStep >= pen.every) {
      const r = await penaltyGradients(
        pen.kind as Exclude<typeof pen.kind, 'none'>,
        model,
        xb,
        batch.y,
        {
          seed: deriveSeed(cfg.seed, 'penalty', step),
          numClasses: this.numClasses,
        },
      );
      this.penaltyGrads?.forEach((g) => g.dispose());
      this.penaltyGrads = r.grads.map((g) => tf.keep(tf.mul(g, pen.alpha)));
      r.grads.forEach((g) => g.dispose());
      this.penaltyValue = pen.alpha * r.value;
      this.lastPenaltyStep = step;
    }
    const penaltyGrads = penaltyOn ? this.penaltyGrads : null;
    const { loss, grads } = await lossAndGradients(model, xb, batch.y);
    const normT = tf.tidy(() => {
      let sq: tfTypes.Tensor = tf.scalar(0);
      model.params.forEach((p, i) => {
        let g: tfTypes.Tensor = grads[i];
        if (penaltyGrads) g = tf.add(g, penaltyGrads[i]);
        if (cfg.optimizer.weightDecay > 0) g = tf.add(g, tf.mul(p, cfg.optimizer.weightDecay));
        sq = tf.add(sq, tf.sum(tf.square(g)));
        const v = tf.add(tf.mul(this.velocity[i], cfg.optimizer.momentum), g);
        this.velocity[i].dispose();
        this.velocity[i] = tf.keep(v);
        p.assign(tf.sub(p, tf.mul(v, lr)) as tfTypes.Tensor);
      });
      return tf.sqrt(sq);
    });
    grads.forEach((g) => g.dispose());
    xb.dispose();
    const gradNorm = (await normT.data())[0];
    normT.dispose();
    return { loss, gradNorm, penalty: penaltyOn ? this.penaltyValue : null };
  }

  dispose(): void {
    this.penaltyGrads?.forEach((g) => g.dispose());
    this.penaltyGrads = null;
    this.velocity.forEach((v) => v.dispose());
  }
}
