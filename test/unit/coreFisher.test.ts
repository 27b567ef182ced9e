// Tr(F) (true Fisher, sampled or exact expectation over ŷ), Tr(F_B), and label sampling.
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { batchFisherTrace, fisherTrace } from '../../src/core/fisher';
import { sampleLabels, softmaxRows, uniformLabels } from '../../src/core/loss';
import { createModel, type Model } from '../../src/core/models';
import { Rng } from '../../src/shared/rng';
import {
  TINY,
  randomInput,
  randomLabels,
  relErr,
  tensorDelta,
  torchCase,
  torchReference,
  TEST_BACKEND,
  useBackend,
} from '../fixtures/coreTestUtils';

const K = 5;

/**
 * Softmax regression (mlp, no hidden layer) with non-zero biases so every term of the closed form
 * matters.
 */
function softmaxRegression(seed: number): Model {
  const m = createModel({ arch: 'mlp', width: 1, hidden: [] }, [3, 3, 2], K, seed);
  m.params[1].assign(tf.tensor1d(new Rng(seed + 1).normalArray(K, 0.5)));
  return m;
}

describe(`Fisher trace (${TEST_BACKEND})`, () => {
  before(async () => {
    await useBackend(TEST_BACKEND);
  });

  test('sampleLabels is deterministic for a seed and follows softmax(z)', async () => {
    const N = 4000;
    const z = tf.tidy(() => tf.tile(tf.tensor2d([[0, 1, 2, -1]]), [N, 1]) as tf.Tensor2D);
    await z.data(); // on the host: sampleLabels reads it synchronously
    const a = sampleLabels(z, 42);
    const b = sampleLabels(z, 42);
    const c = sampleLabels(z, 43);
    assert.deepEqual(Array.from(a), Array.from(b));
    assert.notDeepEqual(Array.from(a), Array.from(c));
    const p = softmaxRows(z).slice(0, 4);
    z.dispose();
    for (let k = 0; k < 4; k++) {
      const f = a.filter((v) => v === k).length / N;
      const sd = Math.sqrt((p[k] * (1 - p[k])) / N);
      assert.ok(Math.abs(f - p[k]) < 5 * sd, `class ${k}: frequency ${f} vs p ${p[k]}`);
    }
    assert.deepEqual(Array.from(uniformLabels(8, 3, 1)), Array.from(uniformLabels(8, 3, 1)));
    assert.ok(uniformLabels(1000, 3, 1).every((v) => v >= 0 && v < 3));
  });

  test('softmax regression: exact E_ŷ||∇ℓ||² = (||x||²+1)(1 − Σp²) per example; sampled mean within 4 stderr', async () => {
    const m = softmaxRegression(3);
    const N = 600;
    const x = randomInput(N, [3, 3, 2], 9);
    try {
      const logits = tf.tidy(() => m.forward(x));
      const p = softmaxRows((await logits.data()) as Float32Array, K);
      logits.dispose();
      const xs = await x.data();
      const D = 18;
      const closed = new Float64Array(N);
      for (let i = 0; i < N; i++) {
        let xx = 0;
        for (let d = 0; d < D; d++) xx += xs[i * D + d] ** 2;
        let pp = 0;
        for (let k = 0; k < K; k++) pp += p[i * K + k] ** 2;
        closed[i] = (xx + 1) * (1 - pp);
      }
      const exact = await fisherTrace(m, x, { mode: 'exact', batchSize: 200 });
      for (let i = 0; i < N; i++) {
        const e = Math.abs(exact.perExample[i] - closed[i]) / closed[i];
        assert.ok(e <= 1e-4, `example ${i}: ${exact.perExample[i]} vs closed form ${closed[i]}`);
      }
      const exactMean = closed.reduce((s, v) => s + v, 0) / N;
      for (const seed of [1, 2]) {
        const s = await fisherTrace(m, x, { seed });
        assert.equal(s.perExample.length, N);
        assert.ok(s.stderr > 0);
        const z = (s.trace - exactMean) / s.stderr;
        assert.ok(
          Math.abs(z) < 4,
          `seed ${seed}: sampled ${s.trace} ± ${s.stderr} vs exact ${exactMean} (z ${z})`,
        );
        // Each sampled n_i is (||x||²+1)·||p − e_ŷ||² for the ŷ it reports.
        for (let i = 0; i < 20; i++) {
          let q = 0;
          for (let k = 0; k < K; k++) q += (p[i * K + k] - (k === s.labels![i] ? 1 : 0)) ** 2;
          const want =
            (closed[i] / (1 - p.slice(i * K, i * K + K).reduce((a, v) => a + v * v, 0))) * q;
          assert.ok(Math.abs(s.perExample[i] - want) / want <= 1e-4, `sampled example ${i}`);
        }
      }
    } finally {
      x.dispose();
      m.dispose();
    }
  });

  test('exact expectation matches PyTorch on a non-linear model (simplecnn); Tr(F_B) matches ||∇L||²', async () => {
    const t = TINY[1];
    const m = createModel(t.spec, t.input, K, 5);
    const x = randomInput(3, t.input, 6);
    const y = randomLabels(3, K, 8);
    try {
      const ref = torchReference('coreFisher', 'simplecnn', [
        await torchCase('cnn', m, x, [{ kind: 'expectedNorms' }, { kind: 'grad', labels: y }]),
      ]);
      const exact = await fisherTrace(m, x, { mode: 'exact' });
      assert.ok(
        relErr(exact.perExample, ref[0][0].norms) <= 1e-4,
        `${exact.perExample} vs ${ref[0][0].norms}`,
      );
      const g: number[][] = ref[0][1].grads;
      const want = g.reduce((s, gi) => s + gi.reduce((a, v) => a + v * v, 0), 0);
      const got = await batchFisherTrace(m, x, y);
      assert.ok(Math.abs(got - want) / want <= 1e-4, `Tr(F_B) ${got} vs torch ${want}`);
    } finally {
      x.dispose();
      m.dispose();
    }
  });

  test('sampled Tr(F) is reproducible for a seed, independent of chunking for given labels', async () => {
    const t = TINY[2];
    const m = createModel(t.spec, t.input, K, 2);
    const x = randomInput(7, t.input, 3);
    try {
      const a = await fisherTrace(m, x, { seed: 4, batchSize: 3 });
      const b = await fisherTrace(m, x, { seed: 4, batchSize: 3 });
      assert.deepEqual(Array.from(a.perExample), Array.from(b.perExample));
      assert.deepEqual(Array.from(a.labels!), Array.from(b.labels!));
      const g1 = await fisherTrace(m, x, { mode: 'given', labels: a.labels, batchSize: 7 });
      const g2 = await fisherTrace(m, x, { mode: 'given', labels: a.labels, batchSize: 2 });
      assert.ok(relErr(g1.perExample, a.perExample) <= 1e-5);
      assert.ok(relErr(g2.perExample, g1.perExample) <= 1e-5);
      assert.ok(Math.abs(g1.trace - a.trace) <= 1e-5 * a.trace);
      await assert.rejects(fisherTrace(m, x, { mode: 'given' }), /labels/);
    } finally {
      x.dispose();
      m.dispose();
    }
  });

  test('no tensor leak', async () => {
    const m = softmaxRegression(1);
    const x = randomInput(6, [3, 3, 2], 1);
    const y = randomLabels(6, K, 1);
    try {
      assert.equal(
        await tensorDelta(() => fisherTrace(m, x, { seed: 1, batchSize: 4 })),
        0,
        'sampled',
      );
      assert.equal(await tensorDelta(() => fisherTrace(m, x, { mode: 'exact' }), 1), 0, 'exact');
      assert.equal(
        await tensorDelta(() => fisherTrace(m, x, { mode: 'given', labels: y })),
        0,
        'given',
      );
      assert.equal(await tensorDelta(() => batchFisherTrace(m, x, y)), 0, 'Tr(F_B)');
      const z = tf.tidy(() => m.forward(x));
      await z.data();
      assert.equal(await tensorDelta(() => sampleLabels(z, 1)), 0, 'sampleLabels');
      z.dispose();
    } finally {
      x.dispose();
      m.dispose();
    }
  });

  after(() => {
    // nothing global to release: each test disposes its own tensors
  });
});
