/**
 * `fisher-lens trace`: per-example squared gradient norms ||∇θ ℓ(x, y)||² of a saved checkpoint on N examples,
 * with y the given labels (empirical Fisher) or labels sampled from the model (true Fisher), and their mean.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  DATASETS,
  parseDatasetSpec,
  resolveDatasetPath,
  type BackendName,
  type RunConfig,
} from '../shared/config';
import { Rng } from '../shared/rng';
import { loadDataset, DataError } from './data';
import { selectEngine, tfjs } from './backend';
import { traceWithTorch } from './torch/trace';
import { installPatches, loadModel, fisherTrace } from '../core';

export interface TraceOptions {
  checkpoint: string;
  data: string;
  count: number;
  labels: 'given' | 'sampled';
  seed: number;
  backend?: BackendName;
  /** The Python interpreter for the torch backends (`--python`). */
  python?: string;
}

export interface TraceResult {
  checkpoint: string;
  data: string;
  split: 'train' | 'test';
  labels: 'given' | 'sampled';
  backend: string;
  count: number;
  seed: number;
  /** Indices of the examples into the split (as loaded, whole), in the order of the arrays below. */
  indices: number[];
  /** Per-example squared gradient norms ||∇θ ℓ(x_i, y_i)||², y_i = `perExampleLabels[i]`. */
  perExample: number[];
  /** The label each norm was taken at: ŷ_i sampled from the model (`sampled`), or the data's label (`given`). */
  perExampleLabels: number[];
  /** The data's labels of the examples. */
  givenLabels: number[];
  /** Seed of the label sampling (`fisherTrace`'s seed; null for `given`); see README "Recomputing Tr(F)". */
  labelSeed: number | null;
  mean: number;
  stderr: number;
}

/** Parse `--data`: `name[:path][@split]` ({@link parseDatasetSpec}), e.g. `mnist`, `idx:/data/fashion@test`. */
export function parseDataSpec(spec: string): {
  dataset: RunConfig['dataset'];
  split: 'train' | 'test';
} {
  const d = parseDatasetSpec(spec);
  if (!d)
    throw new DataError(
      `--data: got "${spec}"; expected NAME[:PATH][@train|@test] with NAME one of ${DATASETS.join(', ')}`,
    );
  // No sizes: the whole split is loaded, and `--count` examples are drawn from it.
  const dataset = { name: d.name, ...(d.path ? { path: d.path } : {}) } as RunConfig['dataset'];
  return { dataset, split: d.split ?? 'train' };
}

const cut = (v: string) =>
  v.length > 60 ? `${JSON.stringify(v.slice(0, 59))}…` : JSON.stringify(v);
const codeOf = (e: unknown) => (e as NodeJS.ErrnoException).code ?? (e as Error).message;

/**
 * Check the arguments of `trace` before any work (backend, model, data): `--checkpoint` is a folder with a
 * fisher-lens params.json and a params.bin, `--data` parses and its folder exists, `--count` and `--seed` are safe
 * integers. Throws a {@link DataError} whose message starts with the argument's name (the CLI exits 2).
 */
export function checkTraceOptions(opts: TraceOptions): {
  dataset: RunConfig['dataset'];
  split: 'train' | 'test';
} {
  if (!Number.isSafeInteger(opts.count) || opts.count < 1)
    throw new DataError(`--count: got ${opts.count}; expected a positive integer`);
  if (!Number.isSafeInteger(opts.seed) || opts.seed < 0)
    throw new DataError(
      `--seed: got ${opts.seed}; expected an integer from 0 to ${Number.MAX_SAFE_INTEGER}`,
    );
  const dir = opts.checkpoint;
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch (e) {
    throw new DataError(
      `--checkpoint: ${cut(dir)} ${codeOf(e) === 'ENOENT' ? 'does not exist' : `cannot be read (${codeOf(e)})`}; expected a checkpoint folder (params.json + params.bin), e.g. <run>/checkpoint`,
    );
  }
  if (!st.isDirectory())
    throw new DataError(
      `--checkpoint: ${cut(dir)} is not a folder; expected a checkpoint folder (params.json + params.bin), e.g. <run>/checkpoint`,
    );
  for (const f of ['params.json', 'params.bin']) {
    let fst: fs.Stats | undefined;
    try {
      fst = fs.statSync(path.join(dir, f));
    } catch {
      /* reported below */
    }
    if (!fst?.isFile())
      throw new DataError(
        `--checkpoint: ${cut(dir)} has no ${f}${fst ? ' file' : ''}; expected a checkpoint folder (params.json + params.bin), e.g. <run>/checkpoint`,
      );
    if (f === 'params.json' && fst.size > 16 << 20)
      throw new DataError(
        `--checkpoint: ${cut(path.join(dir, f))} is ${fst.size} bytes; not a fisher-lens checkpoint`,
      );
  }
  let meta: { format?: unknown; version?: unknown } | null;
  try {
    meta = JSON.parse(fs.readFileSync(path.join(dir, 'params.json'), 'utf8')) as {
      format?: unknown;
      version?: unknown;
    } | null;
  } catch (e) {
    throw new DataError(
      `--checkpoint: ${cut(path.join(dir, 'params.json'))} is not readable JSON (${e instanceof SyntaxError ? 'syntax error' : codeOf(e)})`,
    );
  }
  if (!meta || meta.format !== 'fisher-lens-params' || meta.version !== 1) {
    throw new DataError(
      `--checkpoint: ${cut(path.join(dir, 'params.json'))} is not a fisher-lens checkpoint (expected "format": "fisher-lens-params", "version": 1)`,
    );
  }
  const spec = parseDataSpec(opts.data);
  if (spec.dataset.path !== undefined) {
    let dst: fs.Stats | undefined;
    try {
      dst = fs.statSync(resolveDatasetPath(spec.dataset.path, process.cwd()));
    } catch {
      /* reported below */
    }
    if (!dst?.isDirectory())
      throw new DataError(
        `--data: ${cut(spec.dataset.path)} ${dst ? 'is not a folder' : 'does not exist'}; expected a folder with the dataset files`,
      );
  }
  return spec;
}

export async function traceCheckpoint(opts: TraceOptions): Promise<TraceResult> {
  const { dataset, split } = checkTraceOptions(opts);
  const engine = await selectEngine(opts.backend ?? 'auto', { python: opts.python });
  if (engine.engine === 'torch') {
    const r = traceWithTorch(engine.choice, opts, dataset, split);
    return {
      checkpoint: opts.checkpoint,
      data: opts.data,
      split,
      labels: opts.labels,
      backend: engine.choice.backend,
      count: opts.count,
      seed: opts.seed,
      ...r,
      labelSeed: opts.labels === 'sampled' ? opts.seed : null,
    };
  }
  const choice = engine.choice;
  installPatches(choice.engineName);
  const tf = tfjs();
  let model: ReturnType<typeof loadModel>;
  try {
    model = loadModel(opts.checkpoint);
  } catch (e) {
    throw new DataError(
      `--checkpoint: ${cut(opts.checkpoint)}: cannot load the model (${String(
        (e as Error)?.message ?? e,
      )
        .split('\n')[0]
        .slice(0, 300)})`,
    );
  }
  let data: ReturnType<typeof loadDataset>;
  try {
    data = loadDataset(dataset, { seed: opts.seed, baseDir: process.cwd() });
  } catch (e) {
    model.dispose();
    if ((e as Error)?.name === 'DataError' && !/^--data/.test((e as Error).message))
      throw new DataError(`--data: ${(e as Error).message}`);
    throw e;
  }
  const part = split === 'train' ? data.train : data.test;
  if (opts.count > part.n)
    throw new DataError(`--count: got ${opts.count}; the ${split} split has ${part.n} examples`);
  const [h, w, c] = data.inputShape;
  const want = model.inputShape;
  if (want && (want[0] !== h || want[1] !== w || want[2] !== c)) {
    throw new DataError(
      `--data: examples are ${h}×${w}×${c} but the checkpoint expects ${want.join('×')}`,
    );
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
  const r = await fisherTrace(
    model,
    xt,
    opts.labels === 'given' ? { mode: 'given', labels: y } : { mode: 'sampled', seed: opts.seed },
  );
  xt.dispose();
  model.dispose();
  return {
    checkpoint: opts.checkpoint,
    data: opts.data,
    split,
    labels: opts.labels,
    backend: choice.backend,
    count: opts.count,
    seed: opts.seed,
    indices: Array.from(idx),
    perExample: Array.from(r.perExample),
    perExampleLabels: Array.from(r.labels ?? y),
    givenLabels: Array.from(y),
    labelSeed: opts.labels === 'sampled' ? opts.seed : null,
    mean: r.trace,
    stderr: r.stderr,
  };
}
