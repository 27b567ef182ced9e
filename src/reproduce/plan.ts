/**
 * The reproduction plan, declaratively: options → scaled-down set-up → run specs grouped by claim. Pure (no I/O,
 * no tfjs): every run is an ordinary resolved run config with a deterministic id, so a rerun finds the runs it
 * already has, and runs shared between claims (η* and η*÷10 appear in (a), (b) and (c)) are trained once.
 *
 * Two phases, because claim (a) needs η*: the LR search ({@link searchRuns}) runs first, {@link pickEtaStar}
 * reads its results, then {@link buildPlan} lays out the claims around the chosen η*.
 */
import {
  FOLDER_DATASETS,
  parseDatasetSpec,
  resolveConfig,
  type BackendName,
  type RunConfig,
} from '../shared/config';
import { round3 } from './stats';

export type ClaimId = 'a' | 'b' | 'c' | 'e';
export type PenaltyKind = 'none' | 'fisher' | 'gp' | 'gpr' | 'gpx';

/** Which data the reproduction uses: any dataset the trainer reads. */
export interface DatasetChoice {
  name: 'mnist' | 'fashion-mnist' | 'idx' | 'cifar10' | 'cifar100' | 'synthetic';
  path?: string;
  /** Filesystem-safe label for the default output folder and the report. */
  label: string;
}

/**
 * Parse `--dataset`: `mnist`, `fashion-mnist`, `synthetic`, or `idx:DIR`, `cifar10:DIR`, `cifar100:DIR`
 * (a folder of the dataset's files). Throws with the accepted forms on anything else.
 */
export function parseDatasetArg(arg: string): DatasetChoice {
  const d = parseDatasetSpec(arg);
  if (d && d.split === undefined && (d.path !== undefined) === FOLDER_DATASETS.includes(d.name)) {
    if (d.path === undefined) return { name: d.name, label: d.name };
    const base =
      d.path
        .replace(/[\\/]+$/, '')
        .split(/[\\/]/)
        .pop() || d.name;
    return {
      name: d.name,
      path: d.path,
      label: `${d.name}-${base.replace(/[^A-Za-z0-9._-]+/g, '-')}`,
    };
  }
  throw new Error(
    `--dataset: got "${arg}"; expected mnist, fashion-mnist, synthetic, idx:DIR, cifar10:DIR or cifar100:DIR`,
  );
}

export interface ReproOptions {
  dataset: DatasetChoice;
  /** Fewer steps, seeds and arms; the same code path (CI). */
  quick: boolean;
  /** Seeds per arm (default: 3 full, 2 quick). */
  seeds?: number;
  backend?: BackendName;
  /** Programmatic overrides of the set-up (tests use tiny set-ups). */
  setup?: Partial<Setup>;
}

/** The scaled-down set-up: everything the runs and the verdicts depend on, recorded in the report. */
export interface Setup {
  quick: boolean;
  dataset: {
    name: DatasetChoice['name'];
    path?: string;
    label: string;
    trainSize: number;
    testSize: number;
  };
  numClasses: number;
  model:
    RunConfig['model'] | { arch: RunConfig['model']['arch']; width?: number; hidden?: number[] };
  /** One-line description of the model for the report. */
  modelLabel: string;
  batchSize: number;
  momentum: number;
  /** Training length of every run of claims (a)–(c) and the LR search. */
  steps: number;
  /** Training length of the label-noise runs of claim (e). */
  noiseSteps: number;
  /** LR schedule: ×gamma at these fractions of the run (the paper: 0.5, 0.75). */
  milestones: number[];
  seeds: number[];
  search: { grid: number[]; seed: number };
  /** (b): learning rates as multiples of η*. */
  bFactors: number[];
  /** (c): penalties applied at η*÷10 (besides the plain η*÷10 and η* runs). */
  penalties: Exclude<PenaltyKind, 'none'>[];
  /** Penalty coefficient α per kind, and the recompute interval (paper: every 10 steps). */
  alpha: Record<Exclude<PenaltyKind, 'none'>, number>;
  penaltyEvery: number;
  /** (e): label-noise fractions; the noisy runs use η*÷10 (the paper's "baseline") with and without FP. */
  noiseFractions: number[];
  noiseTrackSize: number;
  fisher: { every: number; probeSize: number; lossThreshold: number; warmupSteps: number };
  /** Early-peak window for (a)/(c): moving-average width (points) and the step range looked at. */
  peak: { from: number; to: number; width: number };
  evalEvery: number;
  backend: BackendName;
}

/** Number of classes of a dataset choice (for the loss threshold ε = 0.25·ln K). */
function classesOf(d: DatasetChoice, over?: Partial<Setup>): number {
  if (over?.numClasses) return over.numClasses;
  return d.name === 'cifar100' ? 100 : 10;
}

/**
 * The scaled-down set-up for the options. The numbers were chosen by measuring step times on this project's
 * 2-core CPU machine (docs/reproduction/README.md): a 2-hidden-layer MLP on a 5k training subset keeps a
 * full reproduction within ~90 minutes and `--quick` within ~10.
 */
export function setupFor(opts: ReproOptions): Setup {
  const quick = opts.quick;
  const nSeeds = opts.seeds ?? (quick ? 2 : 3);
  const K = classesOf(opts.dataset, opts.setup);
  // α = 0.1 (the top of the paper's range [0.001, 0.1]): at the paper's centre 0.01 the penalty left Tr(F) of
  // this MLP unchanged (measured 152 vs 149), at 1.0 training diverged (docs/reproduction/README.md).
  const alpha = 0.1;
  const base: Setup = {
    quick,
    dataset: {
      name: opts.dataset.name,
      path: opts.dataset.path,
      label: opts.dataset.label,
      trainSize: 5000,
      testSize: 2000,
    },
    numClasses: K,
    model: { arch: 'mlp', hidden: [256, 256] },
    modelLabel: 'MLP, two hidden layers of 256 ReLU units',
    batchSize: 128,
    momentum: 0.9,
    steps: quick ? 300 : 1200,
    noiseSteps: quick ? 500 : 2000,
    milestones: [0.5, 0.75],
    seeds: Array.from({ length: nSeeds }, (_, i) => i),
    search: { grid: quick ? [0.03, 0.1, 0.3] : [0.02, 0.05, 0.1, 0.2, 0.5], seed: 1000 },
    bFactors: quick ? [1, 0.316, 0.1] : [1, 0.562, 0.316, 0.178, 0.1],
    penalties: quick ? ['fisher', 'gp'] : ['fisher', 'gp', 'gpr', 'gpx'],
    alpha: { fisher: alpha, gp: alpha, gpr: alpha, gpx: alpha },
    penaltyEvery: 10,
    noiseFractions: quick ? [0.25] : [0.25, 0.5],
    noiseTrackSize: 500,
    fisher: {
      every: 10,
      probeSize: 128,
      lossThreshold: round3(0.25 * Math.log(K)),
      warmupSteps: 20,
    },
    // The early phase: after the detector's warm-up, up to step 1000 (the paper's early phase) but before the first LR drop.
    peak: { from: 20, to: Math.min(1000, Math.floor(0.5 * (quick ? 300 : 1200))), width: 5 },
    evalEvery: 100,
    backend: opts.backend ?? 'auto',
  };
  const s = { ...base, ...opts.setup };
  if (!opts.setup?.peak)
    s.peak = { ...s.peak, to: Math.min(1000, Math.floor(s.milestones[0] * s.steps)) };
  if (opts.seeds !== undefined) s.seeds = Array.from({ length: opts.seeds }, (_, i) => i);
  return s;
}

/** One run of the reproduction: an ordinary run config with a deterministic id (also its run name). */
export interface RunSpec {
  id: string;
  config: RunConfig;
  seed: number;
  lr: number;
  penalty: PenaltyKind;
  noise: number;
  /** Optimisation steps (for progress and ETA). */
  steps: number;
}

/** An arm of a claim: one configuration, one run per seed. */
export interface Arm {
  key: string;
  label: string;
  lr: number;
  penalty: PenaltyKind;
  noise: number;
  runIds: string[];
}

export interface ClaimPlan {
  claim: ClaimId;
  title: string;
  arms: Arm[];
}

export interface Plan {
  setup: Setup;
  etaStar: number;
  /** How η* was chosen (LR, test accuracy, state per search run). */
  search: Arm[];
  claims: ClaimPlan[];
  /** Every run once (shared runs deduplicated), in execution order. */
  runs: RunSpec[];
}

const lrTag = (lr: number) => `lr${String(round3(lr))}`;
const PEN_TAG: Record<PenaltyKind, string> = {
  none: '',
  fisher: '-fp',
  gp: '-gp',
  gpr: '-gpr',
  gpx: '-gpx',
};
export const PENALTY_LABEL: Record<PenaltyKind, string> = {
  none: 'none',
  fisher: 'FP',
  gp: 'GP',
  gpr: 'GPr',
  gpx: 'GPx',
};

function runSpec(
  s: Setup,
  p: {
    prefix?: string;
    lr: number;
    penalty: PenaltyKind;
    noise: number;
    seed: number;
    steps: number;
  },
): RunSpec {
  const noiseTag = p.noise > 0 ? `-n${Math.round(p.noise * 100)}` : '';
  const id = `${p.prefix ?? ''}${lrTag(p.lr)}${noiseTag}${PEN_TAG[p.penalty]}-s${p.seed}`;
  const partial = {
    name: id,
    seed: p.seed,
    dataset: {
      name: s.dataset.name,
      ...(s.dataset.path ? { path: s.dataset.path } : {}),
      trainSize: s.dataset.trainSize,
      testSize: s.dataset.testSize,
    },
    model: s.model,
    optimizer: { lr: round3(p.lr), momentum: s.momentum, weightDecay: 0, batchSize: s.batchSize },
    schedule: { steps: p.steps, lrSchedule: 'step', milestones: s.milestones, gamma: 0.1 },
    labelNoise: { fraction: p.noise, seed: p.seed, forceChange: true, trackSize: s.noiseTrackSize },
    fisher: s.fisher,
    penalty:
      p.penalty === 'none'
        ? { kind: 'none' }
        : { kind: p.penalty, alpha: s.alpha[p.penalty], every: s.penaltyEvery, startEpoch: 0 },
    evalEvery: s.evalEvery,
    checkpoint: false,
    backend: s.backend,
  };
  return {
    id,
    config: resolveConfig(partial, `reproduction run ${id}`),
    seed: p.seed,
    lr: round3(p.lr),
    penalty: p.penalty,
    noise: p.noise,
    steps: p.steps,
  };
}

/** Phase 1: the LR search, one seed (not used by the claims), the same set-up as the claim runs. */
export function searchRuns(s: Setup): RunSpec[] {
  return s.search.grid.map((lr) =>
    runSpec(s, {
      prefix: 'search-',
      lr,
      penalty: 'none',
      noise: 0,
      seed: s.search.seed,
      steps: s.steps,
    }),
  );
}

/** What the LR search needs from each of its runs. */
export interface SearchResult {
  lr: number;
  state: string;
  finalTestAcc: number | null;
}

/** The rule that picks η*, as printed in the report. */
export const ETA_RULE =
  'η* = the grid learning rate with the highest final test accuracy among search runs that completed; ' +
  'learning rates within 0.5 percentage points of the best count as tied and the largest of them is taken.';

/** Pure: η* from the search results by {@link ETA_RULE}. Throws when no search run completed. */
export function pickEtaStar(results: readonly SearchResult[]): number {
  const ok = results.filter(
    (r) => r.state === 'completed' && r.finalTestAcc !== null && Number.isFinite(r.finalTestAcc),
  );
  if (!ok.length)
    throw new Error('LR search: no search run completed with a test accuracy; cannot choose η*');
  const best = Math.max(...ok.map((r) => r.finalTestAcc as number));
  return Math.max(...ok.filter((r) => (r.finalTestAcc as number) >= best - 0.005).map((r) => r.lr));
}

/** Phase 2: the claims' runs around η*, grouped by claim; shared configurations appear once in `runs`. */
export function buildPlan(s: Setup, etaStar: number): Plan {
  const runs = new Map<string, RunSpec>();
  const arm = (
    key: string,
    label: string,
    p: { lr: number; penalty: PenaltyKind; noise: number; steps: number },
  ): Arm => {
    const ids = s.seeds.map((seed) => {
      const r = runSpec(s, { ...p, seed });
      if (!runs.has(r.id)) runs.set(r.id, r);
      return r.id;
    });
    return { key, label, lr: round3(p.lr), penalty: p.penalty, noise: p.noise, runIds: ids };
  };
  const small = etaStar / 10;
  const plain = (lr: number) => ({ lr, penalty: 'none' as const, noise: 0, steps: s.steps });
  const searchArms: Arm[] = searchRuns(s).map((r) => ({
    key: `search-${r.lr}`,
    label: `η = ${r.lr}`,
    lr: r.lr,
    penalty: 'none',
    noise: 0,
    runIds: [r.id],
  }));

  const claims: ClaimPlan[] = [];
  claims.push({
    claim: 'a',
    title: 'Catastrophic Fisher explosion: η*/10 reaches a higher early Tr(F) peak than η*',
    arms: [
      arm('eta', `η* = ${round3(etaStar)}`, plain(etaStar)),
      arm('small', `η*/10 = ${round3(small)}`, plain(small)),
    ],
  });
  const bArms = [...s.bFactors]
    .sort((x, y) => x - y)
    .map((f) =>
      arm(
        `lr-${round3(f)}`,
        `η = ${round3(etaStar * f)} (${f === 1 ? 'η*' : f === 0.1 ? 'η*/10' : `${round3(f)}·η*`})`,
        plain(etaStar * f),
      ),
    );
  claims.push({
    claim: 'b',
    title: 'Early Tr(F_i) predicts final test accuracy (negative rank correlation)',
    arms: bArms,
  });
  claims.push({
    claim: 'c',
    title: 'Gradient-norm penalties at η*/10 close the gap to η* (test accuracy and peak Tr(F))',
    arms: [
      arm('eta', `η* = ${round3(etaStar)}`, plain(etaStar)),
      arm('small', `η*/10 = ${round3(small)} (baseline)`, plain(small)),
      ...s.penalties.map((k) =>
        arm(k, `η*/10 + ${PENALTY_LABEL[k]} (α ${s.alpha[k]})`, {
          lr: small,
          penalty: k,
          noise: 0,
          steps: s.steps,
        }),
      ),
    ],
  });
  const eArms: Arm[] = [];
  for (const f of s.noiseFractions) {
    const pct = Math.round(f * 100);
    eArms.push(
      arm(`n${pct}`, `${pct}% noise, η*/10`, {
        lr: small,
        penalty: 'none',
        noise: f,
        steps: s.noiseSteps,
      }),
    );
    eArms.push(
      arm(`n${pct}-fp`, `${pct}% noise, η*/10 + FP (α ${s.alpha.fisher})`, {
        lr: small,
        penalty: 'fisher',
        noise: f,
        steps: s.noiseSteps,
      }),
    );
  }
  claims.push({
    claim: 'e',
    title: 'Fisher penalty limits memorisation of noisy labels',
    arms: eArms,
  });
  return {
    setup: s,
    etaStar: round3(etaStar),
    search: searchArms,
    claims,
    runs: [...runs.values()],
  };
}
