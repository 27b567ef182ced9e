// The PyTorch engine next to the wasm engine, measured in one run (issue 9): a plain PyTorch step (the peer:
// nn.Module + torch.optim.SGD), the torch engine's step without measurement, with exact Tr(F) over 128
// examples, with FP every 10 — python/bench.py --json — and the wasm engine's step, exact Tr(F) and FP-every-10
// (step + FP/10, bench/fisher.ts) for the MLP 784-512-512-10 and SimpleCNN, batch 128.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  probePython,
  pythonCommand,
  engineEnv,
  engineSourceDir,
} from '../src/trainer/torch/python';
import { runFisherBench } from './fisher';

interface PyResult {
  torch: string;
  device: string;
  deviceName: string;
  threads: number;
  results: Record<
    string,
    {
      ms: { peer: number; engine: number; trF: number; fp10: number; fp10Trained?: number };
      'engine/peer': number;
      'trF/engine step': number;
      'fp10/peer': number;
      trainedEpochs?: number;
      sampledLabelsDiffer?: number;
      'fp10/peer trained'?: number;
    }
  >;
}

export async function runTorchBench(
  opts: { python?: string; device?: string; rounds?: number; log?: (s: string) => void } = {},
) {
  const log = opts.log ?? console.log;
  const python = pythonCommand(opts.python);
  const probe = probePython(python);
  if (probe.problem) {
    log(`(skipped: ${probe.problem})`);
    return null;
  }
  const dir = engineSourceDir()!;
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'fl-bench-torch-')), 'bench.json');
  const r = spawnSync(
    python,
    [
      path.join(dir, 'bench.py'),
      '--device',
      opts.device ?? 'cpu',
      '--rounds',
      String(opts.rounds ?? 5),
      '--json',
      out,
    ],
    { encoding: 'utf8', env: engineEnv(dir), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  if (r.status !== 0)
    throw new Error(`python/bench.py failed: ${r.stderr.trim().split('\n').pop()}`);
  const py = JSON.parse(fs.readFileSync(out, 'utf8')) as PyResult;
  fs.rmSync(path.dirname(out), { recursive: true, force: true });
  const wasm = await runFisherBench({ backend: 'wasm', reps: 3, naiveReps: 1, log: () => {} });
  const f = (v: number) => v.toFixed(1).padStart(8);
  log(
    `torch ${py.torch} on ${py.device} (${py.deviceName}), ${py.threads} threads; wasm single-threaded; batch 128; ms per step (median); load ${os.loadavg()[0].toFixed(1)}`,
  );
  log(
    `${'model'.padEnd(10)} ${'peer'.padStart(8)} ${'torch'.padStart(8)} ${'×peer'.padStart(6)} ${'t.TrF'.padStart(8)} ${'/step'.padStart(6)} ${'t.FP10'.padStart(8)} ${'×peer'.padStart(6)} | ${'wasm'.padStart(8)} ${'w.TrF'.padStart(8)} ${'w.FP10'.padStart(8)} | ${'wasm/torch'.padStart(10)}`,
  );
  const rows = [];
  for (const [i, arch] of (['mlp', 'simplecnn'] as const).entries()) {
    const res = py.results[arch];
    const p = res?.ms;
    const w = wasm.rows[i];
    if (!res || !p || !w) continue;
    const wStep = w.step.median;
    const wTr = w.traceVectorised.median;
    const wFp10 = wStep + w.fisherPenalty.median / 10;
    rows.push({ arch, torch: p, wasm: { step: wStep, trF: wTr, fp10: wFp10 } });
    log(
      `${arch.padEnd(10)} ${f(p.peer)} ${f(p.engine)} ${res['engine/peer'].toFixed(2).padStart(6)} ${f(p.trF)} ${res['trF/engine step'].toFixed(2).padStart(6)} ${f(p.fp10)} ${res['fp10/peer'].toFixed(2).padStart(6)} | ${f(wStep)} ${f(wTr)} ${f(wFp10)} | ${(wStep / p.engine).toFixed(1).padStart(9)}×`,
    );
    if (p.fp10Trained !== undefined && res['fp10/peer trained'] !== undefined)
      log(
        `${''.padEnd(10)} after ${res.trainedEpochs} epochs of the FP run (${Math.round(100 * (res.sampledLabelsDiffer ?? 0))} % of sampled labels differ from the true ones): t.FP10 ${f(p.fp10Trained)} ${res['fp10/peer trained'].toFixed(2).padStart(6)}× peer`,
      );
  }
  log(
    'targets: torch engine ≤ 1.1× peer; Tr(F)/128 ≤ 1 step; FP every 10 ≤ 1.15× peer. Ratios: the median of per-round ratios. wasm FP10 = step + FP/10.',
  );
  return { python: py, rows };
}
