/**
 * Shared pieces of the dataset loaders: the in-memory format, the error type, file reading (gzip
 * transparent) and the uint8 → float32 conversion with subset selection.
 *
 * Format handed to the trainer: images NHWC float32 in [0, 1] (pixel byte / 255), labels Int32Array.
 * With `standardize`, each channel is shifted and scaled by the mean and standard deviation of the
 * *training subset* (the same numbers are applied to the test set), as is usual for CIFAR.
 */
import fs from 'node:fs';
import zlib from 'node:zlib';
import { Rng } from '../../shared/rng';

/** One split as handed to the trainer. */
export interface Split {
  /** Images, NHWC, float32: `x[((i * h + r) * w + c) * ch + k]`. */
  x: Float32Array;
  /** Labels in [0, numClasses). */
  y: Int32Array;
  /** Number of examples. */
  n: number;
  /** Position of each example in the source split (which examples the subset took). */
  indices: Int32Array;
}

export interface Dataset {
  name: string;
  /** Where the data came from (folder or package), for the run header and error messages. */
  source: string;
  train: Split;
  test: Split;
  /** [height, width, channels]. */
  inputShape: [number, number, number];
  numClasses: number;
  classNames?: string[];
  /** Examples available before subsetting. */
  available: { train: number; test: number };
  /** `unit`: pixel / 255; `standardized`: per-channel (pixel/255 − mean) / std of the training subset. */
  normalization: 'unit' | 'standardized';
  channelMean?: number[];
  channelStd?: number[];
}

/** A dataset file problem; the message names the file and what was expected. */
export class DataError extends Error {
  constructor(
    message: string,
    readonly file?: string,
  ) {
    super(file ? `${file}: ${message}` : message);
    this.name = 'DataError';
  }
}

/** A split still in bytes: `n` images of `d = h·w·c` bytes each, CHW (CIFAR) or HWC (IDX) order. */
export interface RawSplit {
  images: Uint8Array;
  labels: Int32Array;
  n: number;
  shape: [number, number, number];
  chw: boolean;
}

/** Read a data file; an I/O error is a {@link DataError} naming the file. */
export function readDataFile(file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw new DataError(
      `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      file,
    );
  }
}

/** Read a file, gunzipping it when it starts with the gzip magic bytes. */
export function readMaybeGz(file: string): Buffer {
  const buf = readDataFile(file);
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      return zlib.gunzipSync(buf);
    } catch (e) {
      throw new DataError(`gzip data is corrupt or truncated (${(e as Error).message})`, file);
    }
  }
  return buf;
}

/**
 * Indices of a fixed seeded subset: all of them in order when `size` equals what is available, otherwise
 * `size` sorted indices drawn without replacement. `field` names the config field in the error.
 */
export function pickSubset(
  available: number,
  size: number | undefined,
  field: string,
  rng: Rng,
  what: string,
): Int32Array {
  const k = size ?? available;
  if (!Number.isInteger(k) || k < 1)
    throw new DataError(`${field}: got ${k}; expected a positive integer`);
  if (k > available)
    throw new DataError(`${field}: got ${k}; only ${available} examples available in ${what}`);
  if (k === available) return Int32Array.from({ length: k }, (_, i) => i);
  return rng.sample(k, available);
}

/** Gather `indices` of a raw split into a float split (NHWC, /255). */
export function gather(raw: RawSplit, indices: Int32Array): Split {
  const [h, w, c] = raw.shape;
  const d = h * w * c;
  const k = indices.length;
  const x = new Float32Array(k * d);
  const y = new Int32Array(k);
  const hw = h * w;
  for (let j = 0; j < k; j++) {
    const i = indices[j];
    y[j] = raw.labels[i];
    const src = i * d;
    const dst = j * d;
    if (!raw.chw || c === 1) {
      for (let p = 0; p < d; p++) x[dst + p] = raw.images[src + p] / 255;
    } else {
      for (let ch = 0; ch < c; ch++) {
        const plane = src + ch * hw;
        for (let p = 0; p < hw; p++) x[dst + p * c + ch] = raw.images[plane + p] / 255;
      }
    }
  }
  return { x, y, n: k, indices };
}

/** Per-channel mean/std of a NHWC float array. */
export function channelStats(x: Float32Array, channels: number): { mean: number[]; std: number[] } {
  const sum = new Float64Array(channels);
  const sq = new Float64Array(channels);
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    sum[i % channels] += v;
    sq[i % channels] += v * v;
  }
  const count = x.length / channels;
  const mean = Array.from(sum, (s) => s / count);
  const std = Array.from(sq, (s, k) => Math.sqrt(Math.max(s / count - mean[k] * mean[k], 0)) || 1);
  return { mean, std };
}

/** In place: (x − mean[k]) / std[k] per channel k. */
export function standardizeInPlace(x: Float32Array, mean: number[], std: number[]): void {
  const c = mean.length;
  for (let i = 0; i < x.length; i++) x[i] = (x[i] - mean[i % c]) / std[i % c];
}
