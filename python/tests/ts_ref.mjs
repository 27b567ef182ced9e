// Reference values from the TypeScript engine for the Python parity tests.
// node --import tsx python/tests/ts_ref.mjs <command> <out.json|dir> [args]
//   rng OUT.json             RNG streams, deriveSeed, sample, shuffle, normals, label noise, batches
//   init DIR                 initial checkpoints of every arch (DIR/<name>/params.{json,bin}) + DIR/specs.json
//   penalty CKPT IN.json OUT.json   penalty values and gradients of a checkpoint on a given batch
import fs from 'node:fs';
import path from 'node:path';
import * as tfm from '@tensorflow/tfjs';
import * as rngm from '../../src/shared/rng.ts';
import * as datam from '../../src/trainer/data/index.ts';

const mod = (m) => m.default ?? m;
const { Rng, deriveSeed } = mod(rngm);
const data = mod(datam);
const [cmd, out, ...rest] = process.argv.slice(2);

export const SPECS = [
  { name: 'mlp', spec: { arch: 'mlp', width: 0.25 }, input: [28, 28, 1], classes: 10, seed: 3 },
  { name: 'mlp-tanh', spec: { arch: 'mlp', width: 0.3, hidden: [100, 37], activation: 'tanh' }, input: [28, 28, 1], classes: 10, seed: 2 ** 40 + 17 },
  { name: 'simplecnn', spec: { arch: 'simplecnn', width: 0.25 }, input: [28, 28, 1], classes: 10, seed: 5 },
  { name: 'vgg11', spec: { arch: 'vgg11', width: 0.0625 }, input: [28, 28, 1], classes: 10, seed: 11 },
  { name: 'vgg11-cifar', spec: { arch: 'vgg11', width: 0.05 }, input: [32, 32, 3], classes: 100, seed: 0 },
  { name: 'resnet', spec: { arch: 'resnet', width: 0.5 }, input: [28, 28, 1], classes: 10, seed: 7 },
  { name: 'resnet-tanh', spec: { arch: 'resnet', width: 0.3, activation: 'tanh' }, input: [13, 11, 2], classes: 3, seed: 1 },
];

if (cmd === 'rng') {
  const r = {};
  const seeds = [0, 1, 42, 4294967295, 4294967296, 2 ** 40 + 5, 9007199254740991, 123456789.75];
  r.derive = [];
  for (const s of seeds)
    for (const st of [[], ['fisher', 10], ['probe-and-tracking'], [0x67707200], ['épreuve', 'ü→😀'], [4294967297, 'x', -3]])
      r.derive.push({ seed: s, streams: st, v: deriveSeed(s, ...st) });
  r.uint32 = seeds.map((s) => { const g = new Rng(s, 'data-order'); return Array.from({ length: 40 }, () => g.uint32()); });
  r.next = (() => { const g = new Rng(9); return Array.from({ length: 20 }, () => g.next()); })();
  r.int = (() => { const g = new Rng(4); return [1, 2, 3, 7, 10, 1000, 2 ** 31 + 1, 4294967296].map((n) => Array.from({ length: 10 }, () => g.int(n))); })();
  r.normal = (() => { const g = new Rng(5, 'n'); return Array.from({ length: 41 }, () => g.normal(0.5, 2)); })();
  r.normalArray = Array.from(new Rng(deriveSeed(3, 0)).normalArray(1000, 0.05));
  r.permutation = Array.from(new Rng(1, 'p').permutation(50));
  r.shuffle = Array.from(new Rng(2, 's').shuffle(Int32Array.from({ length: 30 }, (_, i) => i * 3)));
  r.sample = [[5, 100], [50, 100], [0, 10], [10, 10], [128, 60000], [1000, 1200]].map(([k, n]) => ({ k, n, v: Array.from(new Rng(8, 'sample', k).sample(k, n)) }));
  r.fork = (() => { const g = new Rng(6); const f = g.fork('child'); return [f.uint32(), f.uint32(), g.uint32()]; })();
  const labels = Int32Array.from({ length: 500 }, (_, i) => (i * 7) % 10);
  r.labelNoise = [false, true].map((forceChange) => {
    const res = data.applyLabelNoise(labels, 10, { fraction: 0.25, seed: 3, forceChange });
    const tr = data.trackedSubsets(res.noisyMask, 40, 4);
    return { forceChange, y: Array.from(res.y), noisyCount: res.noisyCount, clean: Array.from(tr.clean), noisy: Array.from(tr.noisy) };
  });
  const bi = new data.BatchIterator(100, 16, deriveSeed(3, 'batches'));
  r.batches = Array.from({ length: 14 }, () => Array.from(bi.next()));
  r.synthetic = (() => {
    const ds = data.loadDataset({ name: 'synthetic', trainSize: 20, testSize: 10, syntheticShape: [4, 3, 2], syntheticClasses: 3 }, { seed: 5 });
    return { x: Array.from(ds.train.x), y: Array.from(ds.train.y), tx: Array.from(ds.test.x), ty: Array.from(ds.test.y) };
  })();
  r.mnist = (() => {
    const ds = data.loadDataset({ name: 'mnist', trainSize: 300, testSize: 100 }, { seed: 9 });
    return { trainIdx: Array.from(ds.train.indices), testIdx: Array.from(ds.test.indices), y: Array.from(ds.train.y), x5: Array.from(ds.train.x.subarray(0, 5 * 784)) };
  })();
  fs.writeFileSync(out, JSON.stringify(r));
} else if (cmd === 'init' || cmd === 'penalty') {
  const tf = mod(tfm);
  await tf.setBackend('cpu');
  const core = mod(await import('../../src/core/index.ts'));
  core.installPatches('cpu');
  if (cmd === 'init') {
    fs.mkdirSync(out, { recursive: true });
    for (const s of SPECS) {
      const m = core.createModel(s.spec, s.input, s.classes, s.seed);
      await core.saveParams(m, path.join(out, s.name));
      m.dispose();
    }
    fs.writeFileSync(path.join(out, 'specs.json'), JSON.stringify(SPECS));
  } else {
    // penalty CKPT IN.json OUT.json: IN = {x: [...NHWC floats], shape, y: [...], seed, labels?}
    const [inFile] = rest;
    const model = core.loadModel(out);
    const inp = JSON.parse(fs.readFileSync(inFile, 'utf8'));
    const x = tf.tensor4d(inp.x, inp.shape);
    const res = {};
    for (const kind of ['fisher', 'gp', 'gpr', 'gpx']) {
      const r = await core.penaltyGradients(kind, model, x, Int32Array.from(inp.y), { seed: inp.seed });
      res[kind] = { value: r.value, labels: Array.from(r.labels), grads: r.grads.map((g) => Array.from(g.dataSync())) };
      r.grads.forEach((g) => g.dispose());
    }
    fs.writeFileSync(rest[1], JSON.stringify(res));
  }
}
