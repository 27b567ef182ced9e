// `npm run gpu-check [-- --out FILE --device cuda]`: python/gpu_check.py (doctor, cuda-vs-cpu parity, step times,
// exact Tr(F) over 128, FP-every-10 overhead) with `fisher-lens doctor --json` added, and the webgpu backend on the
// GPU's Vulkan driver (see webgpuCheck below); one JSON file out.
// The interpreter: --python EXE, else $FISHER_LENS_PYTHON, else python3.
// Vulkan on a GPU machine without the loader: unpack libvulkan1's .deb (`dpkg -x`) into a folder on
// LD_LIBRARY_PATH; if no adapter is found, point VK_DRIVER_FILES at the driver's nvidia_icd.json. NVIDIA
// containers need the `graphics` driver capability (NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.dirname(path.dirname(new URL(import.meta.url).pathname));
const argv = process.argv.slice(2);
const pyAt = argv.indexOf('--python');
const python = pyAt >= 0 ? argv[pyAt + 1] : process.env.FISHER_LENS_PYTHON || 'python3';
const rest = pyAt >= 0 ? argv.filter((_, i) => i !== pyAt && i !== pyAt + 1) : argv;
const outAt = rest.indexOf('--out');
const out = path.resolve(outAt >= 0 ? rest[outAt + 1] : 'gpu-check.json');
if (outAt < 0) rest.push('--out', out);

const doctor = spawnSync(
  process.execPath,
  [path.join(root, 'bin', 'fisher-lens.js'), 'doctor', '--json', '--python', python],
  { encoding: 'utf8' },
);
const r = spawnSync(python, [path.join(root, 'python', 'gpu_check.py'), ...rest], {
  stdio: 'inherit',
  env: { ...process.env, PYTHONPATH: path.join(root, 'python'), PYTHONDONTWRITEBYTECODE: '1' },
});
if (r.error) {
  console.error(`gpu-check: cannot run ${python}: ${r.error.message}`);
  process.exit(2);
}
if (fs.existsSync(out)) {
  const report = JSON.parse(fs.readFileSync(out, 'utf8'));
  try {
    report.fisherLensDoctor = JSON.parse(doctor.stdout.trim().split('\n').pop());
  } catch {
    report.fisherLensDoctor = { error: (doctor.stderr || '').trim().split('\n').pop() ?? null };
  }
  report.webgpu = webgpuCheck(report.fisherLensDoctor);
  fs.writeFileSync(out, JSON.stringify(report, null, 1) + '\n');
}
process.exit(r.status ?? 1);

/**
 * webgpu on this machine's GPU (Dawn on its Vulkan driver): the adapter doctor found, then the same short MNIST
 * run (SimpleCNN width 1, batch 128, FP every 10, exact Tr(F) over 128 every 10 steps) through the CLI on webgpu
 * and on wasm: wall time, median step-to-step time, and Tr(F) at step 0 on both (they start from the same
 * parameters: ≤ 1e-4 relative expected).
 */
function webgpuCheck(doc) {
  const w = doc?.backends?.find((b) => b.backend === 'webgpu');
  if (!w?.ok) return { ok: false, reason: w?.detail ?? 'doctor did not run' };
  const tmp = fs.mkdtempSync(path.join(process.env.TMPDIR || '/tmp', 'fl-gpu-check-'));
  const runOn = (backend) => {
    const cfg = path.join(tmp, `${backend}.fisher.json`);
    fs.writeFileSync(
      cfg,
      JSON.stringify({
        seed: 1,
        dataset: { name: 'mnist', trainSize: 4096, testSize: 512 },
        model: { arch: 'simplecnn' },
        optimizer: { lr: 0.01, batchSize: 128 },
        schedule: { steps: 40 },
        fisher: { every: 10, probeSize: 128 },
        penalty: { kind: 'fisher', alpha: 0.01, every: 10 },
        evalEvery: 1000,
        checkpoint: false,
        backend,
      }),
    );
    const t0 = Date.now();
    const p = spawnSync(
      process.execPath,
      [
        path.join(root, 'bin', 'fisher-lens.js'),
        'train',
        cfg,
        '--runs-dir',
        tmp,
        '--run-id',
        backend,
      ],
      { encoding: 'utf8', timeout: 900_000 },
    );
    const seconds = (Date.now() - t0) / 1000;
    if (p.status !== 0)
      return {
        ok: false,
        seconds,
        status: p.status ?? p.signal,
        stderr: (p.stderr || '').slice(-2000),
      };
    const ev = fs
      .readFileSync(path.join(tmp, backend, 'events.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const st = ev.filter((e) => e.type === 'step').map((e) => e.t);
    const d = st
      .slice(2)
      .map((t, i) => t - st[i + 1])
      .sort((a, b) => a - b);
    const fisher = ev.filter((e) => e.type === 'fisher');
    return {
      ok: true,
      seconds,
      medianStepMs: d[d.length >> 1] ?? null,
      trF0: fisher[0]?.trF ?? null,
      fisherMs: fisher.slice(1).map((f) => f.ms),
    };
  };
  const gpu = runOn('webgpu');
  const wasm = runOn('wasm');
  fs.rmSync(tmp, { recursive: true, force: true });
  const trF0RelDiff =
    gpu.ok && wasm.ok ? Math.abs(gpu.trF0 - wasm.trF0) / Math.abs(wasm.trF0) : null;
  return {
    ok: gpu.ok,
    adapter: w.detail,
    autoSkip: w.autoSkip ?? null,
    webgpu: gpu,
    wasm,
    trF0RelDiff,
  };
}
