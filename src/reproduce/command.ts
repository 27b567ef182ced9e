/**
 * `fisher-lens reproduce`: the paper's claims (a), (b), (c), (e) as seeded groups of ordinary runs, then a
 * report. The CLI calls {@link registerReproduceCommand} with the runner that trains one config (this folder never
 * imports the trainer).
 */
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { BACKENDS, resolveDatasetPath, type BackendName } from '../shared/config';
import {
  buildPlan,
  parseDatasetArg,
  searchRuns,
  setupFor,
  type DatasetChoice,
  type ReproOptions,
} from './plan';
import { InterruptedError, defaultOut, planBound, reproduce, type Runner } from './orchestrate';
import { createReproProgress } from './progress';
import { noiseLengths } from './searches';

const datasetArg = (v: string): DatasetChoice => {
  try {
    return parseDatasetArg(v);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message.replace(/^--dataset: /, ''));
  }
};

const positiveInt = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1)
    throw new InvalidArgumentError(`${name} must be a positive integer (got "${v}")`);
  return n;
};

interface Flags {
  /** `slurm`: each run is a Slurm job (the runner comes from `runnerFor`); `local` (default): trained here. */
  launcher?: 'local' | 'slurm';
  /** JSON file of sbatch settings for `--launcher slurm` (a sweep file's `slurm` object). */
  slurm?: string;
  dataset: DatasetChoice;
  seeds?: number;
  quick?: boolean;
  out?: string;
  backend?: BackendName;
  dryRun?: boolean;
  /** false with --no-cnn. */
  cnn?: boolean;
}

/** Resolves a requested backend to the concrete one a run would get (`torch-cpu`, `wasm`, …); null if none. */
export type EngineProbe = (requested: BackendName) => Promise<string | null>;

/**
 * Measured cost per optimisation step on this project's 2-core CPU machine (ms, Tr(F) every 10 steps and the
 * evaluations included), and per run (engine start, data): the estimate printed before a reproduction starts.
 */
const STEP_MS = {
  torch: { mlp: 12, penalty: 17, cnn: 350, run: 4000 },
  tfjs: { mlp: 45, penalty: 62, cnn: 1300, run: 2000 },
};

/** Minutes the plan takes at most (every (e) length rule to its budget) on `backend`. */
export function estimateMinutes(opts: ReproOptions, backend: string | null): number {
  const b = planBound(setupFor(opts));
  const c = backend?.startsWith('torch') ? STEP_MS.torch : STEP_MS.tfjs;
  return (
    (b.mlpSteps * c.mlp + b.penaltySteps * c.penalty + b.cnnSteps * c.cnn + b.runs * c.run) / 60000
  );
}

const estimateLine = (opts: ReproOptions, backend: string | null) =>
  `estimate: at most ≈ ${Math.ceil(estimateMinutes(opts, backend))} min on ${backend ?? 'the default backend'} ` +
  `(${planBound(setupFor(opts)).runs} runs at most; the (e) length rule may stop sooner)`;

/** Options from the flags; a relative dataset folder is resolved against the working directory. */
export function optionsFromFlags(
  flags: Flags,
  cwd = process.cwd(),
): ReproOptions & { out: string } {
  let dataset = flags.dataset;
  if (dataset.path) dataset = { ...dataset, path: resolveDatasetPath(dataset.path, cwd) };
  const o: ReproOptions = {
    dataset,
    quick: !!flags.quick,
    seeds: flags.seeds,
    backend: flags.backend,
  };
  return { ...o, out: path.resolve(cwd, flags.out ?? defaultOut(o, cwd)) };
}

/**
 * Register `reproduce` on the `fisher-lens` program. `runnerFor` gives the runner of `--launcher slurm` (the CLI
 * passes src/sweep's Slurm runner); `runner` trains here; `engine` says which backend `--backend` resolves to here
 * (the SimpleCNN arms need the PyTorch engine).
 */
export function registerReproduceCommand(
  program: Command,
  runner: Runner,
  runnerFor?: (flags: { launcher: 'slurm'; slurm?: string }) => Runner,
  engine?: EngineProbe,
): Command {
  return program
    .command('reproduce')
    .description(
      "reproduce the paper's claims at CPU scale (LR search, Fisher explosion, Tr(F_i) vs accuracy, penalties, label noise) and write <out>/report.md",
    )
    .addOption(
      new Option(
        '--dataset <spec>',
        'mnist | fashion-mnist | synthetic | idx:DIR | cifar10:DIR | cifar100:DIR',
      )
        .argParser(datasetArg)
        .default(parseDatasetArg('mnist'), 'mnist'),
    )
    .option('--seeds <n>', 'seeds per arm (default 3; 2 with --quick)', positiveInt('--seeds'))
    .option('--quick', 'fewer steps, seeds and arms; the same code path (CI, ~10 min on MNIST)')
    .option(
      '--out <dir>',
      'output folder (runs in <out>/runs); default .fisherlens/reproduce/<dataset>[-quick]',
    )
    .addOption(
      new Option('--backend <name>', 'compute backend for every run').choices([...BACKENDS]),
    )
    .option('--no-cnn', 'leave out the SimpleCNN arms (added when the PyTorch engine is usable)')
    .option('--dry-run', 'print the plan (runs per claim, steps) and exit without training')
    .addOption(
      new Option(
        '--launcher <kind>',
        'local: train here; slurm: each run as a Slurm job on a shared --out (README "Sweeps on a cluster")',
      )
        .choices(['local', 'slurm'])
        .default('local'),
    )
    .option(
      '--slurm <file>',
      'for --launcher slurm: a JSON file of sbatch settings (partition, gres, time, cpusPerTask, mem, extraArgs, setup, node: the "slurm" object of a sweep file)',
    )
    .action(async (flags: Flags) => {
      const base = optionsFromFlags(flags);
      let backend: string | null = null;
      try {
        backend = engine ? await engine(base.backend ?? 'auto') : null;
      } catch {
        backend = null;
      }
      // SimpleCNN arms need the PyTorch engine (the tfjs engines take ~4× as long per step).
      const opts = { ...base, cnn: flags.cnn !== false && !!backend?.startsWith('torch') };
      if (flags.dryRun) {
        printPlan(opts);
        console.log(estimateLine(opts, backend));
        return;
      }
      const run =
        flags.launcher === 'slurm' && runnerFor
          ? runnerFor({ launcher: 'slurm', slurm: flags.slurm })
          : runner;

      process.stderr.write(`${estimateLine(opts, backend)}\n`);
      const ac = new AbortController();
      let signals = 0;
      const onSignal = () => {
        if (++signals > 1) process.exit(130);
        process.stderr.write(
          '\nstopping after the current step (press Ctrl-C again to quit at once)…\n',
        );
        ac.abort();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      const argv = [
        'fisher-lens',
        'reproduce',
        `--dataset ${flags.dataset.path ? `${flags.dataset.name}:${flags.dataset.path}` : flags.dataset.name}`,
        flags.quick ? '--quick' : '',
        flags.seeds ? `--seeds ${flags.seeds}` : '',
        flags.out ? `--out ${flags.out}` : '',
        flags.backend ? `--backend ${flags.backend}` : '',
        flags.launcher === 'slurm' ? '--launcher slurm' : '',
        flags.cnn === false ? '--no-cnn' : '',
      ]
        .filter(Boolean)
        .join(' ');
      try {
        const r = await reproduce(
          { ...opts, command: `npx ${argv}` },
          { runner: run, progress: createReproProgress(), signal: ac.signal },
        );
        const v = r.analysis;
        process.stderr.write(
          `\nη* = ${r.plan.etaStar}; verdicts: (a) ${v.a.verdict.verdict},${v.aCnn ? ` (a, SimpleCNN) ${v.aCnn.verdict.verdict},` : ''} (b) ${v.b.verdict.verdict}, (c) ${v.c.verdict.verdict}, (e) ${v.e.verdict.verdict}\n` +
            `${r.trained.length} run(s) trained, ${r.skipped.length} skipped${r.movedAside.length ? `, ${r.movedAside.length} moved aside to ${path.join(opts.out, 'aside')}` : ''}\n` +
            `report: ${r.reportPath}\n`,
        );
      } catch (e) {
        if (e instanceof InterruptedError) {
          process.stderr.write(`${e.message}\n`);
          process.exitCode = 130;
          return;
        }
        throw e;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}

function printPlan(opts: ReproOptions & { out: string }) {
  const s = setupFor(opts);
  const plan = buildPlan(s, s.search.grid[0]);
  const search = searchRuns(s);
  const b = planBound(s);
  console.log(`out: ${opts.out}`);
  console.log(
    `LR search: ${search.length} runs × ${s.steps} steps over η ∈ {${s.search.grid.join(', ')}}`,
  );
  if (s.cnn)
    console.log(
      `SimpleCNN LR search: ${s.cnn.grid.length} runs × ${s.cnn.steps} steps over η ∈ {${s.cnn.grid.join(', ')}}`,
    );
  console.log(
    `α search: ${s.penalties.length} penalties × α ∈ {${s.alphaSearch.grid.join(', ')}} at η*/10, ${s.steps} steps; FP × α ∈ {${s.alphaSearch.noiseGrid.join(', ')}} per noise level`,
  );
  console.log(
    `(e) length rule: ${noiseLengths(s).join(' → ')} steps until the baseline memorises ${s.noiseLength.target * 100}% of its noisy labels`,
  );
  for (const c of plan.claims)
    console.log(`(${c.claim}) ${c.title}: ${c.arms.length} arms × ${s.seeds.length} seeds`);
  console.log(
    `at most ${b.runs} runs (shared configurations trained once), ${b.steps} steps in all; run ids depend on η*, α and the (e) lengths (shown here for η* = ${s.search.grid[0]}, the grids' middle α and the first length)`,
  );
  for (const r of plan.runs) console.log(`  ${r.id} (${r.steps} steps)`);
}
