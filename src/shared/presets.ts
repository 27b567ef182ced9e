/**
 * The paper's set-ups as CPU-sized run presets (partial run configs completed by `resolveConfig`), the
 * "rerun with Fisher penalty" transform. No vscode.
 *
 * Paper (Sec. 4): SGD momentum 0.9, batch 128, η* against the baseline η* ÷ 10; Fisher penalty α = 0.01
 * recomputed every 10 steps; 25% uniform label noise. Here: MNIST, 10k training examples, a few epochs of the
 * paper's SimpleCNN (noise presets: an MLP, which memorises faster on CPU). η* = 0.05 is a chosen, not a
 * tuned, value; `fisherLens.presetOverrides` changes any field of every preset.
 */
import { resolveConfig, type RunConfig } from './config';
import { deepMerge } from './configDiff';
import { rerunFisherPenaltyBlocker, type RerunConfigFields } from './rerun';

/** A partial run config (anything `resolveConfig` completes). */
export type PartialConfig = Record<string, unknown>;

export interface Preset {
  id: string;
  label: string;
  /** One line shown under the label in the quick pick. */
  detail: string;
  config: PartialConfig;
}

/** η* for the presets; the baseline is η* ÷ 10. */
export const LARGE_LR = 0.05;
export const SMALL_LR = LARGE_LR / 10;

/** The paper's Fisher penalty: α = 0.01, recomputed every 10 steps. */
export const FISHER_PENALTY = { kind: 'fisher', alpha: 0.01, every: 10, startEpoch: 0 } as const;

const cnn: PartialConfig = {
  seed: 0,
  dataset: { name: 'mnist', trainSize: 10000, testSize: 2000 },
  model: { arch: 'simplecnn' },
  optimizer: { momentum: 0.9, batchSize: 128 },
  schedule: { epochs: 3 },
  // The large-LR preset is these presets' declared η*: the detector's reference for the small-LR ones.
  fisher: { every: 10, probeSize: 128, referenceLr: LARGE_LR },
  evalEvery: 50,
};

const noisy: PartialConfig = {
  seed: 0,
  dataset: { name: 'mnist', trainSize: 10000, testSize: 2000 },
  model: { arch: 'mlp', hidden: [512, 512] },
  optimizer: { momentum: 0.9, batchSize: 128, lr: SMALL_LR * 2 },
  schedule: { epochs: 15 },
  labelNoise: { fraction: 0.25, seed: 0, trackSize: 500 },
  fisher: { every: 10, probeSize: 128 },
  evalEvery: 50,
};

export const PRESETS: readonly Preset[] = [
  {
    id: 'large-lr',
    label: 'Large learning rate (η*)',
    detail: `SimpleCNN on MNIST 10k, SGD momentum 0.9, batch 128, lr ${LARGE_LR}: the low-Tr(F) reference`,
    config: deepMerge(cnn, { name: 'large-lr', optimizer: { lr: LARGE_LR } }),
  },
  {
    id: 'small-lr',
    label: 'Small learning rate (η*/10)',
    detail: `Same with lr ${SMALL_LR}: expect a Fisher explosion early in training (the warning compares it with a finished η* run: start that one first)`,
    config: deepMerge(cnn, { name: 'small-lr', optimizer: { lr: SMALL_LR } }),
  },
  {
    id: 'small-lr-fp',
    label: 'Small learning rate + Fisher penalty',
    detail: `lr ${SMALL_LR} with the Fisher penalty (α ${FISHER_PENALTY.alpha} every ${FISHER_PENALTY.every} steps): the peak drops toward η* level`,
    config: deepMerge(cnn, {
      name: 'small-lr-fp',
      optimizer: { lr: SMALL_LR },
      penalty: { ...FISHER_PENALTY },
    }),
  },
  {
    id: 'noisy-25',
    label: '25% noisy labels',
    detail:
      'MLP on MNIST 10k with 25% of training labels replaced: watch noisy-label accuracy (memorisation)',
    config: deepMerge(noisy, { name: 'noisy-25' }),
  },
  {
    id: 'noisy-25-fp',
    label: '25% noisy labels + Fisher penalty',
    detail:
      'Same with the Fisher penalty: noisy labels are memorised far less while clean ones are learned',
    config: deepMerge(noisy, { name: 'noisy-25-fp', penalty: { ...FISHER_PENALTY } }),
  },
];

/** A preset's config with the user's overrides merged in, resolved (throws `ConfigError` if invalid). */
export function presetConfig(preset: Preset, overrides?: unknown): RunConfig {
  let merged = preset.config;
  if (overrides && typeof overrides === 'object' && !Array.isArray(overrides)) {
    merged = deepMerge(preset.config, overrides);
    // Training length is given as epochs or steps: an override of one replaces the preset's other.
    const o = (overrides as { schedule?: Record<string, unknown> }).schedule;
    const sched = merged.schedule as Record<string, unknown> | undefined;
    if (o && sched) {
      if (o.steps !== undefined && o.epochs === undefined) delete sched.epochs;
      if (o.epochs !== undefined && o.steps === undefined) delete sched.steps;
    }
  }
  return resolveConfig(merged, `preset ${preset.id}`);
}

/** The same run with the paper's Fisher penalty switched on (and "-fp" appended to its name). */
export function withFisherPenalty(config: RunConfig, fallbackName = 'run'): RunConfig {
  const name = `${(config.name ?? fallbackName).replace(/-fp$/, '')}-fp`.slice(0, 80);
  return resolveConfig(
    { ...structuredClone(config), name, penalty: { ...FISHER_PENALTY } },
    'rerun with Fisher penalty',
  );
}

/**
 * Why "Rerun with Fisher Penalty" does not apply to a run with this config (null: it applies and yields a runnable
 * config): {@link rerunFisherPenaltyBlocker}, then the new config must pass the validator.
 */
export function fisherPenaltyRerunProblem(config: RunConfig): string | null {
  const blocker = rerunFisherPenaltyBlocker(config as unknown as RerunConfigFields);
  if (blocker) return blocker;
  try {
    withFisherPenalty(config);
  } catch (e) {
    return (e as Error).message;
  }
  return null;
}
