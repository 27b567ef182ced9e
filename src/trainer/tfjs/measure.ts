/**
 * Measurements of a tfjs run: exact Tr(F) (and the mini-batch Tr(F_B)) on the fixed probe set, and the
 * evaluation of the test set and the tracked training subsets. Evaluation runs in chunks and yields to the event
 * loop between them (tfjs compute is synchronous), so signals are noticed during a long evaluation.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import { deriveSeed } from '../../shared/rng';
import type { EvalEvent, FisherEvent } from '../../shared/protocol';
import { crossEntropy, oneHot, fisherTrace, batchFisherTrace, type Model } from '../../core';
import { tfjs } from '../backend';
import type { ExampleSet, TrainingSetup } from './setup';

export const yieldToEventLoop = () => new Promise<void>((r) => setImmediate(r));

/** Examples of an {@link ExampleSet} as a [n, h, w, c] tensor. */
export const toX = (s: ExampleSet, [h, w, c]: [number, number, number]): tfTypes.Tensor4D =>
  tfjs().tensor4d(s.x, [s.n, h, w, c]);

/** Mean loss and accuracy of `s` w.r.t. its labels, in chunks of 512 (yielding between them). */
export async function evaluate(
  model: Model,
  s: ExampleSet,
  setup: TrainingSetup,
): Promise<{ loss: number; acc: number }> {
  const tf = tfjs();
  const { dim, numClasses: K } = setup;
  let lossSum = 0;
  let correct = 0;
  const chunk = 512;
  for (let i = 0; i < s.n; i += chunk) {
    const m = Math.min(chunk, s.n - i);
    const part = { x: s.x.subarray(i * dim, (i + m) * dim), y: s.y.subarray(i, i + m), n: m };
    const r = tf.tidy(() => {
      const logits = model.forward(toX(part, setup.shape));
      const l = tf.mul(crossEntropy(logits, oneHot(part.y, K)), m);
      const hit = tf.sum(
        tf.cast(tf.equal(tf.argMax(logits, 1), tf.tensor1d(part.y, 'int32')), 'float32'),
      );
      return tf.stack([l, hit]);
    });
    const [l, hit] = await r.data();
    r.dispose();
    lossSum += l;
    correct += hit;
    if (i + chunk < s.n) await yieldToEventLoop();
  }
  return { loss: lossSum / s.n, acc: correct / s.n };
}

/** The `eval` event at `step`: test set, the plain training subset, and the clean/noisy subsets when tracked. */
export async function evalEvent(
  setup: TrainingSetup,
  step: number,
  stepsPerEpoch: number,
): Promise<EvalEvent> {
  const { model } = setup;
  const te = await evaluate(model, setup.test, setup);
  const tr = await evaluate(model, setup.trainTrack, setup);
  const cl = setup.cleanSet ? await evaluate(model, setup.cleanSet, setup) : null;
  const no = setup.noisySet ? await evaluate(model, setup.noisySet, setup) : null;
  return {
    type: 'eval',
    t: Date.now(),
    step,
    epoch: step / stepsPerEpoch,
    testLoss: te.loss,
    testAcc: te.acc,
    trainLoss: tr.loss,
    trainAcc: tr.acc,
    cleanLoss: cl?.loss ?? null,
    cleanAcc: cl?.acc ?? null,
    noisyLoss: no?.loss ?? null,
    noisyAcc: no?.acc ?? null,
  };
}

/**
 * The `fisher` event at `step`: Tr(F) on the probe `probeX` [P, h, w, c] with labels sampled from the model
 * (seeded per step), its standard error, and Tr(F_B) on the same probe with the same sampled labels
 * (‖mean gradient‖² ≤ mean ‖gradient‖² = Tr(F)).
 */
export async function fisherEvent(
  model: Model,
  probeX: tfTypes.Tensor4D,
  seed: number,
  step: number,
  stepsPerEpoch: number,
): Promise<FisherEvent> {
  const t0 = performance.now();
  const labelSeed = deriveSeed(seed, 'fisher', step);
  const f = await fisherTrace(model, probeX, { seed: labelSeed });
  const trFB = await batchFisherTrace(model, probeX, f.labels!);
  return {
    type: 'fisher',
    t: Date.now(),
    step,
    epoch: step / stepsPerEpoch,
    trF: f.trace,
    trFStderr: f.stderr,
    probeSize: probeX.shape[0],
    labelSeed,
    trFB,
    ms: performance.now() - t0,
  };
}
