// Models as pure functions of an explicit parameter list (NHWC), written with plain tfjs ops so
// that (a) every layer's input a and pre-activation z are reachable — per-example gradient norms
// need both — and (b) every op on the double-backprop path is one whose second-order gradient is
// known to be right (see backend.ts). No tf.layers, no BatchNorm: nothing couples the examples of a
// batch, which is what makes the one-backward-pass per-example norms exact.
import * as tf from '@tensorflow/tfjs';
import { Rng, deriveSeed } from '../shared/rng';

export type Arch = 'mlp' | 'simplecnn' | 'vgg11' | 'resnet';
export type Activation = 'relu' | 'tanh';

/** Architecture as the run config gives it. */
export interface ModelSpec {
  arch: Arch;
  /** Channel / unit multiplier (default 1); counts are rounded, at least 1. */
  width: number;
  /**
   * MLP only: hidden layer sizes before `width` scaling (default [512, 512]; [] = softmax
   * regression).
   */
  hidden?: number[];
  /** Hidden-layer non-linearity (default 'relu'). */
  activation?: Activation;
}

/** Input shape of one example, [height, width, channels]. */
export type InputShape = [number, number, number];

/**
 * One parametrised layer (linear map + bias). Layers are listed in forward order; taps use the same
 * order.
 */
export interface LayerInfo {
  name: string;
  /** 'dense': kernel [in, out]; 'conv': stride-1 'valid' conv, kernel [kh, kw, in, out]. */
  kind: 'dense' | 'conv';
  /** Index of the kernel in `params`. */
  weight: number;
  /** Index of the bias [out] in `params`. */
  bias: number;
}

/**
 * Instrumentation for one forward pass (used by the per-example maths).
 * - `add[l]`: a tensor added to layer l's pre-activation z_l (shape `tapShapes(B)[l]`); zeros leave
 *   the function unchanged, and ∂(Σ_i ℓ_i)/∂add[l] is then each example's δ_i = ∂ℓ_i/∂z_{l,i}.
 * - `inputs`: if given, filled with each layer's input a_l — for conv layers the already padded
 *   tensor the 'valid' conv sees. Entries are `tf.keep`-ed so they survive `tf.grads`; release them
 *   with `releaseInputs`.
 */
export interface Taps {
  add?: tf.Tensor[];
  inputs?: tf.Tensor[];
}

export interface Model {
  readonly spec: Required<ModelSpec>;
  readonly inputShape: InputShape;
  readonly numClasses: number;
  /** Trainable parameters in a fixed order (kernel, bias per layer, forward order). */
  readonly params: tf.Variable[];
  /** Names parallel to `params`, e.g. 'conv2/kernel', 'stage2.block1.proj/bias'. */
  readonly paramNames: string[];
  readonly paramCount: number;
  readonly layers: LayerInfo[];
  /**
   * Output channels / units of each layer in `layers` order, as built (after `width` scaling and
   * rounding); the last is numClasses. Checkpoints record it (params.json spec.layerWidths).
   */
  readonly layerWidths: number[];
  /** Logits [B, numClasses] of x [B, h, w, c] with the model's own parameters. */
  forward(x: tf.Tensor4D, taps?: Taps): tf.Tensor2D;
  /**
   * Same function with other parameter tensors (same order and shapes as `params`): for tf.grads.
   */
  apply(params: readonly tf.Tensor[], x: tf.Tensor4D, taps?: Taps): tf.Tensor2D;
  /** Shapes of the layers' pre-activations (= tap shapes) for a batch of `batch`. */
  tapShapes(batch: number): number[][];
  dispose(): void;
}

/** Fills in defaults ({width: 1, hidden: [512, 512], activation: 'relu'}) and checks the spec. */
export function normalizeSpec(spec: ModelSpec): Required<ModelSpec> {
  const width = spec.width ?? 1;
  if (!(width > 0) || !Number.isFinite(width))
    throw new Error(`model width must be > 0, got ${spec.width}`);
  if (!['mlp', 'simplecnn', 'vgg11', 'resnet'].includes(spec.arch))
    throw new Error(`unknown arch '${spec.arch}'`);
  const activation = spec.activation ?? 'relu';
  if (activation !== 'relu' && activation !== 'tanh')
    throw new Error(`unknown activation '${activation}'`);
  const hidden = spec.hidden ?? [512, 512];
  if (!hidden.every((h) => Number.isInteger(h) && h > 0))
    throw new Error('mlp hidden sizes must be positive integers');
  return { arch: spec.arch, width, hidden: [...hidden], activation };
}

/**
 * Residual branches' last conv starts at this fraction of its He scale, so a fresh ResNet ≈ its
 * shortcuts.
 */
export const RESIDUAL_INIT_SCALE = 0.2;

/**
 * Builds a model with seeded initialisation: kernels He-normal (std √(2/fan_in); LeCun √(1/fan_in)
 * for tanh), biases zero. The same (spec, inputShape, numClasses, seed) gives bit-identical
 * parameters.
 *
 * Architectures (all convs 3×3 stride 1 unless noted; 'same' = explicit zero pad + 'valid' conv):
 * - mlp: flatten (NHWC order) → dense(hidden_k·width) + act … → dense(numClasses).
 * - simplecnn: the paper's (Keras cifar10_cnn, last FC 128, no dropout/BN), Keras's padding:
 *   conv32 'same', conv32 'valid', maxpool2, conv64 'same', conv64 'valid', maxpool2, fc128,
 *   fc(classes). 28×28 → 28 → 26 → 13 → 13 → 11 → 5 (flatten 1600); needs inputs ≥ 12×12.
 * - vgg11: 64, M, 128, M, 256, 256, M, 512, 512, M, 512, 512, M ('same' convs), a pool is skipped
 *   where the map is already 1 pixel; flatten → fc(classes). No BN.
 * - resnet (BN-free, 8 layers): stem conv16; 3 stages (16, 32, 64 channels) of one residual block
 *   act(conv(act(conv(h))) + s(h)), s = identity or a 1×1 projection conv where channels change;
 *   stages 2–3 first downsample by 2×2 average pooling; global average pool → fc(classes).
 * Channel and unit counts are multiplied by `width` (rounded, at least 1; `layerWidths` has the
 * result). Pooling is 2×2/2 in floor mode (odd edges dropped); its gradient is the second-order-safe
 * one from installPatches (call it before differentiating), which sends a max-pool window's
 * gradient to its first maximum in row-major order, as PyTorch. README "Models" documents all this
 * for readers rebuilding a model; keep the two in step.
 */
export function createModel(
  spec: ModelSpec,
  inputShape: InputShape,
  numClasses: number,
  seed: number,
): Model {
  return buildModel(normalizeSpec(spec), inputShape, numClasses, seed, undefined);
}

/**
 * Like createModel but with given parameter values (float32, `params` order) — used by checkpoints.
 */
export function createModelFromValues(
  spec: ModelSpec,
  inputShape: InputShape,
  numClasses: number,
  values: Float32Array[],
): Model {
  return buildModel(normalizeSpec(spec), inputShape, numClasses, 0, values);
}

/**
 * Disposes the layer inputs that `Taps.inputs` recorded (except `x` itself, which the caller owns).
 */
export function releaseInputs(taps: Taps, x: tf.Tensor): void {
  for (const t of taps.inputs ?? []) if (t && t !== x && !t.isDisposed) t.dispose();
  if (taps.inputs) taps.inputs.length = 0;
}

// -------------------------------------------------------------------------------------------------

/** Per-call state of a forward pass: parameters plus optional instrumentation. */
interface Ctx {
  /** The model input: recorded as a layer input as-is, never tf.keep-ed (the caller owns it). */
  x: tf.Tensor;
  p: readonly tf.Tensor[];
  layers: LayerInfo[];
  taps?: Taps;
  shapes?: number[][];
  act: (z: tf.Tensor) => tf.Tensor;
}

function linearOut<T extends tf.Tensor>(ctx: Ctx, li: number, a: tf.Tensor, z: T): T {
  if (ctx.shapes) ctx.shapes[li] = z.shape.slice();
  if (ctx.taps?.inputs) ctx.taps.inputs[li] = a === ctx.x ? a : tf.keep(a);
  const t = ctx.taps?.add?.[li];
  return (t ? tf.add(z, t) : z) as T;
}

/** Dense layer: z = h·W + b, h [B, in] → z [B, out]. */
function dense(ctx: Ctx, li: number, h: tf.Tensor2D): tf.Tensor2D {
  const L = ctx.layers[li];
  const z = tf.add(tf.matMul(h, ctx.p[L.weight] as tf.Tensor2D), ctx.p[L.bias]) as tf.Tensor2D;
  return linearOut(ctx, li, h, z);
}

/**
 * Conv layer, stride 1: h [B,H,W,C] → z [B,H',W',Co]; 'same' pads (k−1)/2 explicitly so the conv is
 * 'valid'.
 */
function conv(ctx: Ctx, li: number, h: tf.Tensor4D, padding: 'same' | 'valid'): tf.Tensor4D {
  const L = ctx.layers[li];
  const K = ctx.p[L.weight] as tf.Tensor4D;
  const [kh, kw] = K.shape;
  const a =
    padding === 'same' && (kh > 1 || kw > 1)
      ? tf.pad(h, [
          [0, 0],
          [(kh - 1) >> 1, kh >> 1],
          [(kw - 1) >> 1, kw >> 1],
          [0, 0],
        ])
      : h;
  const z = tf.add(tf.conv2d(a, K, 1, 'valid'), ctx.p[L.bias]) as tf.Tensor4D;
  return linearOut(ctx, li, a, z);
}

/**
 * 2×2/2 pooling, floor mode ([B,H,W,C] → [B,⌊H/2⌋,⌊W/2⌋,C]). tf.maxPool / tf.avgPool forward (fast
 * XNNPACK kernels on wasm) with the second-order-safe gradients that installPatches registers.
 */
function maxPool2(h: tf.Tensor4D): tf.Tensor4D {
  return pool2(h, 'max');
}
function pool2(h: tf.Tensor4D, kind: 'max' | 'avg'): tf.Tensor4D {
  return kind === 'max' ? tf.maxPool(h, 2, 2, 'valid') : tf.avgPool(h, 2, 2, 'valid');
}

function flatten(h: tf.Tensor): tf.Tensor2D {
  return tf.reshape(h, [h.shape[0], -1]);
}

class Builder {
  readonly values: Float32Array[] = [];
  readonly shapes: number[][] = [];
  readonly names: string[] = [];
  readonly layers: LayerInfo[] = [];
  constructor(
    private readonly seed: number,
    private readonly activation: Activation,
  ) {}

  private param(name: string, shape: number[], std: number): number {
    const n = shape.reduce((a, b) => a * b, 1);
    const idx = this.values.length;
    // One stream per parameter (seed, index), so adding a layer never shifts the others' values.
    this.values.push(
      std === 0 ? new Float32Array(n) : new Rng(deriveSeed(this.seed, idx)).normalArray(n, std),
    );
    this.shapes.push(shape);
    this.names.push(name);
    return idx;
  }
  private std(fanIn: number, scale: number): number {
    return scale * Math.sqrt((this.activation === 'tanh' ? 1 : 2) / fanIn);
  }
  dense(name: string, nIn: number, nOut: number, scale = 1): number {
    const weight = this.param(`${name}/kernel`, [nIn, nOut], this.std(nIn, scale));
    const bias = this.param(`${name}/bias`, [nOut], 0);
    this.layers.push({ name, kind: 'dense', weight, bias });
    return this.layers.length - 1;
  }
  conv(name: string, k: number, cIn: number, cOut: number, scale = 1): number {
    const weight = this.param(`${name}/kernel`, [k, k, cIn, cOut], this.std(k * k * cIn, scale));
    const bias = this.param(`${name}/bias`, [cOut], 0);
    this.layers.push({ name, kind: 'conv', weight, bias });
    return this.layers.length - 1;
  }
}

type ForwardFn = (ctx: Ctx, x: tf.Tensor4D) => tf.Tensor2D;

function buildModel(
  spec: Required<ModelSpec>,
  inputShape: InputShape,
  numClasses: number,
  seed: number,
  values: Float32Array[] | undefined,
): Model {
  const [H, W, C] = inputShape;
  if (![H, W, C].every((d) => Number.isInteger(d) && d > 0))
    throw new Error(`bad input shape ${inputShape}`);
  if (!(Number.isInteger(numClasses) && numClasses >= 2))
    throw new Error(`numClasses must be ≥ 2, got ${numClasses}`);
  const ch = (c: number) => Math.max(1, Math.round(c * spec.width));
  const b = new Builder(seed, spec.activation);
  let fwd: ForwardFn;

  switch (spec.arch) {
    case 'mlp': {
      const sizes = [H * W * C, ...spec.hidden.map(ch)];
      const ids = sizes.slice(1).map((n, i) => b.dense(`dense${i + 1}`, sizes[i], n));
      const out = b.dense('out', sizes[sizes.length - 1], numClasses);
      fwd = (ctx, x) => {
        let h = flatten(x);
        for (const li of ids) h = ctx.act(dense(ctx, li, h)) as tf.Tensor2D;
        return dense(ctx, out, h);
      };
      break;
    }
    case 'simplecnn': {
      const [c1, c2, f] = [ch(32), ch(64), ch(128)];
      const hs = (((H - 2) >> 1) - 2) >> 1;
      const ws = (((W - 2) >> 1) - 2) >> 1;
      if (hs < 1 || ws < 1)
        throw new Error(`simplecnn needs inputs of at least 12×12, got ${H}×${W}`);
      const l1 = b.conv('conv1', 3, C, c1);
      const l2 = b.conv('conv2', 3, c1, c1);
      const l3 = b.conv('conv3', 3, c1, c2);
      const l4 = b.conv('conv4', 3, c2, c2);
      const l5 = b.dense('fc1', hs * ws * c2, f);
      const l6 = b.dense('fc2', f, numClasses);
      fwd = (ctx, x) => {
        let h = ctx.act(conv(ctx, l1, x, 'same')) as tf.Tensor4D;
        h = maxPool2(ctx.act(conv(ctx, l2, h, 'valid')) as tf.Tensor4D);
        h = ctx.act(conv(ctx, l3, h, 'same')) as tf.Tensor4D;
        h = maxPool2(ctx.act(conv(ctx, l4, h, 'valid')) as tf.Tensor4D);
        const g = ctx.act(dense(ctx, l5, flatten(h))) as tf.Tensor2D;
        return dense(ctx, l6, g);
      };
      break;
    }
    case 'vgg11': {
      const cfg: (number | 'M')[] = [
        64,
        'M',
        128,
        'M',
        256,
        256,
        'M',
        512,
        512,
        'M',
        512,
        512,
        'M',
      ];
      const plan: ({ pool: true } | { pool: false; li: number })[] = [];
      let [h, w, c] = [H, W, C];
      let k = 0;
      for (const item of cfg) {
        if (item === 'M') {
          if (h >= 2 && w >= 2) {
            plan.push({ pool: true });
            h >>= 1;
            w >>= 1;
          }
        } else {
          const co = ch(item);
          plan.push({ pool: false, li: b.conv(`conv${++k}`, 3, c, co) });
          c = co;
        }
      }
      const fc = b.dense('fc', h * w * c, numClasses);
      fwd = (ctx, x) => {
        let t: tf.Tensor4D = x;
        for (const s of plan)
          t = s.pool ? maxPool2(t) : (ctx.act(conv(ctx, s.li, t, 'same')) as tf.Tensor4D);
        return dense(ctx, fc, flatten(t));
      };
      break;
    }
    case 'resnet': {
      const widths = [ch(16), ch(32), ch(64)];
      const stem = b.conv('stem', 3, C, widths[0]);
      let c = widths[0];
      let [h, w] = [H, W];
      const blocks = widths.map((co, s) => {
        const down = s > 0 && h >= 2 && w >= 2;
        if (down) [h, w] = [h >> 1, w >> 1];
        const name = `stage${s + 1}.block1`;
        const c1 = b.conv(`${name}.conv1`, 3, c, co);
        const c2 = b.conv(`${name}.conv2`, 3, co, co, RESIDUAL_INIT_SCALE);
        const proj = co !== c ? b.conv(`${name}.proj`, 1, c, co) : -1;
        c = co;
        return { down, c1, c2, proj };
      });
      const fc = b.dense('fc', c, numClasses);
      fwd = (ctx, x) => {
        let t = ctx.act(conv(ctx, stem, x, 'same')) as tf.Tensor4D;
        for (const blk of blocks) {
          if (blk.down) t = pool2(t, 'avg');
          const r = conv(ctx, blk.c2, ctx.act(conv(ctx, blk.c1, t, 'same')) as tf.Tensor4D, 'same');
          const s = blk.proj >= 0 ? conv(ctx, blk.proj, t, 'valid') : t;
          t = ctx.act(tf.add(r, s)) as tf.Tensor4D;
        }
        return dense(ctx, fc, tf.mean(t, [1, 2]) as tf.Tensor2D);
      };
      break;
    }
  }

  if (values) {
    if (values.length !== b.values.length)
      throw new Error(`expected ${b.values.length} parameter tensors, got ${values.length}`);
    values.forEach((v, i) => {
      if (v.length !== b.values[i].length)
        throw new Error(
          `parameter ${b.names[i]}: expected ${b.values[i].length} values, got ${v.length}`,
        );
    });
  }
  const init = values ?? b.values;
  // No names on tf.variable: tfjs names are process-global and would clash between two models.
  const params = init.map((v, i) => {
    const t = tf.tensor(v, b.shapes[i], 'float32');
    // shares t's data; t itself would stay counted until disposed
    const variable = tf.variable(t, true);
    t.dispose();
    return variable;
  });
  const act =
    spec.activation === 'tanh' ? (z: tf.Tensor) => tf.tanh(z) : (z: tf.Tensor) => tf.relu(z);
  const layers = b.layers;

  const apply = (p: readonly tf.Tensor[], x: tf.Tensor4D, taps?: Taps): tf.Tensor2D => {
    if (p.length !== params.length)
      throw new Error(`apply: expected ${params.length} parameter tensors, got ${p.length}`);
    if (x.rank !== 4 || x.shape[1] !== H || x.shape[2] !== W || x.shape[3] !== C) {
      throw new Error(`model expects x [B,${H},${W},${C}], got [${x.shape}]`);
    }
    if (taps?.add && taps.add.length !== layers.length)
      throw new Error(`expected ${layers.length} taps, got ${taps.add.length}`);
    return fwd({ x, p, layers, taps, act }, x);
  };

  // Pre-activation shapes from one dry run at batch 1 (cheap, and cannot drift from fwd).
  const shapes1: number[][] = [];
  tf.tidy(() => {
    const x1 = tf.zeros([1, H, W, C]) as tf.Tensor4D;
    fwd({ x: x1, p: params, layers, shapes: shapes1, act }, x1);
  });

  return {
    spec,
    inputShape: [H, W, C],
    numClasses,
    params,
    paramNames: b.names,
    paramCount: params.reduce((s, v) => s + v.size, 0),
    layers,
    layerWidths: layers.map((L) => b.shapes[L.weight][b.shapes[L.weight].length - 1]),
    forward: (x, taps) => apply(params, x, taps),
    apply,
    tapShapes: (batch) => shapes1.map((s) => [batch, ...s.slice(1)]),
    dispose: () => params.forEach((v) => v.dispose()),
  };
}
