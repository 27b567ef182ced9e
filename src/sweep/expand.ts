/**
 * A sweep file expanded into named runs: the base config with every combination of the grid's values, × seeds,
 * in file order (seeds innermost). Run ids are deterministic (`<sweep>-<field><value>…-s<seed>`), so a rerun finds
 * the runs it made before. Each run's config is fully resolved (defaults filled in, dataset folder absolute) and
 * validated; a problem names the grid field and the run.
 */
import crypto from 'node:crypto';
import path from 'node:path';
import {
  ConfigError,
  RunConfigSchema,
  parseConfig,
  readConfigFile,
  resolveConfig,
  totalSteps,
  withResolvedDatasetPath,
  type RunConfig,
} from '../shared/config';
import { MAX_SWEEP_RUNS, SweepFileError, parseSweepText, type SweepFile } from '../shared/sweep';

export type GridValue = number | string | boolean;

export interface SweepRun {
  /** Run id: the folder name in the runs root. */
  id: string;
  /** Position in the sweep (0-based): the Slurm array index. */
  index: number;
  /** The grid's values of this run, by field. */
  assignment: Record<string, GridValue>;
  seed: number;
  config: RunConfig;
  steps: number;
}

export interface Sweep {
  file: string;
  name: string;
  spec: SweepFile;
  /** The runs root: --runs-dir, else the file's runsDir, else .fisherlens/runs in the working folder. */
  runsRoot: string;
  runs: SweepRun[];
}

/** The tag every run of sweep `name` carries in its user.json (the runs table filters by it: `#sweep/<name>`). */
export const sweepTag = (name: string) => `sweep/${name}`;

/** Where a sweep keeps its per-run configs, the sbatch script, logs and its manifest: `<runs root>/.sweeps/<name>`. */
export const sweepDir = (runsRoot: string, name: string) => path.join(runsRoot, '.sweeps', name);

/** Whether `field` (dotted) names a leaf of the run config schema; else why not. */
export function gridFieldProblem(field: string): string | null {
  const parts = field.split('.');
  let node: unknown = RunConfigSchema;
  for (let i = 0; i < parts.length; i++) {
    const props = (node as { properties?: Record<string, unknown> }).properties;
    if (!props || !(parts[i] in props)) {
      const where = parts.slice(0, i).join('.');
      const keys = props ? Object.keys(props).filter((k) => k !== '$schema') : [];
      return `not a run config field${keys.length ? `; ${where || 'the config'} has ${keys.join(', ')}` : ` (${where} has no fields)`}`;
    }
    node = props[parts[i]];
  }
  if ((node as { type?: string }).type === 'object')
    return `names a group of fields; give one of ${Object.keys((node as { properties: object }).properties).join(', ')}`;
  if (field === 'seed') return 'use the "seeds" list for seeds';
  if (field === 'name') return 'run names come from the sweep name and the grid';
  return null;
}

/** `0.01` → `0.01`, `"fisher"` → `fisher`; characters a run id may not hold become `_`. */
export function valueSlug(v: GridValue): string {
  const s = typeof v === 'number' ? String(v) : String(v);
  return s.replace(/[^A-Za-z0-9.+-]+/g, '_').slice(0, 40) || '_';
}

/** Short names of the grid fields: the last segment, or the whole path where two fields share it. */
function shortNames(fields: string[]): string[] {
  const leaf = (f: string) => f.split('.').pop()!;
  return fields.map((f) =>
    fields.filter((g) => leaf(g) === leaf(f)).length > 1 ? f.replace(/\./g, '_') : leaf(f),
  );
}

const hash8 = (s: string) => crypto.createHash('sha256').update(s).digest('hex').slice(0, 8);

/** Run ids for the given assignments: readable, at most 128 characters, unique (a hash is added where needed). */
export function runIds(
  sweepName: string,
  fields: string[],
  points: { assignment: Record<string, GridValue>; seed: number }[],
): string[] {
  const names = shortNames(fields);
  const full = (p: (typeof points)[number]) =>
    JSON.stringify([fields.map((f) => p.assignment[f]), p.seed]);
  let ids = points.map((p) => {
    const parts = fields.map((f, i) => `${names[i]}${valueSlug(p.assignment[f])}`);
    return [sweepName, ...parts, `s${p.seed}`].join('-');
  });
  ids = ids.map((id, i) =>
    id.length > 128 ? `${id.slice(0, 119)}-${hash8(full(points[i]))}` : id,
  );
  const count = new Map<string, number>();
  for (const id of ids) count.set(id, (count.get(id) ?? 0) + 1);
  return ids.map((id, i) =>
    count.get(id)! > 1 ? `${id.slice(0, 119)}-${hash8(full(points[i]))}` : id,
  );
}

const setPath = (obj: Record<string, unknown>, field: string, v: unknown) => {
  const parts = field.split('.');
  let o = obj;
  for (const k of parts.slice(0, -1)) {
    if (o[k] === undefined || o[k] === null || typeof o[k] !== 'object') o[k] = {};
    o = o[k] as Record<string, unknown>;
  }
  o[parts[parts.length - 1]] = v;
};

/** Every combination of the grid's values, in file order (the last field varies fastest). */
function product(fields: string[], grid: Record<string, GridValue[]>) {
  let out: Record<string, GridValue>[] = [{}];
  for (const f of fields) out = out.flatMap((a) => grid[f].map((v) => ({ ...a, [f]: v })));
  return out;
}

/**
 * Expand a parsed sweep (its file's folder resolves `base` and `runsDir`). Throws {@link SweepFileError} (one line
 * per problem, naming the field) or {@link ConfigError} (a run's config is invalid; names the run and field).
 */
export function expandSweep(
  spec: SweepFile,
  file: string,
  opts: { runsDir?: string; cwd?: string } = {},
): Sweep {
  const dir = path.dirname(path.resolve(file));
  const cwd = opts.cwd ?? process.cwd();
  const grid = (spec.grid ?? {}) as Record<string, GridValue[]>;
  const fields = Object.keys(grid);
  const problems: string[] = [];
  for (const f of fields) {
    const bad = gridFieldProblem(f);
    if (bad) problems.push(`grid.${JSON.stringify(f)}: ${bad}`);
  }
  if (problems.length) throw new SweepFileError(problems, file);

  // The base config as written (checked once here, resolved per run after the grid's values are set).
  let raw: Record<string, unknown>;
  let base: RunConfig;
  let baseDir = dir;
  if (typeof spec.base === 'string') {
    const baseFile = path.resolve(dir, spec.base);
    baseDir = path.dirname(baseFile);
    try {
      const text = readConfigFile(baseFile);
      base = parseConfig(text, baseFile);
      raw = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
    } catch (e) {
      if (e instanceof ConfigError || (e as Error).name === 'ConfigFileError')
        throw new SweepFileError([`base: ${(e as Error).message}`], file);
      throw e;
    }
  } else {
    raw = structuredClone(spec.base) as Record<string, unknown>;
    try {
      base = resolveConfig(raw, `${file} base`);
    } catch (e) {
      if (e instanceof ConfigError)
        throw new SweepFileError(
          e.problems.map((p) => `base.${p}`),
          file,
        );
      throw e;
    }
  }
  delete raw.$schema;
  const seeds = spec.seeds ?? [base.seed];
  const points = product(fields, grid).flatMap((assignment) =>
    seeds.map((seed) => ({ assignment, seed })),
  );
  if (points.length > MAX_SWEEP_RUNS)
    throw new SweepFileError(
      [
        `grid: ${points.length} runs (${fields.map((f) => grid[f].length).join(' × ')} × ${seeds.length} seeds); at most ${MAX_SWEEP_RUNS} per sweep`,
      ],
      file,
    );
  const ids = runIds(spec.name, fields, points);
  const runs: SweepRun[] = points.map((p, index) => {
    const cfg = structuredClone(raw);
    for (const f of fields) {
      setPath(cfg, f, p.assignment[f]);
      // A run length from the grid replaces the base's other one (steps or epochs: a config gives one).
      const sched = cfg.schedule as Record<string, unknown> | undefined;
      if (f === 'schedule.steps' && sched) delete sched.epochs;
      if (f === 'schedule.epochs' && sched) delete sched.steps;
    }
    cfg.seed = p.seed;
    cfg.name = ids[index].slice(0, 80).replace(/[^A-Za-z0-9._ +-]/g, '_');
    let config: RunConfig;
    try {
      config = resolveConfig(cfg, `${file} (run ${ids[index]})`);
    } catch (e) {
      if (e instanceof ConfigError) {
        const blamed = e.problems.map((pr) => {
          const f = fields.find((g) => pr.startsWith(`${g}:`) || pr.startsWith(`${g} `));
          return f
            ? `grid.${JSON.stringify(f)} value ${JSON.stringify(p.assignment[f])}: ${pr}`
            : pr;
        });
        throw new SweepFileError([`run ${ids[index]}: ${blamed.join('; ')}`], file);
      }
      throw e;
    }
    // A dataset folder from the grid is relative to the sweep file; one from the base file, to that file.
    config = withResolvedDatasetPath(config, fields.includes('dataset.path') ? dir : baseDir);
    return {
      id: ids[index],
      index,
      assignment: p.assignment,
      seed: p.seed,
      config,
      steps: totalSteps(config),
    };
  });
  const runsRoot = opts.runsDir
    ? path.resolve(cwd, opts.runsDir)
    : spec.runsDir
      ? path.resolve(dir, spec.runsDir)
      : path.resolve(cwd, '.fisherlens', 'runs');
  return { file: path.resolve(file), name: spec.name, spec, runsRoot, runs };
}

/** Read, validate and expand a sweep file (size-capped, regular files only). */
export function loadSweep(file: string, opts: { runsDir?: string; cwd?: string } = {}): Sweep {
  let text: string;
  try {
    text = readConfigFile(file);
  } catch (e) {
    throw new SweepFileError([(e as Error).message.replace(`${file}: `, '')], file);
  }
  return expandSweep(parseSweepText(text, file), file, opts);
}
