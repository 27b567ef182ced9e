// Max-pooling when maxima tie (issue 7, item 1): each 2×2 window's gradient must go to exactly one
// element — the first maximum in row-major order, as PyTorch's max_pool2d — never to every tie.
// Real MNIST images (constant backgrounds: whole windows tie) against PyTorch float64 autograd and
// float64 finite differences, for every model that pools; a constructed all-ties case compared
// element for element; and controls showing that these inputs tie enough for the old all-ties
// gradient to fail the same checks. Also: the README "Models" description rebuilt in PyTorch
// reproduces a real run's test loss from its checkpoint, and params.json records the built widths.
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadModel, loadParams, saveParams } from '../../src/core/checkpoint';
import { batchFisherTrace, fisherTrace } from '../../src/core/fisher';
import { createModel, type Model, type ModelSpec } from '../../src/core/models';
import { lossAndGradients, penaltyGradients, type PenaltyKind } from '../../src/core/penalty';
import { perExampleSqNorms } from '../../src/core/perExample';
import { resolveConfig } from '../../src/shared/config';
import { Rng } from '../../src/shared/rng';
import { loadDataset } from '../../src/trainer/data';
import { train } from '../../src/trainer/train';
import {
  flatValues,
  jitterBiases,
  mnistBatch,
  mnistIdxFiles,
  relErr,
  torchCase,
  torchReference,
  TEST_BACKEND,
  useBackend,
  type TestBackend,
  type TorchResult,
  type TorchTask,
} from '../fixtures/coreTestUtils';

const TOL = 1e-4; // float32 (tfjs) vs float64 (torch)
const K = 10;
const KINDS: PenaltyKind[] = ['fisher', 'gp', 'gpr', 'gpx'];
/** Tests of the model format, not of a backend's maths: run with the wasm suite only. */
const WASM_ONLY = TEST_BACKEND !== 'wasm' && 'not a backend check (runs in the wasm suite)';

/** Largest per-element relative difference |a−b|/|b|. */
function maxRel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / Math.abs(b[i]));
  return m;
}
const norm = (v: ArrayLike<number>) => Math.sqrt(Array.from(v).reduce((s, a) => s + a * a, 0));
const dot = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  Array.from(a).reduce((s, v, i) => s + v * b[i], 0);
const unit = (v: ArrayLike<number>) => {
  const n = norm(v);
  return Array.from(v, (a) => a / n);
};

/** Every model that pools (max: simplecnn, vgg11; average: resnet), narrow enough for seconds. */
const POOLING: { name: string; spec: ModelSpec; maxPools: boolean }[] = [
  { name: 'simplecnn', spec: { arch: 'simplecnn', width: 0.125 }, maxPools: true },
  { name: 'vgg11', spec: { arch: 'vgg11', width: 1 / 16 }, maxPools: true },
  { name: 'resnet', spec: { arch: 'resnet', width: 0.25 }, maxPools: false },
];

describe(`max-pool gradient with tied maxima vs PyTorch float64 (${TEST_BACKEND})`, () => {
  before(async () => {
    await useBackend(TEST_BACKEND);
  });

  test(`constructed ties (constant input, 2×2 equal blocks, odd sizes): the same single element gets each window’s gradient as in torch, on ${TEST_BACKEND} and cpu`, async () => {
    const [B, H, W, C] = [3, 5, 7, 2];
    const [H2, W2] = [H >> 1, W >> 1];
    const xv = new Float32Array(B * H * W * C);
    const at = (b: number, r: number, c: number, k: number) => ((b * H + r) * W + c) * C + k;
    const rng = new Rng(1);
    for (let r = 0; r < H; r++)
      for (let c = 0; c < W; c++) {
        xv[at(0, r, c, 0)] = 0.5; // constant: every window is a 4-way tie
        xv[at(0, r, c, 1)] = rng.int(3); // {0,1,2}: 2-, 3- and 4-way ties in every arrangement
        xv[at(1, r, c, 0)] = 0.1 * rng.int(5);
        xv[at(1, r, c, 1)] = 0.25;
        xv[at(2, r, c, 0)] = rng.int(2);
        xv[at(2, r, c, 1)] = -1;
      }
    // 2×2 blocks of equal maxima: one aligned with a window, one straddling four windows
    for (const [r, c] of [
      [2, 2],
      [2, 3],
      [3, 2],
      [3, 3],
      [1, 3],
      [1, 4],
      [2, 4],
    ])
      xv[at(1, r, c, 0)] = 3;
    // distinct, exactly representable upstream gradients, so each dx entry names its window
    const dyv = Float32Array.from({ length: B * H2 * W2 * C }, (_, i) => i + 1);
    const ties = countTiedWindows(xv, [B, H, W, C]);
    assert.ok(ties >= 20, `only ${ties} windows tie: the case would not test ties`);

    const dxOn = async (backend: TestBackend) => {
      await useBackend(backend);
      const dx = tf.tidy(() => {
        const x = tf.tensor4d(xv, [B, H, W, C]);
        const dy = tf.tensor4d(dyv, [B, H2, W2, C]);
        return tf.grad((t: tf.Tensor) =>
          tf.sum(tf.mul(tf.maxPool(t as tf.Tensor4D, 2, 2, 'valid'), dy)),
        )(x);
      });
      const v = Array.from(await dx.data());
      dx.dispose();
      return v;
    };
    // (named `wasm` for the suite's default backend; TEST_BACKEND in general)
    const wasm = await dxOn(TEST_BACKEND);
    const cpu = await dxOn('cpu');
    await useBackend(TEST_BACKEND);
    const [[ref]] = torchReference('coreMaxPoolTies', 'constructed ties', [
      { id: 'pool', op: 'maxpool', shape: [B, H, W, C], x: Array.from(xv), dy: Array.from(dyv) },
    ]);
    assert.deepEqual(wasm, ref.dx, `${TEST_BACKEND} vs torch, element for element`);
    assert.deepEqual(cpu, ref.dx, 'cpu vs torch, element for element');
    // exactly one receiver per window, carrying the window's dy; the dropped odd row/col get none
    assert.equal(wasm.filter((v) => v !== 0).length, dyv.length);
    assert.deepEqual(
      wasm.filter((v) => v !== 0).sort((a, b) => a - b),
      Array.from(dyv),
    );
    // the constant map: the top-left element of every window
    for (let i = 0; i < H2; i++)
      for (let j = 0; j < W2; j++) {
        const g = (a: number, b: number) => wasm[at(0, 2 * i + a, 2 * j + b, 0)];
        assert.deepEqual([g(0, 0) !== 0, g(0, 1), g(1, 0), g(1, 1)], [true, 0, 0, 0]);
      }
  });

  describe('real MNIST (test images 0–7, seeded biases), per model', () => {
    const N = 8;
    let x: tf.Tensor4D;
    let y: Int32Array;
    const models: Model[] = [];
    const ours: Record<string, Ours> = {};
    let ref: TorchResult[][];
    let control: TorchResult[][];

    interface Ours {
      given: Float32Array;
      sampled: { norms: Float32Array; labels: Int32Array; trace: number };
      exact: { norms: Float32Array; trace: number };
      trFB: number;
      penalties: Record<string, { value: number; grads: Float64Array; labels: Int32Array }>;
      loss: number;
      grad: Float64Array;
      dirs: number[][];
    }

    before(async () => {
      await useBackend(TEST_BACKEND);
      ({ x, y } = mnistBatch([0, 1, 2, 3, 4, 5, 6, 7]));
      const cases: unknown[] = [];
      const controls: unknown[] = [];
      for (const [i, t] of POOLING.entries()) {
        const m = createModel(t.spec, [28, 28, 1], K, 30 + i);
        // Non-zero biases, as after a little training: backgrounds then tie at positive values,
        // where the ReLU passes the gradient (zero ties are killed by it either way).
        jitterBiases(m, 50 + i, 0.2);
        models.push(m);
        const o = {} as Ours;
        o.given = (await perExampleSqNorms(m, x, y)).norms;
        const s = await fisherTrace(m, x, { mode: 'sampled', seed: 5 });
        o.sampled = { norms: s.perExample, labels: s.labels!, trace: s.trace };
        const e = await fisherTrace(m, x, { mode: 'exact' });
        o.exact = { norms: e.perExample, trace: e.trace };
        o.trFB = await batchFisherTrace(m, x, o.sampled.labels);
        o.penalties = {};
        for (const kind of KINDS) {
          const r = await penaltyGradients(kind, m, x, y, { seed: 7 });
          o.penalties[kind] = {
            value: r.value,
            grads: await flatValues(r.grads),
            labels: r.labels,
          };
          r.grads.forEach((g) => g.dispose());
        }
        const lg = await lossAndGradients(m, x, y);
        o.loss = lg.loss;
        o.grad = await flatValues(lg.grads);
        lg.grads.forEach((g) => g.dispose());
        const rnd = new Rng(60 + i).normalArray(o.grad.length);
        o.dirs = [unit(o.grad), unit(rnd)];
        ours[t.name] = o;
        const tasks: TorchTask[] = [
          { kind: 'perExample', labels: y },
          { kind: 'perExample', labels: o.sampled.labels },
          { kind: 'expectedNorms' },
          { kind: 'gradSqNorm', labels: o.sampled.labels },
          ...KINDS.map((kind): TorchTask => ({
            kind: 'penalty',
            penalty: kind,
            labels: o.penalties[kind].labels,
          })),
          { kind: 'grad', labels: y },
          { kind: 'fd', labels: y, dirs: o.dirs, eps: 1e-6 },
        ];
        cases.push(await torchCase(t.name, m, x, tasks));
        if (t.maxPools)
          controls.push(
            await torchCase(
              t.name,
              m,
              x,
              [
                { kind: 'perExample', labels: y },
                { kind: 'grad', labels: y },
              ],
              { maxPoolGrad: 'all-ties' },
            ),
          );
      }
      ref = torchReference('coreMaxPoolTies', 'mnist', cases);
      control = torchReference('coreMaxPoolTies', 'mnist all-ties control', controls);
    });

    after(() => {
      models.forEach((m) => m.dispose());
      x?.dispose();
    });

    for (const [i, t] of POOLING.entries()) {
      test(`${t.name}: per-example ‖∇ℓ‖² (given and sampled labels), Tr(F) sampled and exact, Tr(F_B) (rel ≤ ${TOL})`, () => {
        const o = ours[t.name];
        const r = ref[i];
        assert.ok(
          maxRel(o.given, r[0].norms) <= TOL,
          `given: max rel ${maxRel(o.given, r[0].norms)}`,
        );
        const es = maxRel(o.sampled.norms, r[1].norms);
        assert.ok(es <= TOL, `sampled: max rel ${es}`);
        const trS = r[1].norms.reduce((a: number, b: number) => a + b, 0) / N;
        assert.ok(
          Math.abs(o.sampled.trace - trS) / trS <= TOL,
          `Tr(F) ${o.sampled.trace} vs ${trS}`,
        );
        const ee = maxRel(o.exact.norms, r[2].norms);
        assert.ok(ee <= TOL, `exact E_ŷ norms: max rel ${ee}`);
        const trE = r[2].norms.reduce((a: number, b: number) => a + b, 0) / N;
        assert.ok(
          Math.abs(o.exact.trace - trE) / trE <= TOL,
          `exact Tr(F) ${o.exact.trace} vs ${trE}`,
        );
        const fb: number = r[3].sqNorm;
        assert.ok(Math.abs(o.trFB - fb) / fb <= TOL, `Tr(F_B) ${o.trFB} vs ${fb}`);
      });

      test(`${t.name}: FP, GP, GPr, GPx values and ∂P/∂θ by double backprop (rel ≤ ${TOL})`, () => {
        KINDS.forEach((kind, k) => {
          const got = ours[t.name].penalties[kind];
          const want = ref[i][4 + k];
          const eV = Math.abs(got.value - want.value) / want.value;
          assert.ok(eV <= TOL, `${kind} value ${got.value} vs ${want.value}`);
          const eG = relErr(got.grads, (want.grads as number[][]).flat());
          assert.ok(eG <= TOL, `${kind} gradient rel err ${eG}`);
        });
      });

      test(`${t.name}: training loss and gradient vs autograd and float64 finite differences`, () => {
        const o = ours[t.name];
        const want = ref[i][8];
        assert.ok(
          Math.abs(o.loss - want.loss) / want.loss <= 1e-5,
          `loss ${o.loss} vs ${want.loss}`,
        );
        const e = relErr(o.grad, (want.grads as number[][]).flat());
        assert.ok(e <= TOL, `gradient rel err ${e}`);
        const fd = ref[i][9].fd as number[];
        const gn = norm(o.grad);
        o.dirs.forEach((d, j) => {
          const analytic = dot(o.grad, d);
          assert.ok(
            Math.abs(analytic - fd[j]) <= TOL * gn,
            `direction ${j}: ∇L·d ${analytic} vs finite differences ${fd[j]} (‖∇L‖ ${gn})`,
          );
        });
      });

      if (t.maxPools)
        test(`${t.name}: control — these images tie: an all-ties pooling gradient misses the same checks`, () => {
          const c = control[POOLING.filter((p) => p.maxPools).indexOf(t)];
          const eN = maxRel(c[0].norms, ref[i][0].norms);
          const eG = relErr(
            (c[1].grads as number[][]).flat(),
            (ref[i][8].grads as number[][]).flat(),
          );
          assert.ok(eN > 100 * TOL, `all-ties per-example norms within ${eN} of the truth`);
          assert.ok(eG > 100 * TOL, `all-ties gradient within ${eG} of the truth`);
        });
    }
  });

  test('two inverted MNIST digits (1 − x), fresh SimpleCNN: step-1 ‖∇L‖ = autograd = finite differences; a constant image too', async (t) => {
    await useBackend(TEST_BACKEND);
    const batches = [
      { what: 'inverted digits', ...mnistBatch([0, 1], 'train', true) },
      {
        what: 'constant 0.5 image',
        x: tf.fill([2, 28, 28, 1], 0.5) as tf.Tensor4D,
        y: Int32Array.from([3, 8]),
      },
    ];
    const m = createModel({ arch: 'simplecnn', width: 0.25 }, [28, 28, 1], K, 0);
    try {
      const got: { loss: number; g: Float64Array; d: number[] }[] = [];
      for (const { x, y } of batches) {
        const lg = await lossAndGradients(m, x, y);
        const g = await flatValues(lg.grads);
        lg.grads.forEach((t) => t.dispose());
        got.push({ loss: lg.loss, g, d: unit(g) });
      }
      const tasks = (j: number): TorchTask[] => [
        { kind: 'gradSqNorm', labels: batches[j].y },
        { kind: 'fd', labels: batches[j].y, dirs: [got[j].d], eps: 1e-6 },
      ];
      const ref = torchReference(
        'coreMaxPoolTies',
        'step 1',
        await Promise.all(batches.map((b, j) => torchCase(b.what, m, b.x, tasks(j)))),
      );
      const ctl = torchReference(
        'coreMaxPoolTies',
        'step 1 all-ties control',
        await Promise.all(
          batches.map((b, j) =>
            torchCase(b.what, m, b.x, [tasks(j)[0]], { maxPoolGrad: 'all-ties' }),
          ),
        ),
      );
      // float32 finite differences through our own forward pass, along the same direction. The
      // step is small because a fresh net's background pre-activations are shared by hundreds of
      // positions: one of them near zero puts a ReLU kink a few 1e-4 away (seen at 1e-3: −0.4%).
      const fd32 = async (j: number, eps: number) => {
        const saved = m.params.map((p) => p.clone());
        const L = async (s: number) => {
          let o = 0;
          m.params.forEach((p, k) => {
            const n = p.size;
            const step = Float32Array.from(got[j].d.slice(o, o + n), (a) => a * s * eps);
            p.assign(tf.tidy(() => tf.add(saved[k], tf.tensor(step, p.shape))));
            o += n;
          });
          const lg = await lossAndGradients(m, batches[j].x, batches[j].y);
          lg.grads.forEach((t) => t.dispose());
          return lg.loss;
        };
        try {
          return ((await L(1)) - (await L(-1))) / (2 * eps);
        } finally {
          m.params.forEach((p, k) => p.assign(saved[k]));
          saved.forEach((t) => t.dispose());
        }
      };
      for (const [j, b] of batches.entries()) {
        const ours = norm(got[j].g);
        const auto = Math.sqrt(ref[j][0].sqNorm);
        const fd = ref[j][1].fd[0] as number;
        const f32 = await fd32(j, 1e-4);
        const old = Math.sqrt(ctl[j][0].sqNorm);
        t.diagnostic(
          `${b.what}: ‖∇L‖ ours ${ours}, autograd ${auto}, FD64 ${fd}, FD32 ${f32}, all-ties ${old}`,
        );
        assert.ok(
          Math.abs(ours - auto) / auto <= TOL,
          `${b.what}: ‖∇L‖ ${ours} vs autograd ${auto}`,
        );
        assert.ok(Math.abs(ours - fd) / fd <= TOL, `${b.what}: ‖∇L‖ ${ours} vs float64 FD ${fd}`);
        assert.ok(
          Math.abs(ours - f32) / fd <= 1e-3,
          `${b.what}: ‖∇L‖ ${ours} vs float32 FD ${f32}`,
        );
        assert.ok(
          Math.abs(old - fd) / fd > 1e-2,
          `${b.what}: an all-ties gradient (${old}) would pass too: the case has no teeth`,
        );
      }
    } finally {
      m.dispose();
      batches.forEach((b) => b.x.dispose());
    }
  });

  test(
    'README "Models": SimpleCNN rebuilt with torch.nn from the README reproduces a run’s test loss from its checkpoint (≤ 1e-6)',
    { skip: WASM_ONLY },
    async (t) => {
      const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-readme-'));
      try {
        const cfg = resolveConfig({
          name: 'readme-check',
          backend: 'wasm',
          seed: 11,
          dataset: { name: 'mnist', trainSize: 48, testSize: 20 },
          model: { arch: 'simplecnn', width: 0.3 }, // 32·0.3 = 9.6 → 10 etc.: rounding shows
          optimizer: { lr: 0.05, batchSize: 16 },
          schedule: { steps: 6 },
          fisher: { every: 3, probeSize: 8 },
        });
        const summary = await train({ config: cfg, runsRoot: root, runId: 'r' });
        assert.equal(summary.state, 'completed', summary.error ?? '');
        const dir = path.join(root, 'r', 'checkpoint');
        const { meta } = loadParams(dir);
        assert.deepEqual(meta.spec.layerWidths, [10, 10, 19, 19, 38, 10]);
        assert.equal('hidden' in meta.spec, false, 'no MLP hidden sizes in a SimpleCNN spec');
        const indices = Array.from(
          loadDataset(cfg.dataset, { seed: cfg.seed }).test.indices,
        ) as number[];
        const [[r]] = torchReference('coreMaxPoolTies', 'readme', [
          {
            id: 'readme',
            op: 'readme-simplecnn',
            checkpoint: dir,
            ...mnistIdxFiles('test'),
            indices,
          },
        ]);
        const ours = summary.finalTestLoss as number;
        t.diagnostic(`README rebuild ${r.loss}, run ${ours}, |Δ| ${Math.abs(r.loss - ours)}`);
        assert.ok(
          Math.abs(r.loss - ours) <= 1e-6,
          `README rebuild ${r.loss} vs the run's final test loss ${ours} (|Δ| ${Math.abs(r.loss - ours)})`,
        );
      } finally {
        fs.rmSync(root, { recursive: true, force: true });
      }
    },
  );
});

describe('params.json spec records the widths as built', { skip: WASM_ONLY }, () => {
  before(async () => {
    await useBackend('wasm');
  });

  test('layerWidths per arch; hidden only for mlp (configured, before width scaling); old checkpoints still load; a contradicting spec is refused', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-spec-'));
    try {
      const cases: [ModelSpec, [number, number, number], number[]][] = [
        [{ arch: 'mlp', width: 0.5, hidden: [7, 3] }, [4, 4, 1], [4, 2, 10]], // 3.5 → 4, 1.5 → 2
        [{ arch: 'simplecnn', width: 0.125 }, [28, 28, 1], [4, 4, 8, 8, 16, 10]],
        [{ arch: 'vgg11', width: 1 / 16 }, [8, 8, 3], [4, 8, 16, 16, 32, 32, 32, 32, 10]],
        [{ arch: 'resnet', width: 0.25 }, [8, 8, 1], [4, 4, 4, 8, 8, 8, 16, 16, 16, 10]],
      ];
      for (const [spec, shape, widths] of cases) {
        const m = createModel(spec, shape, K, 1);
        await saveParams(m, dir);
        const { meta } = loadParams(dir);
        assert.deepEqual(meta.spec.layerWidths, widths, spec.arch);
        assert.deepEqual(
          meta.tensors.filter((t) => t.name.endsWith('/bias')).map((t) => t.shape[0]),
          widths,
          `${spec.arch}: widths = bias lengths`,
        );
        if (spec.arch === 'mlp') assert.deepEqual(meta.spec.hidden, spec.hidden);
        else assert.equal('hidden' in meta.spec, false, spec.arch);
        loadModel(dir).dispose();
        m.dispose();
      }
      // a checkpoint written before layerWidths: every arch carried hidden [512, 512]
      const m = createModel({ arch: 'simplecnn', width: 0.125 }, [28, 28, 1], K, 1);
      await saveParams(m, dir);
      const file = path.join(dir, 'params.json');
      const meta = JSON.parse(fs.readFileSync(file, 'utf8'));
      const old = { arch: 'simplecnn', width: 0.125, hidden: [512, 512], activation: 'relu' };
      fs.writeFileSync(file, JSON.stringify({ ...meta, spec: old }));
      const back = loadModel(dir);
      assert.deepEqual(back.layerWidths, [4, 4, 8, 8, 16, 10]);
      back.dispose();
      fs.writeFileSync(
        file,
        JSON.stringify({ ...meta, spec: { ...old, layerWidths: [4, 4, 8, 8, 17, 10] } }),
      );
      assert.throws(() => loadModel(dir), /layerWidths/);
      m.dispose();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Windows (2×2/2, floor mode) whose maximum is attained more than once. */
function countTiedWindows(v: Float32Array, [B, H, W, C]: number[]): number {
  let n = 0;
  for (let b = 0; b < B; b++)
    for (let i = 0; i + 1 < H; i += 2)
      for (let j = 0; j + 1 < W; j += 2)
        for (let k = 0; k < C; k++) {
          const w = [0, 1, 2, 3].map((q) => v[((b * H + i + (q >> 1)) * W + j + (q & 1)) * C + k]);
          const mx = Math.max(...w);
          if (w.filter((a) => a === mx).length > 1) n++;
        }
  return n;
}
