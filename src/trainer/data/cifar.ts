/**
 * CIFAR-10/100, binary version (https://www.cs.toronto.edu/~kriz/cifar.html). Records are fixed size:
 * CIFAR-10 `<label><3072 pixels>` in data_batch_1..5.bin and test_batch.bin; CIFAR-100
 * `<coarse label><fine label><3072 pixels>` in train.bin and test.bin (we use the fine label). Pixels are
 * 32×32 planes R, G, B (CHW); the gather step turns them into NHWC. The folder may be the one holding the
 * .bin files or its parent (`cifar-10-batches-bin/`, `cifar-100-binary/`); `.bin.gz` files also work.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DataError, readMaybeGz, type RawSplit } from './common';

const PIXELS = 32 * 32 * 3;

export const CIFAR10_CLASSES = [
  'airplane',
  'automobile',
  'bird',
  'cat',
  'deer',
  'dog',
  'frog',
  'horse',
  'ship',
  'truck',
];

interface Layout {
  label: string;
  sub: string;
  train: string[];
  test: string[];
  labelBytes: number;
  classes: number;
}

const LAYOUTS: Record<'cifar10' | 'cifar100', Layout> = {
  cifar10: {
    label: 'CIFAR-10',
    sub: 'cifar-10-batches-bin',
    train: [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`),
    test: ['test_batch.bin'],
    labelBytes: 1,
    classes: 10,
  },
  cifar100: {
    label: 'CIFAR-100',
    sub: 'cifar-100-binary',
    train: ['train.bin'],
    test: ['test.bin'],
    labelBytes: 2,
    classes: 100,
  },
};

const exists = (f: string) => fs.existsSync(f) || fs.existsSync(f + '.gz');
const pick = (f: string) => (fs.existsSync(f) ? f : f + '.gz');

/** The folder that holds the .bin files (the given one or its standard sub-folder). */
export function resolveCifarDir(dir: string, which: 'cifar10' | 'cifar100'): string {
  const L = LAYOUTS[which];
  if (!fs.existsSync(dir)) throw new DataError(`${L.label} folder does not exist`, dir);
  if (exists(path.join(dir, L.test[0]))) return dir;
  if (exists(path.join(dir, L.sub, L.test[0]))) return path.join(dir, L.sub);
  throw new DataError(
    `not a ${L.label} binary-version folder: expected ${[...L.train, ...L.test].join(', ')} (here or in ${L.sub}/)`,
    dir,
  );
}

/** Read one split; validates record sizes and label ranges. */
export function readCifarSplit(
  dir: string,
  which: 'cifar10' | 'cifar100',
  split: 'train' | 'test',
): RawSplit & { files: string[] } {
  const L = LAYOUTS[which];
  const rec = L.labelBytes + PIXELS;
  const files = (split === 'train' ? L.train : L.test).map((f) => path.join(dir, f));
  const bufs: { file: string; buf: Buffer }[] = [];
  for (const f of files) {
    if (!exists(f))
      throw new DataError(
        `missing ${L.label} file ${path.basename(f)} (expected ${files.map((x) => path.basename(x)).join(', ')})`,
        dir,
      );
    const file = pick(f);
    const buf = readMaybeGz(file);
    if (buf.length === 0 || buf.length % rec !== 0) {
      const desc =
        L.labelBytes === 1
          ? '1 label byte + 3072 pixel bytes'
          : '1 coarse + 1 fine label byte + 3072 pixel bytes';
      throw new DataError(
        `size ${buf.length} bytes is not a positive multiple of the ${rec}-byte ${L.label} record (${desc}): truncated, or not the binary version`,
        file,
      );
    }
    bufs.push({ file, buf });
  }
  const n = bufs.reduce((a, b) => a + b.buf.length / rec, 0);
  const images = new Uint8Array(n * PIXELS);
  const labels = new Int32Array(n);
  let i = 0;
  for (const { file, buf } of bufs) {
    const m = buf.length / rec;
    for (let r = 0; r < m; r++, i++) {
      const o = r * rec;
      const label = buf[o + L.labelBytes - 1];
      if (label >= L.classes || (L.labelBytes === 2 && buf[o] >= 20)) {
        throw new DataError(
          `record ${r}: label ${label}${L.labelBytes === 2 ? ` (coarse ${buf[o]})` : ''} out of range; expected fine labels < ${L.classes}${L.labelBytes === 2 ? ' and coarse labels < 20' : ''} (not a ${L.label} binary file?)`,
          file,
        );
      }
      labels[i] = label;
      images.set(buf.subarray(o + L.labelBytes, o + rec), i * PIXELS);
    }
  }
  return { images, labels, n, shape: [32, 32, 3], chw: true, files: bufs.map((b) => b.file) };
}

/** Class names from the dataset's meta file when present (batches.meta.txt / fine_label_names.txt). */
export function cifarClassNames(dir: string, which: 'cifar10' | 'cifar100'): string[] | undefined {
  const f = path.join(dir, which === 'cifar10' ? 'batches.meta.txt' : 'fine_label_names.txt');
  try {
    const names = fs
      .readFileSync(f, 'utf8')
      .split(/\r?\n/)
      .map((s) => s.trim())
      .filter(Boolean);
    if (names.length === LAYOUTS[which].classes) return names;
  } catch {
    /* optional file */
  }
  return which === 'cifar10' ? CIFAR10_CLASSES : undefined;
}
