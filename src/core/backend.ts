// Measured fixes to tfjs 4.22 that the Fisher maths relies on (see docs ARCHITECTURE "Fisher maths"
// and "Backends"). Backend *selection* belongs to the trainer; this module only prepares a backend.
//
// Gradient registrations are global in tfjs (one registry for all backends), so the second-order
// fixes and the forward-conv Conv2D gradient apply to every backend once installed. Kernel
// registrations are per backend. Every override falls back to the stock gradient for attributes it
// does not cover.
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

type GradFunc = tf.GradConfig['gradFunc'];
type Attrs = Parameters<GradFunc>[2];

/**
 * Backends that get the explicit-transpose MatMul gradient (wasm: BatchMatMul with transpose flags
 * is 7–20× slower).
 */
const explicitTransposeBackends = new Set<string>();
const kernelPatchedBackends = new Set<string>();
let gradientsInstalled = false;
let wasmReady = false;

/**
 * Points the wasm backend at its .wasm binaries and registers it (importing
 * `@tensorflow/tfjs-backend-wasm` registers the backend; this module imports it). Call before
 * `tf.setBackend('wasm')`. Idempotent. Looks next to the running bundle first (`dist/wasm`, where the
 * production build copies them for the packaged extension, which has no node_modules), then in
 * node_modules (source via tsx, development bundle).
 */
export function setupWasm(): string {
  const candidates = [path.join(__dirname, 'wasm'), path.join(__dirname, '..', 'dist', 'wasm')];
  try {
    const req =
      typeof require === 'function' ? require : createRequire(path.join(process.cwd(), 'index.js'));
    candidates.push(
      path.join(path.dirname(req.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist'),
    );
  } catch {
    /* not installed: the bundle's copy may still be there */
  }
  const dir = candidates.find((d) => fs.existsSync(path.join(d, 'tfjs-backend-wasm-simd.wasm')));
  if (!dir)
    throw new Error(`tfjs-backend-wasm binaries not found (looked in ${candidates.join(', ')})`);
  if (!wasmReady) {
    setWasmPaths(dir + path.sep); // In Node the prefix is a directory; the trailing separator is required.
    wasmReady = true;
  }
  return dir;
}

/**
 * Installs the measured fixes for `backendName` (the backend that will run the maths). Idempotent;
 * safe to call for several backends. What it does:
 * - MatMul (BatchMatMul) gradient with explicit transposes while 'wasm' is the active backend (its
 *   BatchMatMul with transpose flags is 7–20× slower); other backends keep the stock gradient;
 * - Conv2D gradient from forward convs (stride 1, 'valid' padding, NHWC, dilation 1): fast on wasm
 *   (its Conv2DBackpropInput is ~10× slower than a forward conv) and differentiable again, which
 *   the penalties need on every backend (stock Conv2DBackpropFilter has no gradient). Models use an
 *   explicit `tf.pad` + 'valid' conv for 'same' padding so they always hit this path;
 * - a Conv2DBackpropFilter kernel on backends that lack one (wasm);
 * - second-order fixes (tfjs #3252): Exp, Tanh, Sigmoid gradients recomputed from the input instead
 *   of the saved output, whose tape node an outer gradient cannot see through; a zero gradient for
 *   Equal (the mask in Max's gradient, so tf.max may sit on a double-backprop path);
 * - MaxPool and AvgPool gradients for 2×2/2 'valid' pooling as reshape + broadcast multiply with a
 *   constant window mask — one-hot on each window's first maximum (see firstMaxMask2), or ¼:
 *   differentiable again (stock MaxPoolGrad/AvgPoolGrad kernels have no gradient) and fast on wasm.
 *   Forward + backward of one pool on a [128,26,26,32] map, measured on a loaded machine: this
 *   ≈ 20–30 ms (the earlier all-ties mask, which was wrong on ties, 16–20 ms); tf.maxPool + stock
 *   gradient 245 ms; reshape + tf.max (its Equal mask broadcasts at rank 6, slow on wasm) 720 ms;
 *   strided slices + tf.maximum 5 s.
 * - on wasm, bias-add gradients (sum over leading axes) as a matMul with ones, and a first-layer
 *   (C ≤ 4 input channels) conv's dW as per-offset matMuls instead of the batch-as-channels conv
 *   (see registerBiasAddGrad, SMALL_C_FILTER_GRAD).
 * - on webgpu, AddN over more tensors than a shader may bind (tfjs-backend-webgpu binds them all in one
 *   program, and the device's maxStorageBuffersPerShaderStage — 8 by default — is soon exceeded by a
 *   model's parameter list: an invalid pipeline, then garbage) as a tree of AddNs that fit.
 * Relu's gradient (dy·step(x)) is already second-order correct.
 * Softmax/LogSoftmax/softmaxCrossEntropy stay wrong for double backprop: core never uses them on
 * that path (see loss.ts).
 */
export function installPatches(backendName: string): void {
  if (!gradientsInstalled) {
    registerMatMulGrad();
    registerConv2DGrad();
    registerSecondOrderFixes();
    registerPool2Grads();
    registerBiasAddGrad();
    gradientsInstalled = true;
  }
  if (backendName === 'wasm') explicitTransposeBackends.add(backendName);
  if (!kernelPatchedBackends.has(backendName)) {
    if (!tf.getKernel('Conv2DBackpropFilter', backendName))
      registerConvBackpropFilterKernel(backendName);
    if (backendName === 'webgpu') registerChunkedAddN(backendName);
    kernelPatchedBackends.add(backendName);
  }
}

/**
 * Backends whose tensors can only be read back asynchronously here: tfjs-backend-webgpu's synchronous read
 * (dataSync) goes through a browser canvas, which Node lacks. The maths reads with `await t.data()` everywhere;
 * on these backends a label function (sampled ŷ) also needs its logits read before the gradient pass, which costs
 * one extra forward pass (see perExampleSqNorms, penaltyGradients).
 */
const ASYNC_READ_BACKENDS = new Set(['webgpu']);

/** Whether the active backend (or `backendName`) can read a tensor synchronously (dataSync). */
export function hasSyncReads(backendName: string = tf.getBackend()): boolean {
  return !ASYNC_READ_BACKENDS.has(backendName);
}

/** True when `installPatches` has registered the global gradient overrides. */
export function patchesInstalled(): boolean {
  return gradientsInstalled;
}

/**
 * Runs `f` and, if it throws, disposes the tensors that a half-finished gradient tape left behind
 * (tfjs keeps saved tensors alive until the outermost `tf.grads` returns normally, so a throwing
 * forward or backward pass leaks them and leaves a stale tape).
 */
export function withTapeGuard<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    const state = (tf.engine() as unknown as { state: EngineState }).state;
    if (state.gradientDepth === 0 && state.activeTape) {
      for (const node of state.activeTape) for (const t of node.saved ?? []) t.dispose();
      state.activeTape = null;
    }
    throw e;
  }
}
interface EngineState {
  gradientDepth: number;
  activeTape: { saved?: tf.Tensor[] }[] | null;
}

// -------------------------------------------------------------------------------------------------

/** Transpose of the last two axes (rank 2 or 3). */
function T(x: tf.Tensor): tf.Tensor {
  return x.rank === 2
    ? tf.transpose(x)
    : tf.transpose(x, [...Array(x.rank - 2).keys(), x.rank - 1, x.rank - 2]);
}

function registerMatMulGrad(): void {
  const stock = tf.getGradient('BatchMatMul');
  if (!stock) throw new Error('tfjs has no BatchMatMul gradient to patch');
  tf.registerGradient({
    kernelName: 'BatchMatMul',
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, saved, attrs) => {
      const [a, b] = saved;
      const broadcast =
        a.rank !== b.rank || (a.rank > 2 && a.shape.slice(0, -2).some((d, i) => d !== b.shape[i]));
      if (!explicitTransposeBackends.has(tf.getBackend()) || broadcast || a.rank > 3) {
        return stock.gradFunc(dy, saved, attrs);
      }
      const { transposeA: tA, transposeB: tB } = attrs as unknown as {
        transposeA: boolean;
        transposeB: boolean;
      };
      const g = dy as tf.Tensor;
      const mm = (u: tf.Tensor, v: tf.Tensor) => tf.matMul(u as tf.Tensor2D, v as tf.Tensor2D);
      if (!tA && !tB) return { a: () => mm(g, T(b)), b: () => mm(T(a), g) };
      if (!tA && tB) return { a: () => mm(g, b), b: () => mm(T(g), a) };
      if (tA && !tB) return { a: () => mm(b, T(g)), b: () => mm(a, g) };
      return { a: () => mm(T(b), T(g)), b: () => mm(T(g), T(a)) };
    },
  });
}

interface ConvAttrs {
  strides: number | [number, number];
  pad: unknown;
  dataFormat?: string;
  dilations?: number | [number, number];
}
function isPlainValidConv(attrs: Attrs): boolean {
  const { strides, pad, dataFormat, dilations } = attrs as unknown as ConvAttrs;
  const ones = (v: number | [number, number] | undefined) =>
    v == null || [v].flat().every((d) => d === 1);
  return (
    ones(strides) &&
    ones(dilations) &&
    (pad === 'valid' || pad === 0) &&
    (!dataFormat || dataFormat === 'NHWC')
  );
}

/**
 * dW for a stride-1 'valid' NHWC conv as one forward conv: the batch becomes the reduction axis.
 * x [B,H,W,C], dy [B,OH,OW,Co] → conv2d(xᵀ [C,H,W,B], dyᵀ [OH,OW,B,Co]) = [C,kh,kw,Co] →
 * [kh,kw,C,Co].
 */
function filterGradByConv(x: tf.Tensor4D, dy: tf.Tensor4D): tf.Tensor4D {
  if (x.shape[3] <= SMALL_C_FILTER_GRAD && explicitTransposeBackends.has(tf.getBackend()))
    return filterGradByMatMul(x, dy);
  const r = tf.conv2d(
    tf.transpose(x, [3, 1, 2, 0]),
    tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D,
    1,
    'valid',
  );
  return tf.transpose(r, [1, 2, 0, 3]);
}

/**
 * Input channels up to which `filterGradByMatMul` beats `filterGradByConv` on wasm. Measured (CPU
 * ms, B = 128, Co = 32, 3×3, loaded machine), conv vs matMul: C = 1 (28×28 out) 52 vs 16; C = 3
 * (32×32) 117 vs 59; C = 8 115 vs 100; C = 16 149 vs 194; C = 32 (26×26) 306 vs 446. The conv form
 * is a batch-as-channels conv with a 26×26 kernel over a C-channel "image": XNNPACK is slow at it when
 * there is little to reduce over per output (C·kh·kw outputs), e.g. a first layer on raw pixels.
 */
const SMALL_C_FILTER_GRAD = 4;

/**
 * The same dW as kh·kw 2-D matMuls, one per kernel offset (i,j):
 * dW[i,j] = x[:, i:i+OH, j:j+OW, :]ᵀ·dy = [C, B·OH·OW]×[B·OH·OW, Co]; x is transposed once to
 * [C,B,H,W] so each offset's operand is a slice + reshape, and dy is used as is ([B·OH·OW, Co]).
 * Plain slice/reshape/matMul/stack ops, so differentiable again like the conv form.
 */
function filterGradByMatMul(x: tf.Tensor4D, dy: tf.Tensor4D): tf.Tensor4D {
  const [B, H, W, C] = x.shape;
  const [, OH, OW, Co] = dy.shape;
  const kh = H - OH + 1;
  const kw = W - OW + 1;
  const N = B * OH * OW;
  const d2 = tf.reshape(dy, [N, Co]) as tf.Tensor2D;
  const xT = tf.transpose(x, [3, 0, 1, 2]); // [C,B,H,W]
  const parts: tf.Tensor[] = [];
  for (let i = 0; i < kh; i++)
    for (let j = 0; j < kw; j++)
      parts.push(
        tf.matMul(
          tf.reshape(tf.slice(xT, [0, 0, i, j], [C, B, OH, OW]), [C, N]) as tf.Tensor2D,
          d2,
        ),
      );
  return tf.reshape(tf.stack(parts), [kh, kw, C, Co]) as tf.Tensor4D;
}

/**
 * dx for a stride-1 'valid' NHWC conv, dx[b,h,w,c] = Σ_{r,s,o} dy[b,r,s,o]·K[h−r,w−s,c,o], as one
 * forward conv in whichever of two equivalent forms wastes less work on zero padding:
 * (A) dy padded by k−1, correlated with the 180°-rotated K: cost ∝ kh·kw — right for ordinary
 *     layers;
 * (B) K padded by OH−1, correlated with the rotated dy (batch and channel axes swapped): cost ∝
 *     OH·OW — right for the large-kernel conv that `filterGradByConv` builds, which double backprop
 *     differentiates again (form A there costs ~(26·26/9)× more on a 28×28 layer).
 * dy [B,OH,OW,Co], K [kh,kw,C,Co] → dx [B,OH+kh−1,OW+kw−1,C].
 */
function inputGradByConv(dy: tf.Tensor4D, K: tf.Tensor4D): tf.Tensor4D {
  const [kh, kw] = K.shape;
  const [, OH, OW] = dy.shape;
  if (kh * kw <= OH * OW) {
    const padded = tf.pad(dy, [
      [0, 0],
      [kh - 1, kh - 1],
      [kw - 1, kw - 1],
      [0, 0],
    ]);
    return tf.conv2d(padded, tf.transpose(tf.reverse(K, [0, 1]), [0, 1, 3, 2]), 1, 'valid');
  }
  const Kt = tf.pad(tf.transpose(K, [2, 0, 1, 3]), [
    [0, 0],
    [OH - 1, OH - 1],
    [OW - 1, OW - 1],
    [0, 0],
  ]); // [C,·,·,Co]
  const F = tf.transpose(tf.reverse(dy, [1, 2]), [1, 2, 3, 0]) as tf.Tensor4D; // [OH,OW,Co,B]
  // [C,H,W,B] → [B,H,W,C]
  return tf.transpose(tf.conv2d(Kt as tf.Tensor4D, F, 1, 'valid'), [3, 1, 2, 0]);
}

function registerConv2DGrad(): void {
  const stock = tf.getGradient('Conv2D');
  if (!stock) throw new Error('tfjs has no Conv2D gradient to patch');
  tf.registerGradient({
    kernelName: 'Conv2D',
    inputsToSave: ['x', 'filter'],
    gradFunc: (dy, saved, attrs) => {
      if (!isPlainValidConv(attrs)) return stock.gradFunc(dy, saved, attrs);
      const x = saved[0] as tf.Tensor4D;
      const filter = saved[1] as tf.Tensor4D;
      const g = dy as tf.Tensor4D;
      return { x: () => inputGradByConv(g, filter), filter: () => filterGradByConv(x, g) };
    },
  });
}

function registerConvBackpropFilterKernel(backendName: string): void {
  tf.registerKernel({
    kernelName: 'Conv2DBackpropFilter',
    backendName,
    kernelFunc: ({ inputs, attrs }) => {
      if (!isPlainValidConv(attrs as Attrs)) {
        throw new Error(
          `Conv2DBackpropFilter on ${backendName}: only stride 1, dilation 1, 'valid', NHWC`,
        );
      }
      // Inside a kernel the tape is off, so these ops are not recorded; tidy frees the transposes.
      // A returned Tensor (rank set) is used by the engine as the kernel output as-is.
      return tf.tidy(() => filterGradByConv(inputs.x as tf.Tensor4D, inputs.dy as tf.Tensor4D));
    },
  });
}

/** See installPatches: AddN in groups of at most (storage buffers per shader stage − 1) inputs. */
function registerChunkedAddN(backendName: string): void {
  const stock = tf.getKernel('AddN', backendName);
  if (!stock) return;
  tf.unregisterKernel('AddN', backendName);
  tf.registerKernel({
    kernelName: 'AddN',
    backendName,
    kernelFunc: (args) => {
      const backend = args.backend as unknown as {
        device?: { limits?: { maxStorageBuffersPerShaderStage?: number } };
        disposeData: (id: object) => void;
      };
      const max = Math.max(2, (backend.device?.limits?.maxStorageBuffersPerShaderStage ?? 8) - 1);
      const run = (xs: tf.TensorInfo[]) =>
        stock.kernelFunc({
          ...args,
          inputs: xs as unknown as tf.NamedTensorInfoMap,
        }) as tf.TensorInfo;
      let xs = Array.from(args.inputs as unknown as ArrayLike<tf.TensorInfo>);
      const temps: tf.TensorInfo[] = [];
      while (xs.length > max) {
        const next: tf.TensorInfo[] = [];
        for (let i = 0; i < xs.length; i += max) {
          const part = xs.slice(i, i + max);
          if (part.length === 1) next.push(part[0]);
          else {
            const r = run(part);
            temps.push(r);
            next.push(r);
          }
        }
        xs = next;
      }
      const out = run(xs);
      for (const t of temps) backend.disposeData(t.dataId);
      return out;
    },
  });
}

interface PoolAttrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: unknown;
  dimRoundingMode?: unknown;
}
function isPool2(attrs: Attrs): boolean {
  const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as PoolAttrs;
  const twos = (v: number | [number, number]) => [v].flat().every((d) => d === 2);
  return (
    twos(filterSize) && twos(strides) && (pad === 'valid' || pad === 0) && dimRoundingMode == null
  );
}

/**
 * Spreads dy [B,H2,W2,C] over the 2×2 windows with weights w6 (broadcastable to [B,H2,2,W2,2,C]):
 * dx [B,H,W,C], zero in the row / column that floor-mode pooling dropped from odd H, W.
 */
function unpool2(dy: tf.Tensor4D, w6: tf.Tensor, H: number, W: number): tf.Tensor4D {
  const [B, H2, W2, C] = dy.shape;
  const g = tf.reshape(tf.mul(tf.reshape(dy, [B, H2, 1, W2, 1, C]), w6), [
    B,
    2 * H2,
    2 * W2,
    C,
  ]) as tf.Tensor4D;
  return H % 2 || W % 2
    ? tf.pad(g, [
        [0, 0],
        [0, H - 2 * H2],
        [0, W - 2 * W2],
        [0, 0],
      ])
    : g;
}

/**
 * Minus the rank of the four positions of a 2×2 window in row-major order (as a [1,1,2,1,2,1]
 * factor for the window view [B,H2,2,W2,2,C]): the first position ranks highest.
 */
const NEG_WINDOW_RANK = [-4, -3, -2, -1];

/**
 * One-hot mask [B,H2,2,W2,2,C] (float32) of the element each 2×2/2 'valid' window of x [B,H,W,C]
 * routes its gradient to: the FIRST maximal element in row-major window order, as PyTorch's
 * max_pool2d and tfjs-backend-cpu's MaxPoolGrad do (strict `>` while scanning). (tfjs-backend-wasm's
 * MaxPoolGrad and MaxPoolWithArgmax kernels pick the LAST one, so neither is used.) Routing to every
 * tying element instead multiplies a tied window's gradient by its number of ties — and conv maps
 * of MNIST's constant backgrounds tie all the time.
 *
 * Built only from ops that wasm runs fast with broadcasting (sub, mul, step, maxPool; its Equal and
 * Less with a broadcast operand take ~0.6 s on a [128,26,26,32] map against ~4 ms):
 *   t = step(y − x, −1)           −1 where x is its window's max (y − x = 0), +1 elsewhere;
 *   s = −t · rank                 +rank at maxima, −rank elsewhere (rank 4,3,2,1 row-major);
 *   b = window max of s           the rank of the first maximum (a window has ≥ 1 maximum);
 *   mask = step(s − (b − ½))      1 exactly there (the scores are distinct integers).
 * `y` is the pooled x (recomputed when not given). The mask is piecewise constant in x, so its
 * derivative is zero; a customGrad says so, which keeps these ops off any outer tape (double
 * backprop through the pooling gradient only differentiates the linear map dy ↦ dx).
 */
export function firstMaxMask2(x: tf.Tensor4D, y?: tf.Tensor4D): tf.Tensor {
  const [B, H, W, C] = x.shape;
  const [H2, W2] = [H >> 1, W >> 1];
  const mask = tf.customGrad((...args) => {
    const x4 = args[0] as tf.Tensor4D;
    const value = tf.tidy(() => {
      const xe = H % 2 || W % 2 ? tf.slice(x4, [0, 0, 0, 0], [B, 2 * H2, 2 * W2, C]) : x4;
      const win = (t: tf.Tensor) => tf.reshape(t, [B, H2, 1, W2, 1, C]);
      const pooled = y ?? tf.maxPool(x4, 2, 2, 'valid');
      const t = tf.step(tf.sub(win(pooled), tf.reshape(xe, [B, H2, 2, W2, 2, C])), -1);
      const s = tf.mul(t, tf.tensor(NEG_WINDOW_RANK, [1, 1, 2, 1, 2, 1]));
      const best = tf.maxPool(tf.reshape(s, [B, 2 * H2, 2 * W2, C]) as tf.Tensor4D, 2, 2, 'valid');
      return tf.step(tf.sub(s, win(tf.sub(best, 0.5))));
    });
    return { value, gradFunc: () => tf.zerosLike(x4) };
  });
  return mask(x);
}

function registerPool2Grads(): void {
  const stockMax = tf.getGradient('MaxPool');
  const stockAvg = tf.getGradient('AvgPool');
  if (!stockMax || !stockAvg) throw new Error('tfjs has no MaxPool/AvgPool gradient to patch');
  tf.registerGradient({
    kernelName: 'MaxPool',
    inputsToSave: ['x'],
    // The saved output only feeds the mask, whose derivative is zero: that an outer gradient does
    // not see through a saved output (tfjs #3252) is harmless here and saves recomputing the pool.
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      if (!isPool2(attrs)) return stockMax.gradFunc(dy, saved, attrs);
      const [x, y] = saved as [tf.Tensor4D, tf.Tensor4D];
      const [, H, W] = x.shape;
      // dx is linear in dy with a constant one-hot mask: differentiable again, and its own
      // gradient (needed by double backprop) is the same mask applied the other way.
      return { x: () => unpool2(dy as tf.Tensor4D, firstMaxMask2(x, y), H, W) };
    },
  });
  tf.registerGradient({
    kernelName: 'AvgPool',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      if (!isPool2(attrs)) return stockAvg.gradFunc(dy, saved, attrs);
      const [, H, W] = saved[0].shape;
      return { x: () => unpool2(dy as tf.Tensor4D, tf.fill([1, 1, 2, 1, 2, 1], 0.25), H, W) };
    },
  });
}

/**
 * Add gradient for a bias add, z [..., C] + b [C] (either order): on wasm the bias's gradient, the
 * sum of dy over all leading axes, as one matMul ones [1, N]·dy [N, C]. wasm's Sum over non-inner
 * axes transposes first: on a [128,28,28,32] conv output tf.sum takes ~25 ms, the matMul ~5 ms (CPU
 * time, loaded machine) — a conv net's bias gradients were ~7% of its training step. Differentiable
 * again (matMul with a constant). Other shapes and backends keep the stock gradient.
 */
function registerBiasAddGrad(): void {
  const stock = tf.getGradient('Add');
  if (!stock) throw new Error('tfjs has no Add gradient to patch');
  tf.registerGradient({
    kernelName: 'Add',
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, saved, attrs) => {
      const [a, b] = saved;
      const g = dy as tf.Tensor;
      const isBias = (v: tf.Tensor, full: tf.Tensor) =>
        v.rank === 1 &&
        full.rank >= 2 &&
        full.shape.every((d, i) => d === g.shape[i]) &&
        v.shape[0] === g.shape[g.rank - 1] &&
        g.size > v.size;
      if (
        !explicitTransposeBackends.has(tf.getBackend()) ||
        g.dtype !== 'float32' ||
        !(isBias(b, a) || isBias(a, b))
      )
        return stock.gradFunc(dy, saved, attrs);
      const C = g.shape[g.rank - 1];
      const sumLeading = () =>
        tf.reshape(
          tf.matMul(tf.ones([1, g.size / C]) as tf.Tensor2D, tf.reshape(g, [-1, C]) as tf.Tensor2D),
          [C],
        );
      // A fresh handle for the full-shape side, as the stock gradient gives (reshape shares data).
      const same = () => tf.reshape(g, g.shape);
      return isBias(b, a) ? { a: same, b: sumLeading } : { a: sumLeading, b: same };
    },
  });
}

function registerSecondOrderFixes(): void {
  tf.registerGradient({
    kernelName: 'Exp',
    inputsToSave: ['x'],
    gradFunc: (dy, [x]) => ({ x: () => tf.mul(dy as tf.Tensor, tf.exp(x)) }),
  });
  tf.registerGradient({
    kernelName: 'Tanh',
    inputsToSave: ['x'],
    gradFunc: (dy, [x]) => ({ x: () => tf.mul(dy as tf.Tensor, tf.sub(1, tf.square(tf.tanh(x)))) }),
  });
  tf.registerGradient({
    kernelName: 'Sigmoid',
    inputsToSave: ['x'],
    gradFunc: (dy, [x]) => ({
      x: () => {
        const s = tf.sigmoid(x);
        return tf.mul(dy as tf.Tensor, tf.mul(s, tf.sub(1, s)));
      },
    }),
  });
  // The comparison is piecewise constant: its derivative is zero wherever it is defined.
  tf.registerGradient({
    kernelName: 'Equal',
    inputsToSave: ['a', 'b'],
    gradFunc: (_dy, [a, b]) => ({ a: () => tf.zerosLike(a), b: () => tf.zerosLike(b) }),
  });
}
