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
import { logspace, round3 } from './stats';

export type ClaimId = 'a' | 'a-cnn' | 'b' | 'c' | 'e';
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
  /** Add the SimpleCNN arms of claim (a) (the CLI sets this when the PyTorch engine is usable). */
  cnn?: boolean;
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
  /** First training length of the label-noise runs of claim (e) (the length rule's first try). */
  noiseSteps: number;
  /**
   * (e) length rule: the unpenalised noisy run on the search seed is trained at noiseSteps, 2×, 4×, … (at most
   * maxSteps) until its final noisy-subset training accuracy reaches `target`; the claim's runs use that length.
   */
  noiseLength: { target: number; maxSteps: number };
  /** LR schedule: ×gamma at these fractions of the run (the paper: 0.5, 0.75). */
  milestones: number[];
  seeds: number[];
  search: { grid: number[]; seed: number };
  /** (b): learning rates as multiples of η*. */
  bFactors: number[];
  /** (c): penalties applied at η*÷10 (besides the plain η*÷10 and η* runs). */
  penalties: Exclude<PenaltyKind, 'none'>[];
  /**
   * α searches on the search seed: `grid` for every penalty of (c) at η*÷10, `noiseGrid` for FP at each noise
   * level of (e); the rule is {@link ALPHA_RULE}.
   */
  alphaSearch: { grid: number[]; noiseGrid: number[] };
  /** Penalty recompute interval (paper: every 10 steps). */
  penaltyEvery: number;
  /** (e): label-noise fractions; the noisy runs use η*÷10 (the paper's "baseline") with and without FP. */
  noiseFractions: number[];
  noiseTrackSize: number;
  fisher: { every: number; probeSize: number; lossThreshold: number; warmupSteps: number };
  evalEvery: number;
  backend: BackendName;
  /** SimpleCNN arms of claim (a), with their own LR search (null: none; the MLP plan alone). */
  cnn: null | {
    model: { arch: RunConfig['model']['arch']; width?: number };
    modelLabel: string;
    steps: number;
    grid: number[];
  };
}

/** Penalty kinds that take a coefficient. */
export type PenaltyWithAlpha = Exclude<PenaltyKind, 'none'>;

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
    noiseSteps: quick ? 300 : 2000,
    // Half of the noisy labels: far above the 20 % under which (e) is inconclusive, short of full memorisation
    // (the paper's baseline reaches 99.6 %, at 300 epochs); the budget is 4× the first length (≈ 200 epochs of the
    // 5k subset, two thirds of the paper's 300), 2× in quick mode.
    noiseLength: { target: 0.5, maxSteps: quick ? 600 : 8000 },
    milestones: [0.5, 0.75],
    seeds: Array.from({ length: nSeeds }, (_, i) => i),
    search: { grid: quick ? [0.03, 0.1, 0.3] : [0.02, 0.05, 0.1, 0.2, 0.5], seed: 1000 },
    bFactors: quick ? [1, 0.316, 0.1] : [1, 0.562, 0.316, 0.178, 0.1],
    penalties: quick ? ['fisher', 'gp'] : ['fisher', 'gp', 'gpr', 'gpx'],
    // The paper's range [0.1v, 10v], v = 0.01, at every other of its 10 log-spaced points (5); for (e) every
    // fourth (3). Quick mode: the two upper decades' ends.
    alphaSearch: {
      grid: quick ? [0.01, 0.1] : logspace(0.001, 0.1, 5),
      noiseGrid: quick ? [0.01, 0.1] : logspace(0.001, 0.1, 3),
    },
    penaltyEvery: 10,
    noiseFractions: quick ? [0.25] : [0.25, 0.5],
    noiseTrackSize: 500,
    fisher: {
      every: 10,
      probeSize: 128,
      lossThreshold: round3(0.25 * Math.log(K)),
      warmupSteps: 20,
    },
    evalEvery: 100,
    backend: opts.backend ?? 'auto',
    cnn: opts.cnn
      ? {
          model: { arch: 'simplecnn' },
          modelLabel:
            "the paper's SimpleCNN (conv32-conv32-pool-conv64-conv64-pool-fc128-fc10, 3×3, ReLU, no BatchNorm)",
          steps: quick ? 60 : 400,
          grid: quick ? [0.03] : [0.01, 0.03, 0.1],
        }
      : null,
  };
  const s = { ...base, ...opts.setup };
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
  /** Penalty coefficient (penalised arms). */
  alpha?: number;
  /** Training length of each run of the arm. */
  steps: number;
}

export interface ClaimPlan {
  claim: ClaimId;
  title: string;
  arms: Arm[];
}

export interface Plan {
  setup: Setup;
  etaStar: number;
  /** η* of the SimpleCNN arms (null: no CNN arms). */
  cnnEtaStar: number | null;
  /** How η* was chosen (LR, test accuracy, state per search run). */
  search: Arm[];
  cnnSearch: Arm[];
  /** The α searches and the (e) length rule, as they ended (empty in a dry run). */
  alphaSearches: AlphaSearch[];
  noiseLengths: NoiseLength[];
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

/**
 * One run spec. The id names everything a choice can change (α of a penalised run; the length of a label-noise
 * run; the CNN), so a rerun with other choices never mistakes one run for another.
 */
export function runSpec(
  s: Setup,
  p: {
    prefix?: string;
    lr: number;
    penalty: PenaltyKind;
    alpha?: number;
    noise: number;
    seed: number;
    steps: number;
    model?: Setup['model'];
  },
): RunSpec {
  if (p.penalty !== 'none' && !(typeof p.alpha === 'number' && p.alpha > 0))
    throw new Error(`run spec: penalty ${p.penalty} needs a positive alpha`);
  const noiseTag = p.noise > 0 ? `-n${Math.round(p.noise * 100)}` : '';
  const alphaTag = p.penalty !== 'none' ? `-a${round3(p.alpha as number)}` : '';
  const lenTag = p.noise > 0 ? `-t${p.steps}` : '';
  const id = `${p.prefix ?? ''}${lrTag(p.lr)}${noiseTag}${PEN_TAG[p.penalty]}${alphaTag}${lenTag}-s${p.seed}`;
  const partial = {
    name: id,
    seed: p.seed,
    dataset: {
      name: s.dataset.name,
      ...(s.dataset.path ? { path: s.dataset.path } : {}),
      trainSize: s.dataset.trainSize,
      testSize: s.dataset.testSize,
    },
    model: p.model ?? s.model,
    optimizer: { lr: round3(p.lr), momentum: s.momentum, weightDecay: 0, batchSize: s.batchSize },
    schedule: { steps: p.steps, lrSchedule: 'step', milestones: s.milestones, gamma: 0.1 },
    labelNoise: { fraction: p.noise, seed: p.seed, forceChange: true, trackSize: s.noiseTrackSize },
    fisher: s.fisher,
    penalty:
      p.penalty === 'none'
        ? { kind: 'none' }
        : {
            kind: p.penalty,
            alpha: round3(p.alpha as number),
            every: s.penaltyEvery,
            startEpoch: 0,
          },
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

/** Phase 1 for the CNN arms: their own LR search (a CNN's η* is not the MLP's). Empty without CNN arms. */
export function cnnSearchRuns(s: Setup): RunSpec[] {
  const c = s.cnn;
  if (!c) return [];
  return c.grid.map((lr) =>
    runSpec(s, {
      prefix: 'cnn-search-',
      lr,
      penalty: 'none',
      noise: 0,
      seed: s.search.seed,
      steps: c.steps,
      model: c.model,
    }),
  );
}

/** What the LR search needs from each of its runs. */
export interface SearchResult {
  lr: number;
  state: string;
  finalTestAcc: number | null;
}

/** Tie tolerance of every search (η*, α): 0.5 percentage points of test accuracy. */
export const SEARCH_TOL = 0.005;

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
  return Math.max(
    ...ok.filter((r) => (r.finalTestAcc as number) >= best - SEARCH_TOL).map((r) => r.lr),
  );
}

/** The α a dry run shows before any search: the grid's geometric middle. */
export const provisionalAlpha = (grid: readonly number[]): number =>
  round3(Math.sqrt(Math.min(...grid) * Math.max(...grid)));

/** How one α search ended (see searches.ts). */
export interface AlphaChoice {
  alpha: number;
  /** False when every α cost more than the tolerance against the unpenalised run (or none completed). */
  found: boolean;
  reason: string;
}

/** One α search: a penalty at a noise level, its runs on the search seed and its choice. */
export interface AlphaSearch {
  kind: PenaltyWithAlpha;
  noise: number;
  lr: number;
  steps: number;
  /** The unpenalised run it is compared with (same seed, LR, noise and length). */
  baseRunId: string;
  runs: { alpha: number; runId: string }[];
  choice: AlphaChoice;
}

/** How the (e) length rule ended for one noise level. */
export interface NoiseLength {
  noise: number;
  /** The search-seed baseline runs tried, shortest first. */
  tries: { steps: number; runId: string; state: string; noisyAcc: number | null }[];
  steps: number;
  endedBy: 'memorised' | 'budget' | 'failed';
  reason: string;
}

/** The choices made before any claim run: η* (and the CNN's), α per penalty, (e)'s lengths. */
export interface Choices {
  cnnEtaStar?: number | null;
  alphaSearches?: AlphaSearch[];
  noiseLengths?: NoiseLength[];
}

/** Phase 2: the claims' runs around η*, grouped by claim; shared configurations appear once in `runs`. */
export function buildPlan(s: Setup, etaStar: number, choices: Choices = {}): Plan {
  const runs = new Map<string, RunSpec>();
  const alphaOf = (kind: PenaltyWithAlpha, noise: number) =>
    choices.alphaSearches?.find((a) => a.kind === kind && a.noise === noise)?.choice.alpha ??
    provisionalAlpha(noise > 0 ? s.alphaSearch.noiseGrid : s.alphaSearch.grid);
  const arm = (
    key: string,
    label: string,
    p: {
      lr: number;
      penalty: PenaltyKind;
      noise: number;
      steps: number;
      prefix?: string;
      model?: Setup['model'];
    },
  ): Arm => {
    const alpha = p.penalty === 'none' ? undefined : alphaOf(p.penalty, p.noise);
    const ids = s.seeds.map((seed) => {
      const r = runSpec(s, { ...p, alpha, seed });
      if (!runs.has(r.id)) runs.set(r.id, r);
      return r.id;
    });
    return {
      key,
      label,
      lr: round3(p.lr),
      penalty: p.penalty,
      noise: p.noise,
      runIds: ids,
      ...(alpha !== undefined ? { alpha: round3(alpha) } : {}),
      steps: p.steps,
    };
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
    steps: r.steps,
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
  const cnn = s.cnn;
  const cnnEta = choices.cnnEtaStar ?? (cnn ? cnn.grid[0] : null);
  if (cnn && cnnEta !== null) {
    const p = (lr: number) => ({
      lr,
      penalty: 'none' as const,
      noise: 0,
      steps: cnn.steps,
      prefix: 'cnn-',
      model: cnn.model,
    });
    claims.push({
      claim: 'a-cnn',
      title: 'The same with SimpleCNN: η*/10 reaches a higher early Tr(F) peak than η*',
      arms: [
        arm('eta', `SimpleCNN, η* = ${round3(cnnEta)}`, p(cnnEta)),
        arm('small', `SimpleCNN, η*/10 = ${round3(cnnEta / 10)}`, p(cnnEta / 10)),
      ],
    });
  }
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
        arm(k, `η*/10 + ${PENALTY_LABEL[k]} (α ${alphaOf(k, 0)})`, {
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
    const steps = choices.noiseLengths?.find((n) => n.noise === f)?.steps ?? s.noiseSteps;
    eArms.push(
      arm(`n${pct}`, `${pct}% noise, η*/10`, { lr: small, penalty: 'none', noise: f, steps }),
    );
    eArms.push(
      arm(`n${pct}-fp`, `${pct}% noise, η*/10 + FP (α ${alphaOf('fisher', f)})`, {
        lr: small,
        penalty: 'fisher',
        noise: f,
        steps,
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
    cnnEtaStar: cnn && cnnEta !== null ? round3(cnnEta) : null,
    search: searchArms,
    cnnSearch: cnnSearchRuns(s).map((r) => ({
      key: `cnn-search-${r.lr}`,
      label: `SimpleCNN, η = ${r.lr}`,
      lr: r.lr,
      penalty: 'none' as const,
      noise: 0,
      runIds: [r.id],
      steps: r.steps,
    })),
    alphaSearches: choices.alphaSearches ?? [],
    noiseLengths: choices.noiseLengths ?? [],
    claims,
    runs: [...runs.values()],
  };
}

/** Every run id a finished plan refers to: searches (η*, α, (e) lengths) and claims, without repeats. */
export function allRunIds(plan: Plan): string[] {
  return [
    ...new Set([
      ...plan.search.flatMap((a) => a.runIds),
      ...plan.cnnSearch.flatMap((a) => a.runIds),
      ...plan.alphaSearches.flatMap((a) => [a.baseRunId, ...a.runs.map((r) => r.runId)]),
      ...plan.noiseLengths.flatMap((n) => n.tries.map((t) => t.runId)),
      ...plan.runs.map((r) => r.id),
    ]),
  ];
}
