/**
 * Run-time backend selection for the trainer process: which engine (tfjs in process, or the PyTorch child) and
 * which device. `auto` ({@link ENGINE_AUTO_ORDER}) tries, in order, torch-cuda (PyTorch on an NVIDIA GPU),
 * tensorflow-gpu (@tensorflow/tfjs-node-gpu), tensorflow (@tensorflow/tfjs-node), webgpu (Dawn through the
 * `webgpu` package, only with a hardware adapter), torch-cpu, wasm, cpu, and records why each rejected candidate
 * was not taken. **The CPU rule**: with a working PyTorch (≥ 1.13) torch-cpu comes before wasm, because it is
 * faster per step on both models measured (`npm run bench`, 2 shared cores: MLP 3×, SimpleCNN 5–6×; exact Tr(F)
 * on par); its one cost, 1–3 s to start Python and import torch, is repaid within the first ~100 MLP steps.
 * torch-mps is never chosen by `auto` (unmeasured): ask for `torch` or `torch-mps`.
 * The native packages are optional dependencies: their install downloads libtensorflow, which may not be possible.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { BackendRejection } from '../shared/protocol';
import { TORCH_BACKENDS, type BackendName } from '../shared/config';
import { setupWasm } from '../core/backend';
import {
  probePython,
  pythonCommand,
  torchBackendStatus,
  type PythonProbe,
  type TorchBackend,
} from './torch/python';
import type { TorchChoice } from './torch/engine';

// tfjs is loaded lazily so that `doctor` and config errors stay fast and a missing package is a clear message.
type TF = typeof import('@tensorflow/tfjs');
let tfModule: TF | undefined;
export function tfjs(): TF {
  tfModule ??= require('@tensorflow/tfjs') as TF;
  return tfModule;
}

/** The tfjs backends, in `auto` order (each probed in process). */
export const AUTO_ORDER = ['tensorflow-gpu', 'tensorflow', 'webgpu', 'wasm', 'cpu'] as const;
export type ConcreteBackend = (typeof AUTO_ORDER)[number];
/** `auto` over both engines: torch-cuda first, torch-cpu right before wasm (the CPU rule above). */
export const ENGINE_AUTO_ORDER = [
  'torch-cuda',
  'tensorflow-gpu',
  'tensorflow',
  'webgpu',
  'torch-cpu',
  'wasm',
  'cpu',
] as const;

export interface BackendChoice {
  backend: ConcreteBackend;
  /** The tfjs backend name registered in the engine (`tensorflow`, `webgpu`, `wasm`, `cpu`). */
  engineName: string;
  rejections: BackendRejection[];
  detail: string;
}

const short = (e: unknown) =>
  String((e as Error)?.message ?? e)
    .split('\n')[0]
    .slice(0, 300);

/** Whether a tfjs-node package folder holds its compiled addon (`lib/napi-v<N>/tfjs_binding.node`). */
function hasNativeAddon(dir: string): boolean {
  try {
    return fs
      .readdirSync(path.join(dir, 'lib'))
      .some(
        (d) =>
          /^napi-v\d+$/.test(d) && fs.existsSync(path.join(dir, 'lib', d, 'tfjs_binding.node')),
      );
  } catch {
    return false;
  }
}

/** What the WebGPU probe child prints: its adapter, or why there is none. */
const WEBGPU_PROBE = `
const w = require(process.argv[1]);
Object.assign(globalThis, w.globals);
w.create([]).requestAdapter().then(
  (a) => { process.stdout.write(JSON.stringify(a ? { found: true, fallback: !!a.isFallbackAdapter, info: { vendor: a.info && a.info.vendor, architecture: a.info && a.info.architecture, description: a.info && a.info.description } } : { found: false })); process.exit(0); },
  (e) => { process.stdout.write(JSON.stringify({ found: false, error: String(e && e.message || e) })); process.exit(0); });
`;

/**
 * Look for a hardware WebGPU adapter in a child Node process (its stderr — Dawn's driver warnings — is kept
 * out of this run's output; its first warning line becomes the reason). Throws with one line when there is none.
 */
export async function probeWebgpuInChild(timeoutMs = 30_000): Promise<void> {
  let entry: string;
  try {
    entry = require.resolve('webgpu');
  } catch (e) {
    throw new Error(`the 'webgpu' package (Dawn) is not installed: ${short(e)}`);
  }
  const { spawn } = await import('node:child_process');
  const out = await new Promise<{ stdout: string; stderr: string; code: number | null }>(
    (resolve) => {
      const child = spawn(process.execPath, ['-e', WEBGPU_PROBE, entry], {
        env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
        windowsHide: true,
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-8000)));
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('error', (e) => {
        clearTimeout(timer);
        resolve({ stdout: '', stderr: String(e.message), code: null });
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ stdout, stderr, code });
      });
    },
  );
  interface Probe {
    found?: boolean;
    fallback?: boolean;
    error?: string;
    info?: { vendor?: string; architecture?: string; description?: string };
  }
  let r: Probe | null;
  try {
    r = JSON.parse(out.stdout) as Probe;
  } catch {
    r = null;
  }
  // Dawn's warning, e.g. "Warning: Couldn't load Vulkan: libvulkan.so.1: cannot open shared object file…".
  const warning = out.stderr
    .split('\n')
    .map((l) => l.trim())
    .find((l) => /^(Warning|Error)\b/i.test(l));
  if (!r)
    throw new Error(
      `the WebGPU probe failed (${short(warning ?? out.stderr) || `exit ${out.code}`})`,
    );
  if (!r.found)
    throw new Error(
      `no WebGPU adapter found${warning ? ` (${warning.replace(/^Warning:\s*/i, '').slice(0, 200)})` : r.error ? ` (${short(r.error)})` : ' (Dawn needs a Vulkan driver)'}`,
    );
  const info = r.info ?? {};
  if (r.fallback || /software|cpu/i.test(`${info.architecture} ${info.description}`))
    throw new Error(
      `only a CPU (software) WebGPU adapter was found (${info.vendor ?? '?'} ${info.architecture ?? ''}); wasm is faster`,
    );
}

async function activate(tf: TF, engineName: string): Promise<void> {
  const ok = await tf.setBackend(engineName);
  await tf.ready();
  if (!ok || tf.getBackend() !== engineName)
    throw new Error(`tf.setBackend('${engineName}') failed`);
}

async function tryBackend(name: ConcreteBackend): Promise<{ engineName: string; detail: string }> {
  const tf = tfjs();
  switch (name) {
    case 'tensorflow-gpu':
    case 'tensorflow': {
      const pkg = name === 'tensorflow-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
      let pkgJson: string;
      try {
        pkgJson = require.resolve(`${pkg}/package.json`);
      } catch {
        throw new Error(`${pkg} is not installed (optional dependency)`);
      }
      // Without its native addon (its install script downloads libtensorflow) requiring the package fails
      // half-way, after it has re-registered every tfjs kernel — hundreds of warnings. Check first.
      if (!hasNativeAddon(path.dirname(pkgJson)))
        throw new Error(
          `${pkg} is installed without its native addon (lib/napi-v*/tfjs_binding.node): its install script, which downloads libtensorflow, did not run`,
        );
      try {
        require(pkg);
      } catch (e) {
        throw new Error(`${pkg} did not load: ${short(e)}`);
      }
      await activate(tf, 'tensorflow');
      const be = tf.backend() as unknown as { isUsingGpuDevice?: boolean };
      if (name === 'tensorflow-gpu' && be.isUsingGpuDevice === false)
        throw new Error(`${pkg} loaded but found no usable GPU`);
      return { engineName: 'tensorflow', detail: pkg };
    }
    case 'webgpu': {
      // Dawn prints its driver warnings (no Vulkan loader, …) straight to stderr, where nothing can catch them:
      // ask a child process first, and load it here only where it finds a hardware adapter.
      await probeWebgpuInChild();
      let webgpu: { create: (o: string[]) => unknown; globals: Record<string, unknown> };
      try {
        webgpu = require('webgpu');
      } catch (e) {
        throw new Error(`the 'webgpu' package (Dawn) did not load: ${short(e)}`);
      }
      const g = globalThis as Record<string, unknown>;
      Object.assign(g, webgpu.globals);
      const gpu = webgpu.create([]) as { requestAdapter: () => Promise<unknown> };
      if (!g.navigator)
        Object.defineProperty(g, 'navigator', {
          value: { gpu },
          configurable: true,
          writable: true,
        });
      else (g.navigator as Record<string, unknown>).gpu = gpu;
      const adapter = (await gpu.requestAdapter()) as {
        isFallbackAdapter?: boolean;
        info?: { architecture?: string; vendor?: string; description?: string };
      } | null;
      if (!adapter) throw new Error('no WebGPU adapter found (Dawn needs a Vulkan driver)');
      const info = adapter.info ?? {};
      if (
        adapter.isFallbackAdapter ||
        /software|cpu/i.test(`${info.architecture} ${info.description}`)
      ) {
        throw new Error(
          `only a CPU (software) WebGPU adapter was found (${info.vendor ?? '?'} ${info.architecture ?? ''}); wasm is faster`,
        );
      }
      require('@tensorflow/tfjs-backend-webgpu');
      await activate(tf, 'webgpu');
      return {
        engineName: 'webgpu',
        detail: `${info.vendor ?? ''} ${info.architecture ?? ''}`.trim(),
      };
    }
    case 'wasm': {
      setupWasm();
      await activate(tf, 'wasm');
      return { engineName: 'wasm', detail: 'XNNPACK, SIMD, single-threaded' };
    }
    case 'cpu':
      await activate(tf, 'cpu');
      return { engineName: 'cpu', detail: 'plain JavaScript (slow)' };
  }
}

/**
 * No backend could be activated: the requested one (`requested` is a concrete name) did not load, or, for `auto`,
 * none did. The message names the backend(s) and why. The CLI treats an explicitly requested backend as invalid
 * input (exit 2).
 */
export class BackendUnavailableError extends Error {
  constructor(
    readonly requested: BackendName,
    readonly rejections: BackendRejection[],
  ) {
    const why = rejections.map((r) => `${r.backend}: ${r.reason}`).join('; ');
    super(
      requested === 'auto'
        ? `no usable backend (${why})`
        : `backend "${requested}" is not available here (${rejections[0]?.reason ?? 'unknown reason'}); \`fisher-lens doctor\` lists the backends that load`,
    );
    this.name = 'BackendUnavailableError';
  }
}

/** Pick and activate a backend. `auto` walks {@link AUTO_ORDER}; a named backend fails with its reason. */
const chosen = new Map<BackendName, BackendChoice>();

export async function selectBackend(requested: 'auto' | ConcreteBackend): Promise<BackendChoice> {
  // One process may train several runs (demo, reproduce, bench): probe once per request, then reuse.
  const cached = chosen.get(requested);
  if (cached && tfjs().getBackend() === cached.engineName) return cached;
  const choice = await probeOrder(requested);
  chosen.set(requested, choice);
  return choice;
}

async function probeOrder(requested: 'auto' | ConcreteBackend): Promise<BackendChoice> {
  const order: readonly ConcreteBackend[] = requested === 'auto' ? AUTO_ORDER : [requested];
  const rejections: BackendRejection[] = [];
  for (const name of order) {
    try {
      const { engineName, detail } = await tryBackend(name);
      return { backend: name, engineName, rejections, detail };
    } catch (e) {
      rejections.push({ backend: name, reason: short(e) });
    }
  }
  throw new BackendUnavailableError(requested, rejections);
}

/** For `fisher-lens doctor`: which backends load here and why the others do not. Each probed in a child. */
export async function probeAllBackends(
  run: (name: ConcreteBackend) => Promise<{ ok: boolean; detail: string }>,
): Promise<{ backend: ConcreteBackend; ok: boolean; detail: string }[]> {
  const out: { backend: ConcreteBackend; ok: boolean; detail: string }[] = [];
  for (const b of AUTO_ORDER) out.push({ backend: b, ...(await run(b)) });
  return out;
}

/** Probe exactly one backend in this process (used by `doctor --probe NAME` in a child process). */
export async function probeOne(name: ConcreteBackend): Promise<{ ok: boolean; detail: string }> {
  try {
    const { detail } = await tryBackend(name);
    // A tiny op proves kernels run.
    const tf = tfjs();
    const v = tf.tidy(() => tf.sum(tf.mul(tf.tensor1d([1, 2, 3]), 2)).dataSync()[0]);
    if (v !== 12) throw new Error(`sanity op returned ${v}`);
    return { ok: true, detail };
  } catch (e) {
    return { ok: false, detail: short(e) };
  }
}

// ---- both engines ---------------------------------------------------------------------------------

export const isTorchBackend = (b: string): b is TorchBackend =>
  (TORCH_BACKENDS as readonly string[]).includes(b);

/** The engine a run uses: tfjs in this process with its backend, or the PyTorch child on a device. */
export type EngineChoice =
  { engine: 'tfjs'; choice: BackendChoice } | { engine: 'torch'; choice: TorchChoice };

export interface EngineSelectOptions {
  /** The Python interpreter (`--python`); default FISHER_LENS_PYTHON, else `python3`. */
  python?: string;
}

const engineChoices = new Map<string, EngineChoice>();

/**
 * Pick the engine and backend for `requested`. A named torch backend probes Python once (one child) and fails with
 * the reason (no Python, no torch, no CUDA, …); `auto` walks {@link ENGINE_AUTO_ORDER}; a tfjs backend is
 * {@link selectBackend}. Cached per request and interpreter, so the CLI's check and the run agree.
 */
export async function selectEngine(
  requested: BackendName,
  opts: EngineSelectOptions = {},
): Promise<EngineChoice> {
  const python = pythonCommand(opts.python);
  const key = `${requested}\0${python}`;
  const cached = engineChoices.get(key);
  if (cached && (cached.engine === 'torch' || tfjs().getBackend() === cached.choice.engineName))
    return cached;
  const choice = await selectUncached(requested, python);
  engineChoices.set(key, choice);
  return choice;
}

function torchChoice(
  backend: TorchBackend,
  probe: PythonProbe,
  rejections: BackendRejection[],
): TorchChoice | string {
  const s = torchBackendStatus(backend, probe);
  if (!s.ok) return s.reason;
  if (backend === 'torch') {
    // The best device: say why the better ones were not taken.
    for (const b of ['torch-cuda', 'torch-mps'] as const) {
      if (`torch-${s.device}` === b) break;
      const r = torchBackendStatus(b, probe);
      if (!r.ok) rejections.push({ backend: b, reason: r.reason });
    }
  }
  return {
    backend: `torch-${s.device}`,
    device: s.device,
    python: probe.python,
    rejections,
    detail: s.detail,
  };
}

async function selectUncached(requested: BackendName, python: string): Promise<EngineChoice> {
  if (isTorchBackend(requested)) {
    const c = torchChoice(requested, probePython(python), []);
    if (typeof c === 'string')
      throw new BackendUnavailableError(requested, [{ backend: requested, reason: c }]);
    return { engine: 'torch', choice: c };
  }
  if (requested !== 'auto') return { engine: 'tfjs', choice: await selectBackend(requested) };
  const rejections: BackendRejection[] = [];
  let probe: PythonProbe | undefined;
  for (const name of ENGINE_AUTO_ORDER) {
    if (isTorchBackend(name)) {
      probe ??= probePython(python);
      const c = torchChoice(name, probe, rejections);
      if (typeof c !== 'string') return { engine: 'torch', choice: c };
      rejections.push({ backend: name, reason: c });
      continue;
    }
    try {
      const { engineName, detail } = await tryBackend(name);
      const choice = { backend: name, engineName, rejections, detail };
      chosen.set('auto', choice);
      return { engine: 'tfjs', choice };
    } catch (e) {
      rejections.push({ backend: name, reason: short(e) });
    }
  }
  throw new BackendUnavailableError('auto', rejections);
}

/** For `fisher-lens doctor`: the interpreter and torch, and whether each torch backend is usable and why. */
export function probeTorchBackends(python?: string): {
  probe: PythonProbe;
  backends: { backend: TorchBackend; ok: boolean; detail: string }[];
} {
  const probe = probePython(pythonCommand(python));
  return {
    probe,
    backends: TORCH_BACKENDS.map((b) => {
      const s = torchBackendStatus(b, probe);
      return { backend: b, ok: s.ok, detail: s.ok ? `${s.device}: ${s.detail}` : s.reason };
    }),
  };
}
