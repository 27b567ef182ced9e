/**
 * WebGPU in Node: Dawn from the `webgpu` package (prebuilt binaries; Vulkan on Linux and Windows, Metal on macOS;
 * no CUDA), under tfjs-backend-webgpu. The adapter is found before the tfjs backend is registered
 * (`navigator.gpu` must exist when tfjs-backend-webgpu loads), and is classified: a hardware GPU, or a software
 * one (Mesa's lavapipe/llvmpipe, SwiftShader — Vulkan on the CPU). `auto` takes only a hardware adapter (a
 * software one is slower than wasm); an explicit `webgpu` takes either, which is how CI runs the maths on it.
 * Reads are asynchronous only on this backend (its dataSync needs a browser canvas): see core's hasSyncReads.
 */
import fs from 'node:fs';
import path from 'node:path';

type TF = typeof import('@tensorflow/tfjs');

/** What Dawn says about its adapter (GPUAdapterInfo), and whether it is a software (CPU) one. */
export interface AdapterFacts {
  vendor: string;
  architecture: string;
  device: string;
  /** Dawn's description: the driver and its version (e.g. "llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)"). */
  description: string;
  software: boolean;
}

interface GpuAdapter {
  isFallbackAdapter?: boolean;
  info?: Partial<Record<'vendor' | 'architecture' | 'device' | 'description', string>> & {
    isFallbackAdapter?: boolean;
  };
}
interface Gpu {
  requestAdapter: (o?: object) => Promise<GpuAdapter | null>;
}

const short = (e: unknown) =>
  String((e as Error)?.message ?? e)
    .split('\n')[0]
    .slice(0, 300);

/** Drivers that run Vulkan on the CPU. */
const SOFTWARE = /\b(software|cpu|llvmpipe|lavapipe|swiftshader)\b/i;

let gpu: Gpu | undefined;

/**
 * On Linux, whether the Vulkan loader (libvulkan.so.1) can be found: in LD_LIBRARY_PATH or the linker cache.
 * Checked before Dawn loads, which would otherwise print its own multi-line warning.
 */
function vulkanLoaderFound(): boolean {
  if (process.platform !== 'linux') return true;
  const dirs = (process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean);
  if (dirs.some((d) => fs.existsSync(path.join(d, 'libvulkan.so.1')))) return true;
  try {
    return fs.readFileSync('/etc/ld.so.cache').includes('libvulkan.so.1');
  } catch {
    return true; // no cache to read (not glibc?): let Dawn say
  }
}

/** Loads Dawn and exposes it as `navigator.gpu` (and the WebGPU globals) for tfjs-backend-webgpu. Idempotent. */
async function loadDawn(): Promise<Gpu> {
  if (gpu) return gpu;
  if (!vulkanLoaderFound())
    throw new Error(
      'the Vulkan loader libvulkan.so.1 is not installed (apt-get install libvulkan1), so Dawn finds no GPU',
    );
  let webgpu: { create: (o: string[]) => unknown; globals: Record<string, unknown> };
  try {
    // An ES module: import() loads it on every Node 20 (require() of ESM only from 20.19).
    webgpu = (await import('webgpu')) as unknown as typeof webgpu;
  } catch (e) {
    throw new Error(
      `the 'webgpu' package (Dawn) did not load: ${short(e)} (it needs glibc ≥ 2.34 and GCC 12's libstdc++)`,
    );
  }
  const g = globalThis as Record<string, unknown>;
  Object.assign(g, webgpu.globals);
  const created = webgpu.create([]) as Gpu;
  if (!g.navigator)
    Object.defineProperty(g, 'navigator', {
      value: { gpu: created },
      configurable: true,
      writable: true,
    });
  else (g.navigator as Record<string, unknown>).gpu = created;
  gpu = created;
  return created;
}

/** The adapter tfjs-backend-webgpu will get (it asks for high performance), described. */
export async function findAdapter(): Promise<AdapterFacts> {
  const adapter = await (await loadDawn()).requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter)
    throw new Error(
      'no WebGPU adapter found (Dawn needs a Vulkan driver and the Vulkan loader libvulkan.so.1, or Metal)',
    );
  const i = adapter.info ?? {};
  const f = {
    vendor: i.vendor ?? '',
    architecture: i.architecture ?? '',
    device: i.device ?? '',
    description: i.description ?? '',
  };
  const fallback = adapter.isFallbackAdapter ?? i.isFallbackAdapter ?? false;
  return {
    ...f,
    software: fallback || SOFTWARE.test(`${f.architecture} ${f.device} ${f.description}`),
  };
}

/** One line for doctor, the run header and errors: adapter, vendor, driver. */
export function describeAdapter(f: AdapterFacts): string {
  const kind = f.software ? 'software adapter' : 'GPU';
  const name = f.device || f.architecture || '?';
  return `${kind} ${name} (vendor ${f.vendor || '?'}${f.architecture ? `, ${f.architecture}` : ''}; driver ${f.description || '?'})`;
}

/** Why `auto` does not take a software adapter. */
export const SOFTWARE_NOT_AUTO =
  'a software adapter runs on the CPU, slower than wasm: `auto` skips it; ask for it with --backend webgpu';

/**
 * Finds the adapter and activates tfjs's webgpu backend on it. A software adapter is refused unless
 * `allowSoftware` (an explicit `webgpu`). Returns the adapter.
 */
export async function activateWebgpu(tf: TF, allowSoftware: boolean): Promise<AdapterFacts> {
  const facts = await findAdapter();
  if (facts.software && !allowSoftware)
    throw new Error(`only a ${describeAdapter(facts)} was found: ${SOFTWARE_NOT_AUTO}`);
  require('@tensorflow/tfjs-backend-webgpu');
  // tf.setBackend resolves false (it does not throw) when the backend cannot start.
  const ok = await tf.setBackend('webgpu');
  await tf.ready();
  if (!ok || tf.getBackend() !== 'webgpu')
    throw new Error(`tfjs could not start its webgpu backend on the ${describeAdapter(facts)}`);
  return facts;
}

/**
 * Releases the GPU device, so that Dawn does not keep the process alive once the work is done. Safe to call
 * when webgpu was never used.
 */
export function releaseWebgpu(tf: TF | undefined): void {
  if (!gpu || !tf) return;
  try {
    const be = tf.findBackend('webgpu') as unknown as { device?: { destroy?: () => void } } | null;
    if (!be) return;
    const device = be.device;
    tf.removeBackend('webgpu'); // disposes the backend's buffers
    device?.destroy?.();
  } catch {
    /* already released */
  }
}
