// Parameter checkpoints: two files in one directory.
//
// params.json — {
//   "format": "fisher-lens-params", "version": 1,
//   "spec": CheckpointSpec (the architecture as built, see below), "inputShape": [h, w, c],
//   "numClasses": K,
//   "dtype": "float32", "byteOrder": "little-endian",
//   "layout": "NHWC inputs; dense kernel [in,out]; conv kernel [kh,kw,in,out]; bias [out]",
//   "tensors": [{ "name": "conv1/kernel", "shape": [3,3,1,32], "offset": 0, "length": 288 }, …]
// }   offset/length count float32 values (not bytes), in `params` order.
// params.bin  — all tensors' values concatenated in that order, float32 little-endian, row-major
//               (C order, last axis fastest), nothing else.
// The model is rebuilt from spec/inputShape/numClasses, so a checkpoint is readable without tfjs
// too.
import fs from 'node:fs';
import path from 'node:path';
import { createModelFromValues, type InputShape, type Model, type ModelSpec } from './models';

/**
 * params.json `spec`: enough to rebuild the model (README "Models"). `hidden` is the configured MLP
 * hidden sizes BEFORE `width` scaling and only present for 'mlp' (checkpoints written before
 * layerWidths existed carry an unused [512, 512] for every arch: ignored, as createModel ignores it).
 * `layerWidths` is what was built: output channels / units per parametrised layer in forward order,
 * the last being numClasses (absent in those older checkpoints).
 */
export interface CheckpointSpec extends ModelSpec {
  activation: NonNullable<ModelSpec['activation']>;
  layerWidths?: number[];
}

export interface ParamsMeta {
  format: 'fisher-lens-params';
  version: 1;
  spec: CheckpointSpec;
  inputShape: InputShape;
  numClasses: number;
  dtype: 'float32';
  byteOrder: 'little-endian';
  layout: string;
  tensors: { name: string; shape: number[]; offset: number; length: number }[];
}

const LAYOUT = 'NHWC inputs; dense kernel [in,out]; conv kernel [kh,kw,in,out]; bias [out]';
const isLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Writes params.json + params.bin for `model` into `dir` (created if missing). */
export async function saveParams(model: Model, dir: string): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  const tensors: ParamsMeta['tensors'] = [];
  const total = model.paramCount;
  const all = new Float32Array(total);
  let off = 0;
  for (let i = 0; i < model.params.length; i++) {
    const p = model.params[i];
    const v = (await p.data()) as Float32Array;
    all.set(v, off);
    tensors.push({
      name: model.paramNames[i],
      shape: p.shape.slice(),
      offset: off,
      length: v.length,
    });
    off += v.length;
  }
  const meta: ParamsMeta = {
    format: 'fisher-lens-params',
    version: 1,
    spec: checkpointSpec(model),
    inputShape: [...model.inputShape],
    numClasses: model.numClasses,
    dtype: 'float32',
    byteOrder: 'little-endian',
    layout: LAYOUT,
    tensors,
  };
  const bytes = Buffer.from(all.buffer, all.byteOffset, all.byteLength);
  if (!isLE) bytes.swap32();
  // Write-then-rename so a reader never sees half a checkpoint.
  const bin = path.join(dir, 'params.bin');
  const json = path.join(dir, 'params.json');
  fs.writeFileSync(bin + '.tmp', bytes);
  fs.writeFileSync(json + '.tmp', JSON.stringify(meta, null, 1) + '\n');
  fs.renameSync(bin + '.tmp', bin);
  fs.renameSync(json + '.tmp', json);
}

/** Reads params.json + params.bin from `dir`: metadata and one Float32Array per tensor. */
export function loadParams(dir: string): { meta: ParamsMeta; values: Float32Array[] } {
  const meta = JSON.parse(fs.readFileSync(path.join(dir, 'params.json'), 'utf8')) as ParamsMeta;
  if (meta.format !== 'fisher-lens-params' || meta.version !== 1 || meta.dtype !== 'float32') {
    throw new Error(`${dir}: not a fisher-lens params v1 float32 checkpoint`);
  }
  const buf = fs.readFileSync(path.join(dir, 'params.bin'));
  const total = meta.tensors.reduce((s, t) => s + t.length, 0);
  if (buf.byteLength !== total * 4)
    throw new Error(`${dir}/params.bin: ${buf.byteLength} bytes, expected ${total * 4}`);
  const copy = Buffer.from(buf); // own aligned buffer
  if (!isLE) copy.swap32();
  const all = new Float32Array(copy.buffer, copy.byteOffset, total);
  const values = meta.tensors.map((t) => {
    if (t.shape.reduce((a, b) => a * b, 1) !== t.length)
      throw new Error(`${t.name}: shape/length mismatch`);
    return all.slice(t.offset, t.offset + t.length);
  });
  return { meta, values };
}

/** The architecture as built, for params.json (see CheckpointSpec). */
export function checkpointSpec(model: Model): CheckpointSpec {
  const { arch, width, activation, hidden } = model.spec;
  return {
    arch,
    width,
    activation,
    ...(arch === 'mlp' ? { hidden: [...hidden] } : {}),
    layerWidths: [...model.layerWidths],
  };
}

/** Rebuilds the model saved in `dir` (spec, input shape, classes and parameter values). */
export function loadModel(dir: string): Model {
  const { meta, values } = loadParams(dir);
  const model = createModelFromValues(meta.spec, meta.inputShape, meta.numClasses, values);
  const mismatch = model.paramNames.findIndex((n, i) => n !== meta.tensors[i]?.name);
  if (mismatch >= 0) {
    model.dispose();
    throw new Error(
      `${dir}: parameter ${mismatch} is '${meta.tensors[mismatch]?.name}', model expects '${model.paramNames[mismatch]}'`,
    );
  }
  const recorded = meta.spec.layerWidths;
  if (recorded && recorded.join() !== model.layerWidths.join()) {
    model.dispose();
    throw new Error(
      `${dir}: spec.layerWidths [${recorded.join(', ')}] but the spec builds [${model.layerWidths.join(', ')}]`,
    );
  }
  return model;
}
