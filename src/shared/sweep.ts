/**
 * The sweep file (`*.sweep.json`): a base run config plus a grid over config fields and seeds, expanded into
 * named runs by src/sweep. This module holds its TypeBox schema (published as schemas/sweep.schema.json for the
 * editor) and the parser: every problem is one line naming the field (`grid."optimizer.lrr": …`).
 */
import { Type, type Static } from '@sinclair/typebox';
import Ajv, { type ErrorObject } from 'ajv';
import { LIMITS, RunConfigSchema, relaxDefaults } from './config';

/** A grid field: a dotted path into the run config (`optimizer.lr`, `penalty.kind`). */
export const GRID_KEY_PATTERN = '^[A-Za-z][A-Za-z0-9]*(\\.[A-Za-z][A-Za-z0-9]*)*$';
export const SWEEP_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._+-]{0,39}$';
/** Most runs one sweep may expand into. */
export const MAX_SWEEP_RUNS = 1000;

const GridValue = Type.Union([Type.Number(), Type.String({ maxLength: 200 }), Type.Boolean()]);

export const SlurmOptionsSchema = Type.Object(
  {
    partition: Type.Optional(
      Type.String({ pattern: '^[A-Za-z0-9._,-]{1,100}$', description: 'sbatch --partition.' }),
    ),
    gres: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z0-9._:,=-]{1,100}$',
        description: 'sbatch --gres, e.g. "gpu:1" (with backend torch-cuda for the GPU engine).',
      }),
    ),
    time: Type.Optional(
      Type.String({
        pattern: '^[0-9:-]{1,20}$',
        description: 'sbatch --time per task, e.g. "01:00:00" or "2-00:00:00".',
      }),
    ),
    cpusPerTask: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 1024, description: 'sbatch --cpus-per-task.' }),
    ),
    mem: Type.Optional(
      Type.String({ pattern: '^[0-9]+[KMGT]?$', description: 'sbatch --mem per task, e.g. "8G".' }),
    ),
    maxRunning: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 10000,
        description: 'At most this many array tasks run at once (sbatch --array=…%N).',
      }),
    ),
    extraArgs: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 500 }), {
        maxItems: 50,
        description:
          'More sbatch options, one per item, e.g. "--account=lab" or "--qos=short" (written as #SBATCH lines).',
      }),
    ),
    setup: Type.Optional(
      Type.Array(Type.String({ maxLength: 2000 }), {
        maxItems: 50,
        description:
          'Shell lines run on the compute node before training, e.g. "module load cuda" (you write them: they are run as written).',
      }),
    ),
    node: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: LIMITS.path,
        description:
          'Node.js executable on the compute nodes (default: the one that submits, which must then be on the shared file system).',
      }),
    ),
  },
  { additionalProperties: false, description: 'Slurm settings for `--launcher slurm`.' },
);
export type SlurmOptions = Static<typeof SlurmOptionsSchema>;

export const SweepFileSchema = Type.Object(
  {
    $schema: Type.Optional(Type.String({ maxLength: LIMITS.path })),
    name: Type.String({
      pattern: SWEEP_NAME_PATTERN,
      description:
        'Sweep name: the prefix of its run ids and its tag (sweep/<name>); 1–40 letters, digits, . _ + -.',
    }),
    base: Type.Union([Type.String({ minLength: 1, maxLength: LIMITS.path }), RunConfigSchema], {
      description:
        'The run config every run starts from: a *.fisher.json path (relative to this file) or the config itself.',
    }),
    grid: Type.Optional(
      Type.Record(
        Type.String({ pattern: GRID_KEY_PATTERN }),
        Type.Array(GridValue, { minItems: 1, maxItems: 100 }),
        {
          description:
            'Config field (dotted path, e.g. "optimizer.lr") → the values it takes; every combination is a run (× seeds).',
        },
      ),
    ),
    seeds: Type.Optional(
      Type.Array(Type.Integer({ minimum: 0, maximum: LIMITS.seed }), {
        minItems: 1,
        maxItems: 1000,
        uniqueItems: true,
        description: "Seeds of every grid point (default: the base config's seed).",
      }),
    ),
    runsDir: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: LIMITS.path,
        description:
          'Runs root (relative to this file); --runs-dir overrides it; default .fisherlens/runs in the working folder. On a cluster: a shared file system.',
      }),
    ),
    maxParallel: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 64,
        description: 'Runs trained at once by `--launcher local` (default 1).',
      }),
    ),
    slurm: Type.Optional(SlurmOptionsSchema),
  },
  {
    additionalProperties: false,
    title: 'Fisher Lens sweep',
    description: 'A grid of Fisher Lens runs (`*.sweep.json`): `fisher-lens sweep <file>`.',
  },
);
export type SweepFile = Static<typeof SweepFileSchema>;

/** A sweep file that is not valid: every problem one line, naming the field. */
export class SweepFileError extends Error {
  constructor(
    readonly problems: string[],
    readonly source?: string,
  ) {
    super(`${source ? `${source}: ` : ''}${problems.join('; ')}`);
    this.name = 'SweepFileError';
  }
}

let compiled: ReturnType<Ajv['compile']> | undefined;
/** The sweep validator: `base` is checked only for being a string or an object here (see src/sweep). */
function validator() {
  if (!compiled) {
    const loose = {
      ...SweepFileSchema,
      properties: {
        ...SweepFileSchema.properties,
        base: {
          type: ['string', 'object'],
          minLength: 1,
          maxLength: LIMITS.path,
        },
      },
    };
    compiled = new Ajv({ allErrors: true, strict: false }).compile(loose);
  }
  return compiled;
}

const field = (p: string) =>
  p
    ? p
        .split('/')
        .slice(1)
        .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
        .map((s) => (/^([A-Za-z_$][\w$]*|\d+)$/.test(s) ? s : JSON.stringify(s)))
        .join('.')
    : '(root)';
const shown = (v: unknown) => {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 59)}…` : s;
};

function describe(errors: ErrorObject[], data: unknown): string[] {
  const at = (ptr: string): unknown =>
    ptr
      .split('/')
      .slice(1)
      .reduce<unknown>(
        (o, k) =>
          o && typeof o === 'object'
            ? (o as Record<string, unknown>)[k.replace(/~1/g, '/').replace(/~0/g, '~')]
            : undefined,
        data,
      );
  const out = new Set<string>();
  for (const e of errors) {
    const f = field(e.instancePath);
    const got = shown(at(e.instancePath));
    if (e.keyword === 'additionalProperties') {
      const extra = (e.params as { additionalProperty: string }).additionalProperty;
      const allowed =
        e.instancePath === ''
          ? Object.keys(SweepFileSchema.properties)
          : e.instancePath === '/slurm'
            ? Object.keys(SlurmOptionsSchema.properties)
            : [];
      out.add(
        `${e.instancePath ? `${f}.` : ''}${extra}: unknown field${allowed.length ? `; expected one of ${allowed.filter((k) => k !== '$schema').join(', ')}` : ''}`,
      );
    } else if (e.keyword === 'required') {
      out.add(
        `${e.instancePath ? `${f}.` : ''}${(e.params as { missingProperty: string }).missingProperty}: required`,
      );
    } else if (e.keyword === 'propertyNames') {
      continue; // reported by the pattern error that follows
    } else if (e.keyword === 'pattern' && e.propertyName !== undefined) {
      out.add(
        `grid.${JSON.stringify(e.propertyName)}: not a config field path; expected dotted names such as "optimizer.lr"`,
      );
    } else if (e.keyword === 'anyOf' || e.keyword === 'oneOf') {
      continue; // the branch errors say more
    } else {
      out.add(`${f}: got ${got}; ${e.message ?? 'invalid'}`);
    }
  }
  return [...out];
}

/** Parse and validate a sweep file's text (`source` names it in messages). `base` is not yet resolved. */
export function parseSweepText(text: string, source?: string): SweepFile {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new SweepFileError([`not valid JSON: ${(e as Error).message}`], source);
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data))
    throw new SweepFileError([`(root): got ${shown(data)}; expected a JSON object`], source);
  const v = validator();
  if (!v(data)) throw new SweepFileError(describe(v.errors ?? [], data), source);
  return data as SweepFile;
}

/** The JSON schema published for editors (`schemas/sweep.schema.json`). */
export function sweepJsonSchema(): Record<string, unknown> {
  const schema = JSON.parse(JSON.stringify(SweepFileSchema)) as Record<string, unknown>;
  // An inline base config may leave out every field with a default, as a *.fisher.json may.
  relaxDefaults((schema.properties as Record<string, unknown>).base);
  return { $schema: 'http://json-schema.org/draft-07/schema#', ...schema };
}
