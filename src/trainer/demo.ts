/**
 * `fisher-lens demo`: the README's first command. A short small-LR / large-LR pair on the bundled MNIST, on the
 * CPU: the small learning rate's early Tr(F) peak is higher (the "catastrophic Fisher explosion").
 */
import { resolveConfig, type BackendName } from '../shared/config';
import type { RunSummary } from '../shared/protocol';
import { percent, prec } from '../shared/format';
import { createReporter } from './progress';
import { train } from './train';

export const DEMO_BASE = {
  dataset: { name: 'mnist', trainSize: 10000, testSize: 2000 },
  model: { arch: 'mlp', hidden: [256, 256] },
  optimizer: { momentum: 0.9, batchSize: 128 },
  schedule: { steps: 400 },
  fisher: { every: 5, probeSize: 128, lossThreshold: 0.5, warmupSteps: 60 },
  evalEvery: 100,
  seed: 1,
} as const;

export const DEMO_RUNS = [
  { name: 'demo-large-lr', lr: 0.1 },
  { name: 'demo-small-lr', lr: 0.01 },
] as const;

export async function runDemo(opts: {
  runsRoot: string;
  backend?: BackendName;
  steps?: number;
  /** The Python interpreter for the torch backends. */
  python?: string;
}): Promise<RunSummary[]> {
  const out: RunSummary[] = [];
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  for (const r of DEMO_RUNS) {
    const cfg = resolveConfig({
      ...structuredClone(DEMO_BASE),
      name: r.name,
      optimizer: { ...DEMO_BASE.optimizer, lr: r.lr },
      schedule: { steps: opts.steps ?? DEMO_BASE.schedule.steps },
      backend: opts.backend ?? 'auto',
    });
    const reporter = createReporter({ mode: 'progress', label: `[${r.name}]` });
    const s = await train({
      config: cfg,
      runsRoot: opts.runsRoot,
      runId: `${stamp}-${r.name}`,
      sinks: [reporter],
      handleSignals: true,
      python: opts.python,
    });
    reporter.done(s);
    out.push(s);
    if (s.state !== 'completed') break;
  }
  console.log('\nrun             lr     peak Tr(F)  at step  Tr(F_i)  test acc');
  out.forEach((s, i) => {
    console.log(
      `${DEMO_RUNS[i].name.padEnd(15)} ${String(DEMO_RUNS[i].lr).padEnd(6)} ${prec(s.peakTrF, 3).padStart(10)}  ${String(s.peakStep ?? '–').padStart(7)}  ${prec(s.trFi, 3).padStart(7)}  ${percent(s.finalTestAcc)}`,
    );
  });
  if (out.length === 2 && out[0].peakTrF && out[1].peakTrF) {
    console.log(
      `\nsmall-LR peak / large-LR peak = ${(out[1].peakTrF / out[0].peakTrF).toFixed(2)} (paper, SimpleCNN on CIFAR-10: 52.05 / 24.21 = 2.15)`,
    );
  }
  console.log(`runs saved under ${opts.runsRoot}`);
  return out;
}
