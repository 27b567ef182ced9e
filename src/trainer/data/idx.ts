/**
 * IDX files (MNIST, Fashion-MNIST, KMNIST): `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
 * `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, also gzipped (`.gz`) and with dots
 * (`train-images.idx3-ubyte`). Header: two zero bytes, a type byte (0x08 = unsigned byte, the only one
 * image datasets use), the number of dimensions, then each dimension as a big-endian uint32.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DataError, readMaybeGz, type RawSplit } from './common';

export interface IdxArray {
  dims: number[];
  /** The data bytes (a view into the file buffer). */
  data: Uint8Array;
}

const TYPE_NAMES: Record<number, string> = {
  0x08: 'ubyte',
  0x09: 'byte',
  0x0b: 'short',
  0x0c: 'int',
  0x0d: 'float',
  0x0e: 'double',
};

/** Parse an IDX buffer of unsigned bytes; `expectDims` lists the accepted numbers of dimensions. */
export function parseIdx(
  buf: Uint8Array,
  file: string,
  expectDims: number[],
  what: string,
): IdxArray {
  const want = expectDims.map((d) => `0x000008${d.toString(16).padStart(2, '0')}`).join(' or ');
  if (buf.length < 4)
    throw new DataError(
      `not an IDX file: ${buf.length} bytes, too short for a header (expected ${what}, magic ${want})`,
      file,
    );
  const magic = ((buf[0] << 24) | (buf[1] << 16) | (buf[2] << 8) | buf[3]) >>> 0;
  const magicHex = `0x${magic.toString(16).padStart(8, '0')}`;
  if (buf[0] !== 0 || buf[1] !== 0 || !(buf[2] in TYPE_NAMES)) {
    throw new DataError(
      `not an IDX file: magic number ${magicHex}, expected ${want} (${what})`,
      file,
    );
  }
  if (buf[2] !== 0x08)
    throw new DataError(
      `IDX element type ${TYPE_NAMES[buf[2]]} (magic ${magicHex}) is not supported; expected unsigned bytes, magic ${want} (${what})`,
      file,
    );
  const nd = buf[3];
  if (!expectDims.includes(nd))
    throw new DataError(
      `IDX file has ${nd} dimension(s) (magic ${magicHex}); expected ${want} (${what})`,
      file,
    );
  const headerLen = 4 + 4 * nd;
  if (buf.length < headerLen)
    throw new DataError(
      `truncated IDX header: ${buf.length} bytes, expected at least ${headerLen}`,
      file,
    );
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < nd; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const count = dims.reduce((a, b) => a * b, 1);
  const have = buf.length - headerLen;
  if (have < count)
    throw new DataError(
      `truncated: the header promises ${dims.join('×')} = ${count} data bytes, found ${have}`,
      file,
    );
  if (have > count)
    throw new DataError(
      `${have - count} unexpected bytes after the ${dims.join('×')} data the header describes (corrupt file?)`,
      file,
    );
  return { dims, data: buf.subarray(headerLen, headerLen + count) };
}

/** Find the file of one split/kind in a folder, accepting the usual name variants and `.gz`. */
export function findIdxFile(
  dir: string,
  split: 'train' | 'test',
  kind: 'images' | 'labels',
): string {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (e) {
    throw new DataError(
      `cannot read the IDX folder: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      dir,
    );
  }
  const prefix = split === 'train' ? 'train' : '(?:t10k|test)';
  const dims = kind === 'images' ? '[34]' : '1';
  const re = new RegExp(`^${prefix}[-_.]${kind}[-_.]idx${dims}[-_.]ubyte(\\.gz)?$`, 'i');
  const hits = names
    .filter((n) => re.test(n))
    .sort((a, b) => Number(a.endsWith('.gz')) - Number(b.endsWith('.gz')) || a.localeCompare(b));
  if (!hits.length) {
    const base = `${split === 'train' ? 'train' : 't10k'}-${kind}-idx${kind === 'images' ? 3 : 1}-ubyte`;
    throw new DataError(
      `no ${split === 'train' ? 'training' : 'test'} ${kind} file: expected ${base} (or ${base}.gz, or the dotted name ${base.replace(`-${kind}-`, `-${kind}.`)})`,
      dir,
    );
  }
  return path.join(dir, hits[0]);
}

/** Read one split (images + labels) of an IDX folder. */
export function readIdxSplit(
  dir: string,
  split: 'train' | 'test',
): RawSplit & { files: [string, string] } {
  const imgFile = findIdxFile(dir, split, 'images');
  const labFile = findIdxFile(dir, split, 'labels');
  const img = parseIdx(
    readMaybeGz(imgFile),
    imgFile,
    [3, 4],
    'images: magic 0x00000803 = n×h×w or 0x00000804 = n×h×w×c',
  );
  const lab = parseIdx(readMaybeGz(labFile), labFile, [1], 'labels: magic 0x00000801');
  const [n, h, w, c = 1] = img.dims;
  if (n === 0 || h === 0 || w === 0 || c === 0)
    throw new DataError(`empty image array ${img.dims.join('×')}`, imgFile);
  if (lab.dims[0] !== n)
    throw new DataError(
      `${lab.dims[0]} labels but ${n} images in ${path.basename(imgFile)}`,
      labFile,
    );
  return {
    images: img.data,
    labels: Int32Array.from(lab.data),
    n,
    shape: [h, w, c],
    chw: false,
    files: [imgFile, labFile],
  };
}
