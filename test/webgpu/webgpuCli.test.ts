/**
 * The webgpu backend end to end (run by `npm run test:webgpu`, after the maths tests on webgpu): doctor names the
 * adapter; a short real-MNIST run through the CLI completes on it, exits by itself, and starts where the cpu backend
 * starts (Tr(F) at step 0, the first loss, ≤ 1e-4 relative); `auto` never takes a software adapter. Skipped, with
 * the reason, where Dawn finds no adapter (scripts/setup-lavapipe.sh gives it one on Debian 12).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { webgpuUnavailable } from './webgpuProbe';

const root = path.resolve(__dirname, '..', '..');
const bin = path.join(root, 'bin', 'fisher-lens.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-webgpu-'));
const skip = webgpuUnavailable() ?? false;

before(() => {
  if (skip) return;
  const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'build.mjs')], {
    cwd: root,
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface Doctor {
  backends: { backend: string; ok: boolean; detail: string; autoSkip?: string }[];
  auto: string | null;
}

test(
  'doctor names the adapter, its vendor and driver; auto takes it only when it is a GPU',
  { skip, timeout: 180_000 },
  () => {
    const r = spawnSync(process.execPath, [bin, 'doctor', '--json'], {
      encoding: 'utf8',
      timeout: 170_000,
    });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as Doctor;
    const w = out.backends.find((b) => b.backend === 'webgpu')!;
    assert.equal(w.ok, true, w.detail);
    assert.match(w.detail, /(software adapter|GPU) .+ \(vendor .+; driver .+\)/);
    if (/^software adapter/.test(w.detail)) {
      assert.match(w.autoSkip ?? '', /slower than wasm/);
      assert.notEqual(out.auto, 'webgpu');
    } else assert.equal(w.autoSkip, undefined);
  },
);

function run(backend: 'webgpu' | 'cpu', id: string) {
  const cfg = path.join(tmp, `${id}.fisher.json`);
  fs.writeFileSync(
    cfg,
    JSON.stringify({
      seed: 3,
      dataset: { name: 'mnist', trainSize: 96, testSize: 64 },
      model: { arch: 'simplecnn', width: 0.25 },
      optimizer: { lr: 0.02, batchSize: 16 },
      schedule: { steps: 4 },
      fisher: { every: 2, probeSize: 16 },
      penalty: { kind: 'fisher', alpha: 0.01, every: 2 },
      evalEvery: 2,
      backend,
    }),
  );
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [bin, 'train', cfg, '--runs-dir', tmp, '--run-id', id], {
    encoding: 'utf8',
    timeout: 400_000,
  });
  const events = fs.existsSync(path.join(tmp, id, 'events.jsonl'))
    ? fs
        .readFileSync(path.join(tmp, id, 'events.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>)
    : [];
  return { r, events, seconds: (Date.now() - t0) / 1000 };
}

test(
  'a short MNIST run (SimpleCNN, Fisher penalty, Tr(F), eval) on webgpu completes through the CLI, exits by itself, and matches the cpu backend at its start',
  { skip, timeout: 900_000 },
  (t) => {
    const gpu = run('webgpu', 'webgpu');
    // A timeout here (spawnSync kills it: status null) is the process that does not exit once done.
    assert.equal(gpu.r.status, 0, `status ${gpu.r.status} signal ${gpu.r.signal}\n${gpu.r.stderr}`);
    assert.doesNotMatch(gpu.r.stderr, /OffscreenCanvas|no usable backend|at .+\.js:\d+/);
    const header = gpu.events.find((e) => e.type === 'header') as { backend?: unknown };
    assert.match(JSON.stringify(header.backend), /webgpu/);
    const status = JSON.parse(fs.readFileSync(path.join(tmp, 'webgpu', 'status.json'), 'utf8'));
    assert.equal(status.state, 'completed');
    const fisher = gpu.events.filter((e) => e.type === 'fisher');
    const steps = gpu.events.filter((e) => e.type === 'step');
    assert.equal(steps.length, 4);
    assert.ok(fisher.length >= 3 && fisher.every((f) => Number(f.trF) > 0));
    assert.ok(steps.every((s) => Number.isFinite(s.loss) && s.penalty !== undefined));
    t.diagnostic(`webgpu run: ${gpu.seconds.toFixed(1)} s (shader compilation included)`);

    const cpu = run('cpu', 'cpu');
    assert.equal(cpu.r.status, 0, cpu.r.stderr);
    const first = (ev: Record<string, unknown>[], type: string) => ev.find((e) => e.type === type)!;
    const rel = (a: unknown, b: unknown) => Math.abs(Number(a) - Number(b)) / Math.abs(Number(b));
    const f0 = [first(gpu.events, 'fisher'), first(cpu.events, 'fisher')];
    assert.ok(
      rel(f0[0].trF, f0[1].trF) <= 1e-4,
      `Tr(F) at step 0: webgpu ${f0[0].trF} vs cpu ${f0[1].trF}`,
    );
    assert.ok(
      rel(f0[0].trFB, f0[1].trFB) <= 1e-4,
      `Tr(F_B): webgpu ${f0[0].trFB} vs cpu ${f0[1].trFB}`,
    );
    const s0 = [first(gpu.events, 'step'), first(cpu.events, 'step')];
    assert.ok(
      rel(s0[0].loss, s0[1].loss) <= 1e-4,
      `first loss: webgpu ${s0[0].loss} vs cpu ${s0[1].loss}`,
    );
    assert.ok(rel(s0[0].gradNorm, s0[1].gradNorm) <= 1e-4, `first ‖g‖ (with the FP gradient)`);
  },
);
