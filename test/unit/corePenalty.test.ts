// Penalties by double backprop (FP, GP, GPr, GPx), the plain loss gradient and Hutchinson Tr(H),
// against a float64 PyTorch reference on the same weights, inputs and labels; finite differences on
// a tanh net.
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { withTapeGuard } from '../../src/core/backend';
import { hessianVectorProduct, hutchinsonTraceH } from '../../src/core/hessian';
import { oneHot } from '../../src/core/loss';
import { createModel, type Model } from '../../src/core/models';
import {
  addScaled,
  lossAndGradients,
  penaltyGradients,
  sumOfSquares,
  type PenaltyKind,
} from '../../src/core/penalty';
import { Rng } from '../../src/shared/rng';
import {
  TINY,
  flatValues,
  jitterBiases,
  randomInput,
  randomLabels,
  relErr,
  tensorDelta,
  torchCase,
  torchReference,
  TEST_BACKEND,
  useBackend,
  type TorchResult,
  type TorchTask,
} from '../fixtures/coreTestUtils';

const B = 6;
const K = 4;
const KINDS: PenaltyKind[] = ['fisher', 'gp', 'gpr', 'gpx'];
const TOL = 1e-4; // float32 (tfjs) vs float64 (torch)

describe(`penalties, loss gradient and Tr(H) vs PyTorch float64 (${TEST_BACKEND})`, () => {
  const models: Model[] = [];
  const xs: tf.Tensor4D[] = [];
  const ys: Int32Array[] = [];
  let small: Model; // Hutchinson: small enough for an exact Tr(H) in torch
  let xSmall: tf.Tensor4D;
  let ySmall: Int32Array;
  let v: tf.Tensor[];
  let ref: TorchResult[][];
  const results: Record<string, { value: number; grads: Float64Array; labels: Int32Array }> = {};
  const plain: { loss: number; grads: Float64Array; correct: number }[] = [];

  before(async () => {
    await useBackend(TEST_BACKEND);
    const cases: unknown[] = [];
    for (const [i, t] of TINY.entries()) {
      const m = createModel(t.spec, t.input, K, 21 + i);
      jitterBiases(m, 40 + i);
      models.push(m);
      xs.push(randomInput(B, t.input, 200 + i));
      ys.push(randomLabels(B, K, 300 + i));
      const tasks: TorchTask[] = [];
      for (const kind of KINDS) {
        const r = await penaltyGradients(kind, m, xs[i], ys[i], { seed: 7 });
        results[`${t.name}/${kind}`] = {
          value: r.value,
          grads: await flatValues(r.grads),
          labels: r.labels,
        };
        r.grads.forEach((g) => g.dispose());
        tasks.push({ kind: 'penalty', penalty: kind, labels: r.labels });
      }
      const lg = await lossAndGradients(m, xs[i], ys[i], { withAccuracy: true });
      plain.push({ loss: lg.loss, grads: await flatValues(lg.grads), correct: lg.correct! });
      lg.grads.forEach((g) => g.dispose());
      tasks.push({ kind: 'grad', labels: ys[i] });
      cases.push(await torchCase(t.name, m, xs[i], tasks));
    }
    small = createModel(
      { arch: 'mlp', width: 1, hidden: [6], activation: 'tanh' },
      [2, 2, 1],
      3,
      5,
    );
    jitterBiases(small, 6);
    xSmall = randomInput(8, [2, 2, 1], 7);
    ySmall = randomLabels(8, 3, 8);
    const rng = new Rng(9);
    v = small.params.map((p) => tf.tensor(rng.normalArray(p.size), p.shape));
    cases.push(
      await torchCase('small', small, xSmall, [
        {
          kind: 'hvp',
          labels: ySmall,
          v: await Promise.all(v.map(async (t) => Array.from(await t.data()))),
        },
        { kind: 'traceH', labels: ySmall },
      ]),
    );
    ref = torchReference('corePenalty', 'tiny', cases);
  });

  after(() => {
    models.forEach((m) => m.dispose());
    xs.forEach((x) => x.dispose());
    small.dispose();
    xSmall.dispose();
    v.forEach((t) => t.dispose());
  });

  for (const [i, t] of TINY.entries()) {
    test(`${t.name}: FP, GP, GPr, GPx values and ∂P/∂θ (rel ≤ ${TOL})`, () => {
      KINDS.forEach((kind, k) => {
        const got = results[`${t.name}/${kind}`];
        const want = ref[i][k];
        const eV = Math.abs(got.value - want.value) / want.value;
        assert.ok(
          want.value > 0 && eV <= TOL,
          `${kind} value ${got.value} vs torch ${want.value} (rel ${eV})`,
        );
        const eG = relErr(got.grads, (want.grads as number[][]).flat());
        assert.ok(eG <= TOL, `${kind} gradient rel err ${eG}`);
      });
      assert.deepEqual(Array.from(results[`${t.name}/gp`].labels), Array.from(ys[i]));
      assert.deepEqual(Array.from(results[`${t.name}/gpx`].labels), Array.from(ys[i]));
    });
  }

  test('lossAndGradients: loss, ∂L/∂θ and accuracy count', async () => {
    for (const [i, t] of TINY.entries()) {
      const want = ref[i][KINDS.length];
      assert.ok(Math.abs(plain[i].loss - want.loss) / want.loss <= 1e-5, `${t.name} loss`);
      assert.ok(
        relErr(plain[i].grads, (want.grads as number[][]).flat()) <= TOL,
        `${t.name} gradient`,
      );
      const logits = tf.tidy(() => models[i].forward(xs[i]));
      const top = tf.tidy(() => tf.argMax(logits, 1));
      const am = ((await top.data()) as Int32Array).filter((c, j) => c === ys[i][j]).length;
      top.dispose();
      logits.dispose();
      assert.equal(plain[i].correct, am, `${t.name} correct count`);
    }
  });

  test('control: stock tf.losses.softmaxCrossEntropy loses the second-order terms (the check has teeth)', async () => {
    const i = 0;
    let e = Infinity; // a disconnected outer gradient (tfjs throws) counts as "does not match"
    try {
      const grads = withTapeGuard(() =>
        tf.tidy(() => {
          const y = oneHot(results['mlp/gp'].labels, K);
          return tf.valueAndGrads((...p: tf.Tensor[]) =>
            sumOfSquares(
              tf.grads((...q: tf.Tensor[]) =>
                tf.losses.softmaxCrossEntropy(y, models[i].apply(q, xs[i])),
              )(p),
            ),
          )(models[i].params).grads;
        }),
      );
      const got = await flatValues(grads);
      tf.dispose(grads);
      e = relErr(got, (ref[i][1].grads as number[][]).flat());
    } catch {
      // expected with tfjs 4.22
    }
    assert.ok(
      e > 1e-2,
      `stock loss unexpectedly matched the reference (rel ${e}): revisit the loss work-around`,
    );
  });

  test('Hessian-vector product matches torch; Hutchinson Tr(H) within 4 stderr of the exact trace', async () => {
    const hv = hessianVectorProduct(small, xSmall, ySmall, v);
    const e = relErr(await flatValues(hv), (ref[TINY.length][0].hv as number[][]).flat());
    hv.forEach((t) => t.dispose());
    assert.ok(e <= TOL, `Hv rel err ${e}`);
    const exact: number = ref[TINY.length][1].trace;
    const h = await hutchinsonTraceH(small, xSmall, ySmall, { probes: 300, seed: 3 });
    assert.equal(h.samples.length, 300);
    const z = (h.trace - exact) / h.stderr;
    assert.ok(Math.abs(z) < 4, `Hutchinson ${h.trace} ± ${h.stderr} vs exact ${exact}`);
  });

  test('FP gradient agrees with central finite differences on a tanh net', async () => {
    const m = createModel(
      { arch: 'mlp', width: 1, hidden: [16, 12], activation: 'tanh' },
      [6, 6, 1],
      K,
      3,
    );
    jitterBiases(m, 4);
    const x = randomInput(8, [6, 6, 1], 5);
    const y = randomLabels(8, K, 6);
    const saved = m.params.map((p) => p.clone());
    try {
      const r = await penaltyGradients('fisher', m, x, y, { seed: 1 });
      const labels = r.labels; // hold ŷ fixed: P is then a smooth function of θ
      const g = await flatValues(r.grads);
      r.grads.forEach((t) => t.dispose());
      const rng = new Rng(2);
      for (const dir of ['gradient', 'random'] as const) {
        const d =
          dir === 'gradient' ? Float64Array.from(g) : Float64Array.from(rng.normalArray(g.length));
        const dn = Math.sqrt(d.reduce((s, a) => s + a * a, 0));
        d.forEach((a, j) => (d[j] = a / dn));
        const analytic = g.reduce((s, a, j) => s + a * d[j], 0);
        const P = async (eps: number) => {
          let o = 0;
          m.params.forEach((p, k) => {
            const n = p.size;
            p.assign(
              tf.tidy(() =>
                tf.add(
                  saved[k],
                  tf.tensor(
                    Float32Array.from(d.subarray(o, o + n), (a) => a * eps),
                    p.shape,
                  ),
                ),
              ),
            );
            o += n;
          });
          const pr = await penaltyGradients('fisher', m, x, y, { seed: 1, labels });
          pr.grads.forEach((t) => t.dispose());
          return pr.value;
        };
        const eps = 1e-2;
        const fd = ((await P(eps)) - (await P(-eps))) / (2 * eps);
        const scale = Math.max(
          Math.abs(analytic),
          1e-3 * Math.sqrt(g.reduce((s, a) => s + a * a, 0)),
        );
        assert.ok(
          Math.abs(fd - analytic) / scale <= 1e-3,
          `${dir} direction: FD ${fd} vs double backprop ${analytic}`,
        );
      }
    } finally {
      m.params.forEach((p, k) => p.assign(saved[k]));
      saved.forEach((t) => t.dispose());
      x.dispose();
      m.dispose();
    }
  });

  test('sampling is seeded: same seed same ŷ and value; GPr labels depend on the seed', async () => {
    const m = models[1];
    const a = await penaltyGradients('fisher', m, xs[1], ys[1], { seed: 7 });
    a.grads.forEach((t) => t.dispose());
    assert.deepEqual(Array.from(a.labels), Array.from(results['simplecnn/fisher'].labels));
    assert.equal(a.value, results['simplecnn/fisher'].value);
    const r1 = await penaltyGradients('gpr', m, xs[1], ys[1], { seed: 1 });
    const r2 = await penaltyGradients('gpr', m, xs[1], ys[1], { seed: 2 });
    [...r1.grads, ...r2.grads].forEach((t) => t.dispose());
    assert.notDeepEqual(Array.from(r1.labels), Array.from(r2.labels));
  });

  test('addScaled combines loss and cached penalty gradients', async () => {
    const g = [tf.tensor1d([1, 2]), tf.tensor2d([[3]])];
    const h = [tf.tensor1d([10, 20]), tf.tensor2d([[30]])];
    const s = addScaled(g, h, 0.5);
    assert.deepEqual(Array.from(await flatValues(s)), [6, 12, 18]);
    [...g, ...h, ...s].forEach((t) => t.dispose());
  });

  test('no tensor leak', async () => {
    for (const kind of KINDS) {
      const d = await tensorDelta(
        async () =>
          tf.dispose((await penaltyGradients(kind, models[2], xs[2], ys[2], { seed: 1 })).grads),
        2,
      );
      assert.equal(d, 0, kind);
    }
    assert.equal(
      await tensorDelta(async () =>
        tf.dispose((await lossAndGradients(models[1], xs[1], ys[1], { withAccuracy: true })).grads),
      ),
      0,
      'loss',
    );
    assert.equal(
      await tensorDelta(() =>
        hessianVectorProduct(small, xSmall, ySmall, v).forEach((t) => t.dispose()),
      ),
      0,
      'hvp',
    );
    assert.equal(
      await tensorDelta(() => hutchinsonTraceH(small, xSmall, ySmall, { probes: 2 }), 1),
      0,
      'hutchinson',
    );
  });
});
