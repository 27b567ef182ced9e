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
  useBackend,
} from '../fixtures/coreTestUtils';

const B = 5;
const K = 10;

describe('per-example gradient norms (wasm, patched)', () => {
  const models: Model[] = [];
  const xs: tf.Tensor4D[] = [];
  before(async () => {
    await useBackend('wasm');
    TINY.forEach((t, i) => {
      models.push(createModel(t.spec, t.input, K, 11 + i));
      xs.push(randomInput(B, t.input, 100 + i));
    });
  });
  after(() => {
    models.forEach((m) => m.dispose());
    xs.forEach((x) => x.dispose());
  });

  test('vectorised = naive per-example loop for every architecture (rel ≤ 1e-4 per example)', () => {
    TINY.forEach((t, i) => {
      const y = randomLabels(B, K, 7 + i);
      const fast = perExampleSqNorms(models[i], xs[i], y);
      const slow = naivePerExampleSqNorms(models[i], xs[i], y);
      assert.deepEqual(Array.from(fast.labels), Array.from(y));
      for (let j = 0; j < B; j++) {
        const e = Math.abs(fast.norms[j] - slow[j]) / slow[j];
        assert.ok(
          slow[j] > 0 && e <= 1e-4,
          `${t.name} example ${j}: ${fast.norms[j]} vs naive ${slow[j]} (rel ${e})`,
        );
      }
    });
  });

  test('logits and per-example norms match PyTorch float64 (rel ≤ 1e-4)', () => {
    const ys = TINY.map((_, i) => randomLabels(B, K, 30 + i));
    const cases = TINY.map((t, i) =>
      torchCase(t.name, models[i], xs[i], [
        { kind: 'logits' },
        { kind: 'perExample', labels: ys[i] },
      ]),
    );
    const ref = torchReference('corePerExample', 'tiny', cases);
    TINY.forEach((t, i) => {
      const logits = tf.tidy(() => models[i].forward(xs[i]));
      const eL = relErr(logits.dataSync(), ref[i][0].logits);
      logits.dispose();
      assert.ok(eL <= 1e-5, `${t.name} logits rel err ${eL}`);
      const got = perExampleSqNorms(models[i], xs[i], ys[i]).norms;
      const want: number[] = ref[i][1].norms;
      for (let j = 0; j < B; j++) {
        const e = Math.abs(got[j] - want[j]) / want[j];
        assert.ok(e <= 1e-4, `${t.name} example ${j}: ${got[j]} vs torch ${want[j]} (rel ${e})`);
      }
    });
  });

  test('labels chosen from the logits of the same pass (sampled ŷ) are the ones used', () => {
    const m = models[1];
    const x = xs[1];
    const r = perExampleSqNorms(m, x, (z) => sampleLabels(z, 5));
    const logits = tf.tidy(() => m.forward(x));
    const expected = sampleLabels(logits, 5);
    logits.dispose();
    assert.deepEqual(Array.from(r.labels), Array.from(expected));
    const again = perExampleSqNorms(m, x, expected).norms;
    assert.deepEqual(Array.from(r.norms), Array.from(again));
  });

  test('the cpu backend gives the same norms (simplecnn, resnet)', async () => {
    const y = randomLabels(B, K, 3);
    const wasm = [1, 2].map((i) => perExampleSqNorms(models[i], xs[i], y).norms);
    await useBackend('cpu');
    try {
      [1, 2].forEach((i, k) => {
        const cpu = perExampleSqNorms(models[i], xs[i], y).norms;
        assert.ok(relErr(cpu, wasm[k]) <= 1e-5, `${TINY[i].name}: cpu ${cpu} vs wasm ${wasm[k]}`);
      });
    } finally {
      await useBackend('wasm');
    }
  });

  test('no tensor leak, including when the pass throws', () => {
    const y = randomLabels(B, K, 1);
    TINY.forEach((t, i) => {
      assert.equal(
        tensorDelta(() => perExampleSqNorms(models[i], xs[i], y)),
        0,
        `${t.name} perExampleSqNorms`,
      );
    });
    assert.equal(
      tensorDelta(() => naivePerExampleSqNorms(models[0], xs[0], y), 1),
      0,
      'naive loop',
    );
    const throwing = () => {
      assert.throws(() =>
        perExampleSqNorms(models[1], xs[1], () => {
          throw new Error('boom');
        }),
      );
    };
    assert.equal(tensorDelta(throwing), 0, 'throwing label source');
  });
});
