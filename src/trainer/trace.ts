/**
 * `fisher-lens trace`: per-example squared gradient norms ||∇θ ℓ(x, y)||² of a saved checkpoint on N examples,
 * with y the given labels (empirical Fisher) or labels sampled from the model (true Fisher), and their mean.
 */
import type { BackendName, RunConfig } from '../shared/config';
import { Rng } from '../shared/rng';
import { loadDataset, DataError } from './data';
import { selectBackend, tfjs } from './backend';
import { installPatches, loadModel, fisherTrace } from '../core';

export interface TraceOptions {
  checkpoint: string;
  data: string;
  count: number;
  labels: 'given' | 'sampled';
  seed: number;
  backend?: BackendName;
}

export interface TraceResult {
  checkpoint: string;
  data: string;
  split: 'train' | 'test';
  labels: 'given' | 'sampled';
  backend: string;
  count: number;
  seed: number;
  indices: number[];
  perExample: number[];
  mean: number;
  stderr: number;
}

/** Parse `name[:path][@split]`, e.g. `mnist`, `idx:/data/fashion@test`, `cifar10:./cifar-10-batches-bin`. */
export function parseDataSpec(spec: string): { dataset: RunConfig['dataset']; split: 'train' | 'test' } {
  const m = /^([a-z0-9-]+)(?::(.+?))?(?:@(train|test))?$/.exec(spec);
  const names = ['mnist', 'fashion-mnist', 'idx', 'cifar10', 'cifar100', 'synthetic'];
  if (!m || !names.includes(m[1])) {
    throw new DataError(`--data: got "${spec}"; expected NAME[:PATH][@train|@test] with NAME one of ${names.join(', ')}`);
  }
  // No sizes: the whole split is loaded, and `--count` examples are drawn from it.
  const dataset = { name: m[1], ...(m[2] ? { path: m[2] } : {}) } as RunConfig['dataset'];
  return { dataset, split: (m[3] as 'train' | 'test') ?? 'train' };
}

export async function traceCheckpoint(opts: TraceOptions): Promise<TraceResult> {
  const { dataset, split } = parseDataSpec(opts.data);
  const choice = await selectBackend(opts.backend ?? 'auto');
  installPatches(choice.engineName);
  const tf = tfjs();
  const model = loadModel(opts.checkpoint);
  const data = loadDataset(dataset, { seed: opts.seed, baseDir: process.cwd() });
  const part = split === 'train' ? data.train : data.test;
  if (opts.count > part.n) throw new DataError(`--count: got ${opts.count}; the ${split} split has ${part.n} examples`);
  const [h, w, c] = data.inputShape;
  const want = model.inputShape;
  if (want && (want[0] !== h || want[1] !== w || want[2] !== c)) {
    throw new DataError(`--data: examples are ${h}×${w}×${c} but the checkpoint expects ${want.join('×')}`);
  }
  const dim = h * w * c;
  const idx = new Rng(opts.seed, 'trace-examples').sample(opts.count, part.n);
  const x = new Float32Array(opts.count * dim);
  const y = new Int32Array(opts.count);
  idx.forEach((j, i) => {
    x.set(part.x.subarray(j * dim, (j + 1) * dim), i * dim);
    y[i] = part.y[j];
  });
  const xt = tf.tensor4d(x, [opts.count, h, w, c]);
  const r = fisherTrace(model, xt, opts.labels === 'given' ? { mode: 'given', labels: y } : { mode: 'sampled', seed: opts.seed });
  xt.dispose();
  model.dispose();
  return { checkpoint: opts.checkpoint, data: opts.data, split, labels: opts.labels, backend: choice.backend, count: opts.count, seed: opts.seed, indices: Array.from(idx), perExample: Array.from(r.perExample), mean: r.trace, stderr: r.stderr };
}
