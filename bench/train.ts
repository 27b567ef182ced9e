// Training-loop benchmarks, measured side by side in one process:
//   - per-step overhead of the Fisher penalty recomputed every 10 steps (the paper's trick) vs plain SGD,
//     and of FP every step, on the real training loop (`train`), interleaved A/B/A/B to share the noise;
//   - the step time of each backend that loads here (MLP and SimpleCNN, batch 128).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveConfig } from '../src/shared/config';
import { train } from '../src/trainer/train';
import { AUTO_ORDER, probeOne, tfjs, type ConcreteBackend } from '../src/trainer/backend';
import { installPatches, createModel, lossAndGradients } from '../src/core';

const median = (a: number[]) => {
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/**
 * From the unthrottled step events of one run, after `skip` steps: the median over windows of 10 steps of the mean
 * step time (a penalty step every 10 counts once per window), and the median time of the steps whose index is a
 * multiple of 10 (the penalty steps when `penalty.every` is 10) and of the others.
 */
async function stepMs(
  cfgPartial: object,
  runsRoot: string,
  id: string,
  skip: number,
): Promise<{ window: number; every10th: number; others: number }> {
  const cfg = resolveConfig(cfgPartial);
  const times: number[] = [];
  const s = await train({
    config: cfg,
    runsRoot,
    runId: id,
    onEvent: (e) => {
      if (e.type === 'step') times.push(performance.now());
    },
  });
  if (s.state !== 'completed') throw new Error(`bench run ${id} ended ${s.state}: ${s.error}`);
  // times[i] is when step index i finished, so times[i] − times[i−1] is the duration of step index i.
  const d: { step: number; ms: number }[] = [];
  for (let i = skip + 1; i < times.length; i++) d.push({ step: i, ms: times[i] - times[i - 1] });
  const windows: number[] = [];
  for (let i = 0; i + 10 <= d.length; i += 10)
    windows.push(d.slice(i, i + 10).reduce((a, b) => a + b.ms, 0) / 10);
  return {
    window: median(windows),
    every10th: median(d.filter((x) => x.step % 10 === 0).map((x) => x.ms)),
    others: median(d.filter((x) => x.step % 10 !== 0).map((x) => x.ms)),
  };
}

export interface PenaltyOverheadRow {
  model: string;
  plainMs: number;
  fpEvery10Ms: number;
  fpEvery1Ms: number;
  every10Ratio: number;
  every1Ratio: number;
  /** With FP every 10: median time of the FP steps and of the steps that only add the cached penalty gradient. */
  fpStepMs: number;
  reuseStepMs: number;
}

export async function runPenaltyOverheadBench(
  opts: {
    models?: ('mlp' | 'simplecnn')[];
    steps?: number;
    rounds?: number;
    log?: (s: string) => void;
  } = {},
): Promise<PenaltyOverheadRow[]> {
  const log = opts.log ?? console.log;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-bench-'));
  const rows: PenaltyOverheadRow[] = [];
  for (const arch of opts.models ?? ['mlp', 'simplecnn']) {
    const steps = opts.steps ?? (arch === 'mlp' ? 120 : 60);
    const base = {
      dataset: { name: 'mnist', trainSize: 4096, testSize: 128 },
      model: arch === 'mlp' ? { arch, hidden: [512, 512] } : { arch },
      optimizer: { lr: 0.01, batchSize: 128 },
      schedule: { steps },
      fisher: { every: 100000, probeSize: 16 },
      evalEvery: 100000,
      checkpoint: false,
      backend: 'wasm',
    };
    const variants = {
      plain: { ...base, penalty: { kind: 'none' } },
      every10: { ...base, penalty: { kind: 'fisher', alpha: 0.01, every: 10 } },
      every1: { ...base, penalty: { kind: 'fisher', alpha: 0.01, every: 1 } },
    };
    const res: Record<string, number[]> = { plain: [], every10: [], every1: [] };
    const fpSteps: number[] = [];
    const reuseSteps: number[] = [];
    for (let r = 0; r < (opts.rounds ?? 2); r++) {
      for (const [k, v] of Object.entries(variants)) {
        if (k === 'every1' && r > 0) continue; // one round is enough for the expensive variant
        const m = await stepMs(v, root, `${arch}-${k}-${r}`, 10);
        res[k].push(m.window);
        if (k === 'every10') {
          fpSteps.push(m.every10th);
          reuseSteps.push(m.others);
        }
      }
    }
    const row = {
      model: arch,
      plainMs: median(res.plain),
      fpEvery10Ms: median(res.every10),
      fpEvery1Ms: median(res.every1),
      every10Ratio: median(res.every10) / median(res.plain),
      every1Ratio: median(res.every1) / median(res.plain),
      fpStepMs: median(fpSteps),
      reuseStepMs: median(reuseSteps),
    };
    rows.push(row);
    log(
      `${arch.padEnd(10)} plain ${row.plainMs.toFixed(1)} ms/step | FP every 10: ${row.fpEvery10Ms.toFixed(1)} ms (${row.every10Ratio.toFixed(2)}×, target ≤ 1.15×) | FP every step: ${row.fpEvery1Ms.toFixed(1)} ms (${row.every1Ratio.toFixed(2)}×)`,
    );
    log(
      `${''.padEnd(10)} with FP every 10: the FP step ${row.fpStepMs.toFixed(1)} ms, the other steps (reusing the cached penalty gradient) ${row.reuseStepMs.toFixed(1)} ms`,
    );
  }
  fs.rmSync(root, { recursive: true, force: true });
  return rows;
}

/** Step time (forward + backward, batch 128) of each backend that loads here. Each backend in a child process. */
export async function runBackendBench(
  opts: { log?: (s: string) => void } = {},
): Promise<{ backend: string; ok: boolean; detail: string; mlpMs?: number; cnnMs?: number }[]> {
  const log = opts.log ?? console.log;
  const { spawnSync } = await import('node:child_process');
  const out = [];
  for (const b of AUTO_ORDER) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', __filename, '--backend-child', b], {
      encoding: 'utf8',
      timeout: 600_000,
    });
    let row: { backend: string; ok: boolean; detail: string; mlpMs?: number; cnnMs?: number };
    try {
      row = JSON.parse((r.stdout ?? '').trim().split('\n').pop() ?? '');
    } catch {
      row = {
        backend: b,
        ok: false,
        detail: `child exited ${r.status ?? r.signal}: ${(r.stderr ?? '').trim().split('\n').pop()}`,
      };
    }
    out.push(row);
    log(
      row.ok
        ? `${b.padEnd(15)} MLP 784-512-512-10 step ${row.mlpMs!.toFixed(1)} ms | SimpleCNN step ${row.cnnMs!.toFixed(1)} ms`
        : `${b.padEnd(15)} not available: ${row.detail}`,
    );
  }
  return out;
}

async function backendChild(b: ConcreteBackend): Promise<void> {
  const p = await probeOne(b);
  if (!p.ok) {
    console.log(JSON.stringify({ backend: b, ok: false, detail: p.detail }));
    return;
  }
  const tf = tfjs();
  installPatches(tf.getBackend());
  const time = async (arch: 'mlp' | 'simplecnn', reps: number) => {
    const model = createModel(
      arch === 'mlp' ? { arch, width: 1, hidden: [512, 512] } : { arch, width: 1 },
      [28, 28, 1],
      10,
      1,
    );
    const x = tf.randomUniform([128, 28, 28, 1]) as import('@tensorflow/tfjs').Tensor4D;
    const y = Int32Array.from({ length: 128 }, (_, i) => i % 10);
    const t: number[] = [];
    for (let i = 0; i < reps + 1; i++) {
      const t0 = performance.now();
      const r = await lossAndGradients(model, x, y);
      tf.dispose(r.grads);
      if (i > 0) t.push(performance.now() - t0);
    }
    x.dispose();
    model.dispose();
    return median(t);
  };
  // Fewer repetitions where a step takes seconds: plain JS, and a software WebGPU adapter (lavapipe).
  const slow = b === 'cpu' || p.autoSkip !== undefined;
  console.log(
    JSON.stringify({
      backend: b,
      ok: true,
      detail: p.detail,
      mlpMs: await time('mlp', slow ? 3 : 10),
      cnnMs: await time('simplecnn', slow ? 1 : 5),
    }),
  );
}

if (process.argv[2] === '--backend-child') void backendChild(process.argv[3] as ConcreteBackend);
