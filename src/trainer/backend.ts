/**
 * Run-time backend selection for the trainer process. `auto` tries, in order, tensorflow-gpu
 * (@tensorflow/tfjs-node-gpu), tensorflow (@tensorflow/tfjs-node), webgpu (Dawn through the `webgpu` package,
 * only with a hardware adapter), wasm, cpu, and records why each rejected candidate was not taken.
 * The native packages are optional dependencies: their install downloads libtensorflow, which may not be possible.
 */
import type { BackendRejection } from '../shared/protocol';
import type { BackendName } from '../shared/config';
import { setupWasm } from '../core/backend';

// tfjs is loaded lazily so that `doctor` and config errors stay fast and a missing package is a clear message.
type TF = typeof import('@tensorflow/tfjs');
let tfModule: TF | undefined;
export function tfjs(): TF {
  tfModule ??= require('@tensorflow/tfjs') as TF;
  return tfModule;
}

export const AUTO_ORDER = ['tensorflow-gpu', 'tensorflow', 'webgpu', 'wasm', 'cpu'] as const;
export type ConcreteBackend = (typeof AUTO_ORDER)[number];

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
      try {
        require.resolve(`${pkg}/package.json`);
      } catch {
        throw new Error(`${pkg} is not installed (optional dependency)`);
      }
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

export async function selectBackend(requested: BackendName): Promise<BackendChoice> {
  // One process may train several runs (demo, reproduce, bench): probe once per request, then reuse.
  const cached = chosen.get(requested);
  if (cached && tfjs().getBackend() === cached.engineName) return cached;
  const choice = await probeOrder(requested);
  chosen.set(requested, choice);
  return choice;
}

async function probeOrder(requested: BackendName): Promise<BackendChoice> {
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
