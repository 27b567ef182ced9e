// Per-example squared gradient norms (one batched backward pass) against (a) the naive
// one-backward- pass-per-example loop in tfjs, (b) PyTorch float64 per-example autograd, (c) the
// cpu backend. The PyTorch values are committed fixtures (test/fixtures/torch/corePerExample.json).
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createModel, type Model } from '../../src/core/models';
import { naivePerExampleSqNorms, perExampleSqNorms } from '../../src/core/perExample';
import { sampleLabels } from '../../src/core/loss';
import {
  TINY,
  randomInput,
  randomLabels,
  relErr,
  tensorDelta,
  torchCase,
  torchReference,
  SWITCHES_BACKEND,
  TEST_BACKEND,
  useBackend,
} from '../fixtures/coreTestUtils';

const B = 5;
const K = 10;

describe(`per-example gradient norms (${TEST_BACKEND}, patched)`, () => {
  const models: Model[] = [];
  const xs: tf.Tensor4D[] = [];
  before(async () => {
    await useBackend(TEST_BACKEND);
    TINY.forEach((t, i) => {
      models.push(createModel(t.spec, t.input, K, 11 + i));
      xs.push(randomInput(B, t.input, 100 + i));
    });
  });
  after(() => {
    models.forEach((m) => m.dispose());
    xs.forEach((x) => x.dispose());
  });

  test('vectorised = naive per-example loop for every architecture (rel ≤ 1e-4 per example)', async () => {
    for (const [i, t] of TINY.entries()) {
      const y = randomLabels(B, K, 7 + i);
      const fast = await perExampleSqNorms(models[i], xs[i], y);
      const slow = await naivePerExampleSqNorms(models[i], xs[i], y);
      assert.deepEqual(Array.from(fast.labels), Array.from(y));
      for (let j = 0; j < B; j++) {
        const e = Math.abs(fast.norms[j] - slow[j]) / slow[j];
        assert.ok(
          slow[j] > 0 && e <= 1e-4,
          `${t.name} example ${j}: ${fast.norms[j]} vs naive ${slow[j]} (rel ${e})`,
        );
      }
    }
  });

  test('logits and per-example norms match PyTorch float64 (rel ≤ 1e-4)', async () => {
    const ys = TINY.map((_, i) => randomLabels(B, K, 30 + i));
    const cases = await Promise.all(
      TINY.map((t, i) =>
        torchCase(t.name, models[i], xs[i], [
          { kind: 'logits' },
          { kind: 'perExample', labels: ys[i] },
        ]),
      ),
    );
    const ref = torchReference('corePerExample', 'tiny', cases);
    for (const [i, t] of TINY.entries()) {
      const logits = tf.tidy(() => models[i].forward(xs[i]));
      const eL = relErr(await logits.data(), ref[i][0].logits);
      logits.dispose();
      assert.ok(eL <= 1e-5, `${t.name} logits rel err ${eL}`);
      const got = (await perExampleSqNorms(models[i], xs[i], ys[i])).norms;
      const want: number[] = ref[i][1].norms;
      for (let j = 0; j < B; j++) {
        const e = Math.abs(got[j] - want[j]) / want[j];
        assert.ok(e <= 1e-4, `${t.name} example ${j}: ${got[j]} vs torch ${want[j]} (rel ${e})`);
      }
    }
  });

  test('labels chosen from the logits of the same pass (sampled ŷ) are the ones used', async () => {
    const m = models[1];
    const x = xs[1];
    const r = await perExampleSqNorms(m, x, (z) => sampleLabels(z, 5));
    const logits = tf.tidy(() => m.forward(x));
    const expected = sampleLabels((await logits.data()) as Float32Array, 5, K);
    logits.dispose();
    assert.deepEqual(Array.from(r.labels), Array.from(expected));
    const again = (await perExampleSqNorms(m, x, expected)).norms;
    assert.deepEqual(Array.from(r.norms), Array.from(again));
  });

  test(
    'the cpu backend gives the same norms (simplecnn, resnet)',
    { skip: SWITCHES_BACKEND },
    async () => {
      const y = randomLabels(B, K, 3);
      const here: Float32Array[] = [];
      for (const i of [1, 2]) here.push((await perExampleSqNorms(models[i], xs[i], y)).norms);
      await useBackend('cpu');
      try {
        for (const [k, i] of [1, 2].entries()) {
          const cpu = (await perExampleSqNorms(models[i], xs[i], y)).norms;
          assert.ok(
            relErr(cpu, here[k]) <= 1e-5,
            `${TINY[i].name}: cpu ${cpu} vs ${TEST_BACKEND} ${here[k]}`,
          );
        }
      } finally {
        await useBackend(TEST_BACKEND);
      }
    },
  );

  test('no tensor leak, including when the pass throws', async () => {
    const y = randomLabels(B, K, 1);
    for (const [i, t] of TINY.entries()) {
      assert.equal(
        await tensorDelta(() => perExampleSqNorms(models[i], xs[i], y)),
        0,
        `${t.name} perExampleSqNorms`,
      );
    }
    assert.equal(
      await tensorDelta(() => naivePerExampleSqNorms(models[0], xs[0], y), 1),
      0,
      'naive loop',
    );
    const throwing = async () => {
      await assert.rejects(
        perExampleSqNorms(models[1], xs[1], () => {
          throw new Error('boom');
        }),
        /boom/,
      );
    };
    assert.equal(await tensorDelta(throwing), 0, 'throwing label source');
  });
});
