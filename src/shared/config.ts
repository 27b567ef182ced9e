/**
 * The run config: one TypeBox schema is the single source of the TypeScript type, the validator and the
 * published JSON schema (`schemas/run-config.schema.json`, used by the editor for `*.fisher.json`).
 * No `vscode`, no tfjs.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import Ajv, { type ErrorObject } from 'ajv';
import { BACKENDS } from './backends';

const Int = (opts: Record<string, unknown>) => Type.Integer(opts);
const Num = (opts: Record<string, unknown>) => Type.Number(opts);

/**
 * Upper bounds (documented in the schema descriptions and the README). They keep every value finite, every integer
 * exact and every run bounded; each is far above any useful setting.
 */
export const LIMITS = {
  /** Largest seed: integers beyond 2^53 − 1 are not exact in JSON/JavaScript numbers. */
  seed: Number.MAX_SAFE_INTEGER,
  /** Training/test examples (CIFAR has 50,000/10,000, MNIST 60,000/10,000). */
  examples: 10_000_000,
  /** Optimisation steps of a run, given as `schedule.steps` or resulting from `schedule.epochs`. */
  steps: 1_000_000_000,
  epochs: 1_000_000,
  /** Units of one MLP hidden layer. */
  hidden: 65_536,
  /** Synthetic input height/width and channels. */
  syntheticSide: 1024,
  syntheticChannels: 64,
  milestones: 100,
  weightDecay: 10,
  alpha: 1_000_000,
  lossThreshold: 1_000_000,
  trackSize: 1_000_000,
  path: 4096,
  /** Config file size in bytes (1 MiB). */
  fileBytes: 1 << 20,
  /** Nesting depth of a config (a valid one has 3). */
  depth: 32,
} as const;
const STEPS = LIMITS.steps.toLocaleString('en');

export const DATASETS = [
  'mnist',
  'fashion-mnist',
  'idx',
  'cifar10',
  'cifar100',
  'synthetic',
] as const;
export const ARCHS = ['mlp', 'simplecnn', 'vgg11', 'resnet'] as const;
export const PENALTIES = ['none', 'fisher', 'gp', 'gpr', 'gpx'] as const;
export { BACKENDS, TORCH_BACKENDS, type BackendName } from './backends';

const lit = <T extends readonly string[]>(xs: T, description: string, dflt: T[number]) =>
  Type.Union(
    xs.map((x) => Type.Literal(x)),
    { description, default: dflt },
  ) as unknown as TSchema & { static: T[number] };

export const DatasetSchema = Type.Object(
  {
    name: lit(
      DATASETS,
      'Dataset: `mnist` (bundled), `fashion-mnist` (bundled JSON), `idx` (folder of IDX files, e.g. Fashion-MNIST or KMNIST), `cifar10`/`cifar100` (binary-version folders), `synthetic` (seeded Gaussian clusters, for tests).',
      'mnist',
    ),
    path: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: LIMITS.path,
        description: `Folder with the dataset files (required for \`idx\`, \`cifar10\`, \`cifar100\`). Relative paths resolve against the config file. At most ${LIMITS.path} characters.`,
      }),
    ),
    trainSize: Int({
      minimum: 1,
      maximum: LIMITS.examples,
      default: 10000,
      description: `Training examples used (a fixed seeded subset when smaller than the dataset); at most ${LIMITS.examples.toLocaleString('en')}.`,
    }),
    testSize: Int({
      minimum: 1,
      maximum: LIMITS.examples,
      default: 2000,
      description: `Test examples used for evaluation; at most ${LIMITS.examples.toLocaleString('en')}.`,
    }),
    syntheticClasses: Type.Optional(
      Int({
        minimum: 2,
        maximum: 1000,
        description: 'Classes of the synthetic dataset (default 10).',
      }),
    ),
    syntheticShape: Type.Optional(
      Type.Tuple(
        [
          Int({ minimum: 1, maximum: LIMITS.syntheticSide }),
          Int({ minimum: 1, maximum: LIMITS.syntheticSide }),
          Int({ minimum: 1, maximum: LIMITS.syntheticChannels }),
        ],
        {
          description: `Input shape [height, width, channels] of the synthetic dataset (default [8, 8, 1]); height and width at most ${LIMITS.syntheticSide}, channels at most ${LIMITS.syntheticChannels}.`,
        },
      ),
    ),
  },
  { additionalProperties: false, default: {}, description: 'Training and test data.' },
);

export const ModelSchema = Type.Object(
  {
    arch: lit(
      ARCHS,
      "Architecture: `mlp`, `simplecnn` (the paper's conv32-conv32-pool-conv64-conv64-pool-fc128), `vgg11` (VGG-11 style, no BatchNorm), `resnet` (small, BatchNorm-free).",
      'simplecnn',
    ),
    width: Num({
      exclusiveMinimum: 0,
      maximum: 16,
      default: 1,
      description: 'Width multiplier for channels/units.',
    }),
    hidden: Type.Optional(
      Type.Array(Int({ minimum: 1, maximum: LIMITS.hidden }), {
        maxItems: 16,
        description: `MLP hidden layer sizes (default [512, 512]; [] is softmax regression); at most 16 layers of at most ${LIMITS.hidden.toLocaleString('en')} units.`,
      }),
    ),
    activation: lit(['relu', 'tanh'] as const, 'Hidden activation.', 'relu'),
  },
  { additionalProperties: false, default: {}, description: 'Network.' },
);

export const OptimizerSchema = Type.Object(
  {
    lr: Num({ exclusiveMinimum: 0, maximum: 100, default: 0.01, description: 'Learning rate η.' }),
    momentum: Num({ minimum: 0, exclusiveMaximum: 1, default: 0.9, description: 'SGD momentum.' }),
    weightDecay: Num({
      minimum: 0,
      maximum: LIMITS.weightDecay,
      default: 0,
      description: `L2 weight decay (added to the gradient); at most ${LIMITS.weightDecay}.`,
    }),
    batchSize: Int({ minimum: 1, maximum: 65536, default: 128, description: 'Mini-batch size B.' }),
  },
  { additionalProperties: false, default: {}, description: 'SGD with momentum.' },
);

export const ScheduleSchema = Type.Object(
  {
    epochs: Type.Optional(
      Num({
        exclusiveMinimum: 0,
        maximum: LIMITS.epochs,
        description: `Training length in epochs (give \`epochs\` or \`steps\`, not both); at most ${LIMITS.epochs.toLocaleString('en')}, and at most ${STEPS} steps in all.`,
      }),
    ),
    steps: Type.Optional(
      Int({
        minimum: 1,
        maximum: LIMITS.steps,
        description: `Training length in optimisation steps; at most ${STEPS}.`,
      }),
    ),
    lrSchedule: lit(
      ['constant', 'step', 'cosine'] as const,
      '`constant`; `step`: multiply by `gamma` at each milestone; `cosine`: cosine decay to 0.',
      'constant',
    ),
    milestones: Type.Array(Num({ exclusiveMinimum: 0, maximum: 1 }), {
      maxItems: LIMITS.milestones,
      default: [0.5, 0.75],
      description: `For \`step\`: fractions of the run at which the LR is multiplied by \`gamma\` (paper: 0.5, 0.75); at most ${LIMITS.milestones}.`,
    }),
    gamma: Num({
      exclusiveMinimum: 0,
      maximum: 1,
      default: 0.1,
      description: 'For `step`: LR factor at each milestone.',
    }),
  },
  {
    additionalProperties: false,
    default: {},
    description: 'Training length and learning-rate schedule.',
  },
);

export const LabelNoiseSchema = Type.Object(
  {
    fraction: Num({
      minimum: 0,
      maximum: 1,
      default: 0,
      description: 'Fraction of training labels replaced by uniformly random labels.',
    }),
    seed: Int({
      minimum: 0,
      maximum: LIMITS.seed,
      default: 0,
      description: 'Seed choosing which labels are corrupted and how (an integer 0 … 2^53 − 1).',
    }),
    forceChange: Type.Boolean({
      default: false,
      description:
        'Draw the random label among the other classes, so every corrupted label really changes.',
    }),
    trackSize: Int({
      minimum: 1,
      maximum: LIMITS.trackSize,
      default: 500,
      description: `Size of each tracked training subset (clean, noisy) for the learning-speed curves; at most ${LIMITS.trackSize.toLocaleString('en')}.`,
    }),
  },
  {
    additionalProperties: false,
    default: {},
    description: 'Label noise as in the paper (memorisation experiments).',
  },
);

export const FisherSchema = Type.Object(
  {
    every: Int({
      minimum: 1,
      maximum: LIMITS.steps,
      default: 10,
      description: `Measure exact Tr(F) every N steps (N at most ${STEPS}).`,
    }),
    probeSize: Int({
      minimum: 2,
      maximum: 4096,
      default: 128,
      description: 'Examples in the fixed, seeded probe set (paper: 128).',
    }),
    lossThreshold: Num({
      exclusiveMinimum: 0,
      maximum: LIMITS.lossThreshold,
      default: 1.0,
      description: `Training-loss threshold ε at which the early Tr(F_i) is read (paper: 1.2 on CIFAR-10); at most ${LIMITS.lossThreshold.toLocaleString('en')}.`,
    }),
    referenceLr: Type.Optional(
      Num({
        exclusiveMinimum: 0,
        maximum: 100,
        description:
          'The best known learning rate for this set-up (the same model, data and optimiser at another learning rate), where its author knows one: the presets declare their η*. The explosion detector then compares the run with a finished run of the set-up at this rate, when there is one, instead of the learning rate whose runs tested best (docs/DETECTOR.md). Does not change training.',
      }),
    ),
    warmupSteps: Int({
      minimum: 0,
      maximum: LIMITS.steps,
      default: 20,
      description: `Not used: the explosion detector counts the early phase from step 0 (docs/DETECTOR.md). Accepted so that older configs stay valid; at most ${STEPS}.`,
    }),
  },
  { additionalProperties: false, default: {}, description: 'Tr(F) measurement.' },
);

export const PenaltySchema = Type.Object(
  {
    kind: lit(
      PENALTIES,
      '`fisher` (Tr(F_B), sampled labels), `gp` (gradient norm, true labels), `gpr` (random labels), `gpx` (input-gradient norm), or `none`.',
      'none',
    ),
    alpha: Num({
      minimum: 0,
      maximum: LIMITS.alpha,
      default: 0.01,
      description: `Penalty coefficient α; at most ${LIMITS.alpha.toLocaleString('en')}.`,
    }),
    every: Int({
      minimum: 1,
      maximum: LIMITS.steps,
      default: 10,
      description: `Recompute the penalty gradient every k steps, reusing it in between (paper: 10); k at most ${STEPS}.`,
    }),
    startEpoch: Num({
      minimum: 0,
      maximum: LIMITS.epochs,
      default: 0,
      description: `Epoch at which the penalty starts; at most ${LIMITS.epochs.toLocaleString('en')}.`,
    }),
  },
  { additionalProperties: false, default: {}, description: 'Gradient-norm regulariser.' },
);

export const RunConfigSchema = Type.Object(
  {
    $schema: Type.Optional(
      Type.String({ maxLength: LIMITS.path, description: 'JSON schema reference (ignored).' }),
    ),
    name: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 80,
        pattern: '^[A-Za-z0-9][A-Za-z0-9._ +-]*$',
        description: 'Run name (used in the run id).',
      }),
    ),
    seed: Int({
      minimum: 0,
      maximum: LIMITS.seed,
      default: 0,
      description:
        'Seed for initialisation, data order, probe set and label sampling (an integer 0 … 2^53 − 1).',
    }),
    dataset: DatasetSchema,
    model: ModelSchema,
    optimizer: OptimizerSchema,
    schedule: ScheduleSchema,
    labelNoise: LabelNoiseSchema,
    fisher: FisherSchema,
    penalty: PenaltySchema,
    evalEvery: Int({
      minimum: 1,
      maximum: LIMITS.steps,
      default: 100,
      description: `Evaluate on the test set and tracked subsets every N steps (and at the end); N at most ${STEPS}.`,
    }),
    checkpoint: Type.Boolean({
      default: true,
      description: 'Save the final parameters under checkpoint/.',
    }),
    backend: lit(
      BACKENDS,
      'Compute backend. `auto`: torch-cuda, tensorflow-gpu, tensorflow, webgpu (a GPU adapter only; `webgpu` by name also takes a software one), then torch-cpu (when PyTorch is installed: 3–6× faster than wasm per step), wasm, cpu. `torch` is the PyTorch engine on its best device (cuda, mps, cpu); `torch-cuda`, `torch-mps`, `torch-cpu` name the device.',
      'auto',
    ),
  },
  {
    additionalProperties: false,
    title: 'Fisher Lens run config',
    description: `A Fisher Lens training run (\`*.fisher.json\`). Every number must be finite; files are at most 1 MiB.`,
  },
);

export type RunConfig = Static<typeof RunConfigSchema>;
export type ModelConfig = RunConfig['model'];
export type PenaltyKind = (typeof PENALTIES)[number];

/** Problems listed in a {@link ConfigError} message; the rest are counted. */
const MAX_LISTED = 20;

/** A config error naming the field, the value given and what is allowed. */
export class ConfigError extends Error {
  constructor(
    readonly problems: string[],
    readonly source?: string,
    /**
     * The config passed the JSON schema and broke a rule between fields (both `steps` and `epochs`, a probe
     * larger than the training set…): rules the editor's schema check of `*.fisher.json` cannot see.
     */
    readonly crossField = false,
  ) {
    const listed = problems.slice(0, MAX_LISTED);
    const more =
      problems.length > MAX_LISTED ? `\n  … and ${problems.length - MAX_LISTED} more` : '';
    super(`${source ? `${source}: ` : ''}invalid run config:\n  - ${listed.join('\n  - ')}${more}`);
    this.name = 'ConfigError';
  }
}

/** A config file that cannot be read as text: missing, not a regular file, too big, not UTF-8. */
export class ConfigFileError extends Error {
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`${file}: ${reason}`);
    this.name = 'ConfigFileError';
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

/** Longest value or field name quoted in a message (longer ones end in `…`). */
const MAX_SHOWN = 60;
const clip = (s: string, max = MAX_SHOWN) => (s.length > max ? `${s.slice(0, max - 1)}…` : s);

/**
 * JSON of `v`, cut short: never walks more of a huge or deeply nested value than it shows. Numbers inside are
 * shown as written when `sources` knows them (`ptr` is the JSON pointer of `v`).
 */
function preview(
  v: unknown,
  depth = 0,
  room = MAX_SHOWN + 1,
  ptr?: string,
  sources?: NumberSources,
): string {
  if (typeof v === 'string') return JSON.stringify(v.length > room ? v.slice(0, room) : v);
  if (typeof v === 'number')
    return (ptr !== undefined ? sources?.get(ptr) : undefined) ?? String(v);
  if (v === null || typeof v !== 'object') return String(v);
  if (depth >= 4) return Array.isArray(v) ? '[…]' : '{…}';
  const parts: string[] = [];
  let used = 2;
  const sub = (k: string) => (ptr !== undefined ? `${ptr}/${escapePointer(k)}` : undefined);
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length && used <= room; i++) {
      const s = preview(v[i], depth + 1, room - used, sub(String(i)), sources);
      parts.push(s);
      used += s.length + 1;
    }
    return `[${parts.join(',')}]`;
  }
  for (const k in v as object) {
    if (!Object.prototype.hasOwnProperty.call(v, k)) continue;
    if (used > room) break;
    const s = `${JSON.stringify(k.length > room ? k.slice(0, room) : k)}:${preview((v as Record<string, unknown>)[k], depth + 1, room - used, sub(k), sources)}`;
    parts.push(s);
    used += s.length + 1;
  }
  return `{${parts.join(',')}}`;
}

/** JSON-pointer segment escaping, as Ajv's `instancePath` uses it. */
const escapePointer = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');
const pointerParts = (p: string) =>
  p
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));

/** `optimizer.lr`, `schedule.milestones.1`; odd or long keys are quoted and cut short. */
function fieldName(pointer: string): string {
  if (!pointer) return '(root)';
  const parts = pointerParts(pointer).map((k) =>
    /^([A-Za-z_$][\w$]*|\d+)$/.test(k) ? clip(k) : clip(JSON.stringify(k)),
  );
  return clip(parts.join('.'), 2 * MAX_SHOWN);
}

/** Every number of a JSON text by its JSON pointer, exactly as written there (`1e400`, `9007199254740993`). */
export type NumberSources = Map<string, string>;

/**
 * Scan a JSON text that `JSON.parse` accepted and record each number's source text by its JSON pointer (duplicate
 * keys: the last one wins, as in `JSON.parse`). Iterative, so any nesting depth is fine; numbers nested deeper than
 * {@link LIMITS.depth} are not recorded (such configs are rejected for their depth).
 */
export function numberSources(text: string): NumberSources {
  interface Frame {
    arr: boolean;
    key: string;
    index: number;
    wantKey: boolean;
  }
  const out: NumberSources = new Map();
  const stack: Frame[] = [];
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      let j = i + 1;
      while (j < n) {
        const d = text.charCodeAt(j);
        if (d === 0x5c) j += 2;
        else if (d === 0x22) break;
        else j++;
      }
      const top = stack[stack.length - 1];
      if (top && !top.arr && top.wantKey) {
        top.key = JSON.parse(text.slice(i, j + 1)) as string;
        top.wantKey = false;
      }
      i = j + 1;
    } else if (c === 0x7b || c === 0x5b) {
      stack.push({ arr: c === 0x5b, key: '', index: 0, wantKey: c === 0x7b });
      i++;
    } else if (c === 0x7d || c === 0x5d) {
      stack.pop();
      i++;
    } else if (c === 0x2c) {
      const top = stack[stack.length - 1];
      if (top?.arr) top.index++;
      else if (top) top.wantKey = true;
      i++;
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      let j = i + 1;
      while (j < n && /[0-9eE.+-]/.test(text[j])) j++;
      if (stack.length <= LIMITS.depth)
        out.set(
          stack.map((f) => '/' + escapePointer(f.arr ? String(f.index) : f.key)).join(''),
          text.slice(i, j),
        );
      i = j;
    } else i++;
  }
  return out;
}

/** The schema node at a JSON pointer, if the schema has one there. */
function schemaAt(pointer: string): TSchema | undefined {
  let s: TSchema | undefined = RunConfigSchema;
  for (const part of pointerParts(pointer)) {
    const node = s as
      { properties?: Record<string, TSchema>; items?: TSchema | TSchema[] } | undefined;
    if (node?.properties)
      s = Object.prototype.hasOwnProperty.call(node.properties, part)
        ? node.properties[part]
        : undefined;
    else if (Array.isArray(node?.items)) s = node.items[Number(part)];
    else s = node?.items;
    if (!s) return undefined;
  }
  return s;
}

/** How a value appears in messages: a number as it was written in the file, anything else as cut-short JSON. */
function shownAt(pointer: string, value: unknown, sources?: NumberSources): string {
  return value === undefined ? 'nothing' : clip(preview(value, 0, MAX_SHOWN + 1, pointer, sources));
}

function lookup(root: unknown, instancePath: string): unknown {
  let cur: unknown = root;
  for (const part of pointerParts(instancePath)) {
    if (cur && typeof cur === 'object' && Object.prototype.hasOwnProperty.call(cur, part))
      cur = (cur as Record<string, unknown>)[part];
    else return undefined;
  }
  return cur;
}

/**
 * Checks JSON Schema cannot express, before it runs: every number finite (a JSON `1e400` is Infinity) where the
 * schema wants a number, and no nesting deeper than {@link LIMITS.depth} (which would also overflow the validator's
 * stack). Iterative; returns the problems and the pointers already reported.
 */
function preCheck(
  input: unknown,
  sources?: NumberSources,
): { problems: string[]; reported: Set<string>; tooDeep: boolean } {
  const problems: string[] = [];
  const reported = new Set<string>();
  let tooDeep = false;
  const todo: [unknown, string, number][] = [[input, '', 0]];
  while (todo.length) {
    const [v, p, depth] = todo.pop()!;
    if (typeof v === 'number' && !Number.isFinite(v)) {
      const t = (schemaAt(p) as { type?: string } | undefined)?.type;
      if (t === 'number' || t === 'integer') {
        problems.push(`${fieldName(p)}: expected a finite number, got ${shownAt(p, v, sources)}`);
        reported.add(p);
      }
    } else if (v && typeof v === 'object') {
      if (depth >= LIMITS.depth) {
        if (!tooDeep)
          problems.push(
            `${fieldName(p)}: nested more than ${LIMITS.depth} levels deep; a run config has at most 3`,
          );
        tooDeep = true;
        continue;
      }
      const entries = Array.isArray(v)
        ? v.map((x, i) => [String(i), x] as const)
        : Object.entries(v);
      for (let k = entries.length - 1; k >= 0; k--)
        todo.push([entries[k][1], `${p}/${escapePointer(entries[k][0])}`, depth + 1]);
    }
  }
  return { problems, reported, tooDeep };
}

function describe(
  errors: ErrorObject[],
  data: unknown,
  sources?: NumberSources,
  skip?: Set<string>,
): string[] {
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
    if (skip?.has(e.instancePath)) continue;
    const field = fieldName(e.instancePath);
    const value = lookup(data, e.instancePath);
    const got = shownAt(e.instancePath, value, sources);
    let msg: string;
    switch (e.keyword) {
      case 'const':
      case 'anyOf':
        msg = `${field}: got ${got}; expected one of ${(enums.get(e.instancePath) ?? []).map((x) => JSON.stringify(x)).join(', ')}`;
        break;
      case 'additionalProperties': {
        const extra = (e.params as { additionalProperty: string }).additionalProperty;
        const f = fieldName(`${e.instancePath}/${escapePointer(extra)}`);
        msg = `${f}: unknown field; allowed here: ${allowedKeys(e.instancePath).join(', ')}`;
        break;
      }
      case 'required':
        msg = `${field === '(root)' ? '' : field + '.'}${(e.params as { missingProperty: string }).missingProperty}: required`;
        break;
      case 'type':
        msg = `${field}: got ${got}; expected ${(e.params as { type: string }).type}`;
        break;
      default:
        msg = `${field}: got ${got}; ${e.message ?? 'invalid'}`;
    }
    out.set(msg, msg);
  }
  return [...out.values()];
}

function allowedKeys(instancePath: string): string[] {
  return Object.keys(
    (schemaAt(instancePath) as { properties?: Record<string, unknown> } | undefined)?.properties ??
      {},
  );
}

/**
 * Validate a parsed config and fill in defaults. Returns a new object; throws {@link ConfigError} listing
 * every problem (field, value, what is allowed). `source` names the file in messages.
 */
export function resolveConfig(input: unknown, source?: string): RunConfig {
  return resolveWith(input, source);
}

function resolveWith(input: unknown, source?: string, sources?: NumberSources): RunConfig {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new ConfigError(
      [`(root): got ${shownAt('', input, sources)}; expected a JSON object`],
      source,
    );
  }
  const pre = preCheck(input, sources);
  if (pre.tooDeep) throw new ConfigError(pre.problems, source);
  const data = structuredClone(input) as Record<string, unknown>;
  for (const k of [
    'dataset',
    'model',
    'optimizer',
    'schedule',
    'labelNoise',
    'fisher',
    'penalty',
  ]) {
    if (data[k] === undefined) data[k] = {};
  }
  const validate = validator();
  if (!validate(data) || pre.problems.length) {
    throw new ConfigError(
      [...pre.problems, ...describe(validate.errors ?? [], data, sources, pre.reported)],
      source,
    );
  }
  const cfg = data as RunConfig;
  const at = (p: string, v: unknown) => shownAt(p, v, sources);
  const problems: string[] = [];
  const s = cfg.schedule;
  if (s.epochs !== undefined && s.steps !== undefined) {
    problems.push(
      `schedule: got both schedule.epochs (${at('/schedule/epochs', s.epochs)}) and schedule.steps (${at('/schedule/steps', s.steps)}); give one of them`,
    );
  }
  if (s.epochs === undefined && s.steps === undefined) s.epochs = 1;
  if (['idx', 'cifar10', 'cifar100'].includes(cfg.dataset.name) && !cfg.dataset.path) {
    problems.push(
      `dataset.path: required for dataset.name ${JSON.stringify(cfg.dataset.name)} (a folder with its files)`,
    );
  }
  if (cfg.dataset.name !== 'synthetic') {
    for (const k of ['syntheticClasses', 'syntheticShape'] as const) {
      if (cfg.dataset[k] !== undefined)
        problems.push(
          `dataset.${k}: only allowed with dataset.name "synthetic" (got ${JSON.stringify(cfg.dataset.name)})`,
        );
    }
  }
  if (cfg.model.hidden !== undefined && cfg.model.arch !== 'mlp') {
    problems.push(
      `model.hidden: only allowed with model.arch "mlp" (got arch ${JSON.stringify(cfg.model.arch)})`,
    );
  }
  if (cfg.fisher.probeSize > cfg.dataset.trainSize) {
    problems.push(
      `fisher.probeSize: got ${at('/fisher/probeSize', cfg.fisher.probeSize)}; must not exceed dataset.trainSize (${cfg.dataset.trainSize})`,
    );
  }
  if (cfg.optimizer.batchSize > cfg.dataset.trainSize) {
    problems.push(
      `optimizer.batchSize: got ${at('/optimizer/batchSize', cfg.optimizer.batchSize)}; must not exceed dataset.trainSize (${cfg.dataset.trainSize})`,
    );
  } else if (s.steps === undefined && s.epochs !== undefined) {
    const spe = stepsPerEpoch(cfg);
    const total = Math.round(s.epochs * spe);
    if (total > LIMITS.steps) {
      problems.push(
        `schedule.epochs: got ${at('/schedule/epochs', s.epochs)}; that is ${total.toLocaleString('en')} steps (${spe.toLocaleString('en')} per epoch: dataset.trainSize ${cfg.dataset.trainSize} / optimizer.batchSize ${cfg.optimizer.batchSize}), more than the ${STEPS} a run may have`,
      );
    }
  }
  const ms = s.milestones;
  for (let i = 1; i < ms.length; i++) {
    if (ms[i] <= ms[i - 1]) {
      problems.push(
        `schedule.milestones: got ${at('/schedule/milestones', ms)}; expected strictly increasing fractions in (0, 1]`,
      );
      break;
    }
  }
  if (problems.length) throw new ConfigError(problems, source, true);
  delete (cfg as { $schema?: string }).$schema;
  return cfg;
}

/**
 * Parse JSON text and resolve it. A leading UTF-8 byte-order mark is ignored; JSON syntax errors become a
 * {@link ConfigError} with line/column; numbers are shown in messages as written (`1e400`, not `Infinity`).
 */
export function parseConfig(text: string, source?: string): RunConfig {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    const msg = withLineColumn((e as Error).message, text);
    throw new ConfigError(
      [`not valid JSON: ${msg.length > 300 ? `${msg.slice(0, 240)}…${msg.slice(-50)}` : msg}`],
      source,
    );
  }
  return resolveWith(parsed, source, numberSources(text));
}

/**
 * Read a config file's text safely: it must be a regular file (not a folder, FIFO or device such as `/dev/zero`)
 * of at most `maxBytes` (default {@link LIMITS.fileBytes}, 1 MiB), in UTF-8. Checked with stat before opening and
 * fstat after; at most `maxBytes + 1` bytes are read, so a file that grows or lies about its size is still capped.
 * Throws {@link ConfigFileError} naming the file and the reason.
 */
export function readConfigFile(file: string, maxBytes: number = LIMITS.fileBytes): string {
  const kind = (st: fs.Stats) =>
    st.isDirectory()
      ? 'a folder'
      : st.isFIFO()
        ? 'a FIFO (named pipe)'
        : st.isCharacterDevice()
          ? 'a character device'
          : st.isBlockDevice()
            ? 'a block device'
            : st.isSocket()
              ? 'a socket'
              : 'not a regular file';
  const limit = `a config file may have at most ${maxBytes.toLocaleString('en')} bytes${maxBytes === 1 << 20 ? ' (1 MiB)' : ''}`;
  const ioError = (e: unknown, doing: string) => {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES' || code === 'EPERM'
          ? 'permission denied'
          : code === 'ENOTDIR'
            ? 'a part of the path is not a folder'
            : (code ?? clip((e as Error).message, 200));
    return new ConfigFileError(file, `cannot ${doing} the config file (${why})`);
  };
  const check = (st: fs.Stats) => {
    if (!st.isFile())
      throw new ConfigFileError(
        file,
        `is ${kind(st)}, not a config file; expected a regular JSON file`,
      );
    if (st.size > maxBytes)
      throw new ConfigFileError(file, `is ${st.size.toLocaleString('en')} bytes; ${limit}`);
  };
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    throw ioError(e, 'read');
  }
  check(st);
  let fd: number;
  try {
    // O_NONBLOCK: should the path have been swapped for a FIFO since the stat, opening it must not hang.
    fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  } catch (e) {
    throw ioError(e, 'open');
  }
  try {
    check(fs.fstatSync(fd));
    const buf = Buffer.alloc(maxBytes + 1);
    let n = 0;
    for (;;) {
      let got: number;
      try {
        got = fs.readSync(fd, buf, n, buf.length - n, null);
      } catch (e) {
        throw ioError(e, 'read');
      }
      if (got === 0) break;
      n += got;
      if (n > maxBytes)
        throw new ConfigFileError(
          file,
          `is larger than ${maxBytes.toLocaleString('en')} bytes; ${limit}`,
        );
    }
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(0, n));
    } catch {
      throw new ConfigFileError(file, 'is not UTF-8 text; expected a JSON config file');
    }
  } finally {
    fs.closeSync(fd);
  }
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
export const stepsPerEpoch = (cfg: RunConfig): number =>
  Math.max(1, Math.floor(cfg.dataset.trainSize / cfg.optimizer.batchSize));

/** Total optimisation steps for a resolved config. */
// ------------------------------------------------------------------------------------- dataset paths and specs

/**
 * The one rule for a relative `dataset.path`: it names a folder relative to the folder of the config file that
 * holds it (for a command-line flag, relative to the working directory). Absolute paths are kept.
 */
export function resolveDatasetPath(datasetPath: string, configDir: string): string {
  return path.resolve(configDir, datasetPath);
}

/** `cfg` with `dataset.path` made absolute by {@link resolveDatasetPath} (a copy; `cfg` itself when nothing changes). */
export function withResolvedDatasetPath(cfg: RunConfig, configDir: string): RunConfig {
  const p = cfg.dataset.path;
  if (p === undefined || path.isAbsolute(p)) return cfg;
  return { ...cfg, dataset: { ...cfg.dataset, path: resolveDatasetPath(p, configDir) } };
}

/** Datasets read from a folder of files (`dataset.path` required). */
export const FOLDER_DATASETS: readonly DatasetName[] = ['idx', 'cifar10', 'cifar100'];

export type DatasetName = (typeof DATASETS)[number];

/** A dataset named on the command line: `NAME[:PATH][@train|@test]`. */
export interface DatasetSpec {
  name: DatasetName;
  path?: string;
  split?: 'train' | 'test';
}

/**
 * The one parser of dataset specs on the command line (`trace --data`, `reproduce --dataset`):
 * `NAME[:PATH][@train|@test]`, e.g. `mnist`, `idx:/data/fashion@test`, `cifar10:./cifar-10-batches-bin`.
 * Null when `spec` is not of that form or NAME is not a dataset; callers add their own rules and messages.
 */
export function parseDatasetSpec(spec: string): DatasetSpec | null {
  const m = /^([a-z0-9-]+)(?::(.+?))?(?:@(train|test))?$/.exec(spec);
  if (!m || !(DATASETS as readonly string[]).includes(m[1])) return null;
  return {
    name: m[1] as DatasetName,
    ...(m[2] ? { path: m[2] } : {}),
    ...(m[3] ? { split: m[3] as 'train' | 'test' } : {}),
  };
}

export function totalSteps(cfg: RunConfig): number {
  if (cfg.schedule.steps !== undefined) return cfg.schedule.steps;
  return Math.max(1, Math.round((cfg.schedule.epochs ?? 1) * stepsPerEpoch(cfg)));
}

/**
 * In place: every field with a default may be left out of a config file, so drop it from `required` (the editor
 * then does not flag a partial `*.fisher.json`; the validator fills defaults in before it checks).
 */
export function relaxDefaults(node: unknown): void {
  if (!node || typeof node !== 'object') return;
  const o = node as { properties?: Record<string, { default?: unknown }>; required?: string[] };
  if (o.properties && Array.isArray(o.required)) {
    o.required = o.required.filter((k) => o.properties![k]?.default === undefined);
    if (!o.required.length) delete o.required;
  }
  for (const v of Object.values(o)) if (v && typeof v === 'object') relaxDefaults(v);
}

/** The JSON schema published for editors (`schemas/run-config.schema.json`). */
export function runConfigJsonSchema(): Record<string, unknown> {
  const schema = JSON.parse(JSON.stringify(RunConfigSchema)) as Record<string, unknown>;
  relaxDefaults(schema);
  // Rules between fields that a JSON schema can state, so the editor flags them as the trainer would.
  const props = (schema as { properties: Record<string, Record<string, unknown>> }).properties;
  const notAllowed = (errorMessage: string) => ({ not: {}, errorMessage });
  props.schedule.if = { required: ['steps'] };
  props.schedule.then = {
    properties: { epochs: notAllowed('give schedule.epochs or schedule.steps, not both') },
  };
  props.model.if = { properties: { arch: { not: { const: 'mlp' } } }, required: ['arch'] };
  props.model.then = {
    properties: { hidden: notAllowed('model.hidden is only allowed with model.arch "mlp"') },
  };
  return { $schema: 'http://json-schema.org/draft-07/schema#', ...schema };
}
