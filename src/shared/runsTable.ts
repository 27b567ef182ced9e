/**
 * The Runs table (TensorBoard's HParams, W&B's runs table): one row per run with its config fields and outcomes,
 * sortable and filterable, with a parallel-coordinates chart over the numeric columns; runs picked there open in
 * Compare. The columns, how a row is built from a run's config and headline, the messages between the host and
 * its webview (validated both ways) and the chart's scales. No DOM.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { RunIdSchema, RunStateSchema, schemaProblems } from './protocol';
import type { Headline } from './series';

export interface RunsColumn {
  id: string;
  label: string;
  /** Where it comes from: the run's config or what the run measured. */
  group: 'config' | 'outcome';
  /** Numbers are sorted numerically and become axes of the parallel-coordinates chart. */
  type: 'number' | 'text';
  /** Shown as a percentage. */
  percent?: boolean;
  /** A log axis in the chart (learning rates, Tr(F): values over decades). */
  log?: boolean;
}

export const RUNS_COLUMNS: readonly RunsColumn[] = [
  { id: 'arch', label: 'Model', group: 'config', type: 'text' },
  { id: 'dataset', label: 'Data', group: 'config', type: 'text' },
  { id: 'lr', label: 'LR', group: 'config', type: 'number', log: true },
  { id: 'batchSize', label: 'Batch', group: 'config', type: 'number', log: true },
  { id: 'momentum', label: 'Momentum', group: 'config', type: 'number' },
  { id: 'penalty', label: 'Penalty', group: 'config', type: 'text' },
  { id: 'alpha', label: 'Penalty α', group: 'config', type: 'number', log: true },
  { id: 'labelNoise', label: 'Label noise', group: 'config', type: 'number', percent: true },
  { id: 'seed', label: 'Seed', group: 'config', type: 'number' },
  { id: 'steps', label: 'Steps', group: 'outcome', type: 'number' },
  { id: 'peakTrF', label: 'Peak Tr(F)', group: 'outcome', type: 'number', log: true },
  { id: 'trFi', label: 'Tr(F_i)', group: 'outcome', type: 'number', log: true },
  { id: 'explosionStep', label: 'Explosion @ step', group: 'outcome', type: 'number' },
  { id: 'testAcc', label: 'Final test acc.', group: 'outcome', type: 'number', percent: true },
  { id: 'cleanAcc', label: 'Clean acc.', group: 'outcome', type: 'number', percent: true },
  { id: 'noisyAcc', label: 'Noisy acc.', group: 'outcome', type: 'number', percent: true },
];

const Cell = Type.Union([Type.Number(), Type.String({ maxLength: 200 }), Type.Null()]);
export const RunsTableRowSchema = Type.Object({
  runId: RunIdSchema,
  /** Display name (user.json, else config), when it differs from the run id. */
  name: Type.Optional(Type.String({ maxLength: 200 })),
  state: RunStateSchema,
  tags: Type.Array(Type.String({ maxLength: 40 }), { maxItems: 20 }),
  values: Type.Record(Type.String({ maxLength: 40 }), Cell),
});
export type RunsTableRow = Static<typeof RunsTableRowSchema>;

/** Host → runs table: every run of the runs root; `filter`: put this text in the filter box (e.g. `#sweep/<name>`). */
export const RunsTableMessageSchema = Type.Object({
  type: Type.Literal('runsTable'),
  rows: Type.Array(RunsTableRowSchema, { maxItems: 100_000 }),
  filter: Type.Optional(Type.String({ maxLength: 200 })),
});
export type ToRunsTableMessage = Static<typeof RunsTableMessageSchema>;

/** Runs table → host: ready for data; compare these runs; open a run's monitor; a log line. */
export const FromRunsTableSchema = Type.Union([
  Type.Object({ type: Type.Literal('ready') }),
  Type.Object({
    type: Type.Literal('compare'),
    runIds: Type.Array(RunIdSchema, { minItems: 2, maxItems: 50, uniqueItems: true }),
  }),
  Type.Object({ type: Type.Literal('openMonitor'), runId: RunIdSchema }),
  Type.Object({
    type: Type.Literal('log'),
    level: Type.Union([Type.Literal('info'), Type.Literal('warn'), Type.Literal('error')]),
    message: Type.String({ maxLength: 100_000 }),
  }),
]);
export type FromRunsTableMessage = Static<typeof FromRunsTableSchema>;

type Validated<T> = { ok: true; msg: T } | { ok: false; error: string };
const check =
  <T>(schema: Parameters<typeof Value.Check>[0]) =>
  (v: unknown): Validated<T> =>
    Value.Check(schema, v)
      ? { ok: true, msg: v as T }
      : { ok: false, error: schemaProblems(schema, v, 'message').slice(0, 3).join('; ') };

export const validateToRunsTable = check<ToRunsTableMessage>(RunsTableMessageSchema);
export const validateFromRunsTable = check<FromRunsTableMessage>(FromRunsTableSchema);

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const text = (v: unknown): string | null => (typeof v === 'string' && v ? v.slice(0, 200) : null);

/** A run's row: config fields from its (validated) config.json, outcomes from its headline numbers. */
export function runsTableValues(
  config: Record<string, unknown> | null,
  h: Headline,
  steps: number,
): Record<string, number | string | null> {
  const c = (config ?? {}) as Record<string, Record<string, unknown> | undefined>;
  const penalty = text(c.penalty?.kind);
  return {
    arch: text(c.model?.arch),
    dataset: text(c.dataset?.name),
    lr: num(c.optimizer?.lr),
    batchSize: num(c.optimizer?.batchSize),
    momentum: num(c.optimizer?.momentum),
    penalty,
    alpha: penalty && penalty !== 'none' ? num(c.penalty?.alpha) : null,
    labelNoise: num(c.labelNoise?.fraction),
    seed: num((config as { seed?: unknown } | null)?.seed),
    steps: num(steps),
    peakTrF: num(h.peakTrF),
    trFi: num(h.trFi),
    explosionStep: num(h.explosion?.step),
    testAcc: num(h.testAcc),
    cleanAcc: num(h.cleanAcc),
    noisyAcc: num(h.noisyAcc),
  };
}

/** Compare two cells for sorting: numbers numerically, text alphabetically, empty cells last either way. */
export function compareCells(
  a: number | string | null | undefined,
  b: number | string | null | undefined,
  descending = false,
): number {
  const ea = a === null || a === undefined;
  const eb = b === null || b === undefined;
  if (ea || eb) return ea === eb ? 0 : ea ? 1 : -1;
  const d =
    typeof a === 'number' && typeof b === 'number' ? a - b : String(a).localeCompare(String(b));
  return descending ? -d : d;
}

/**
 * A parallel-coordinates axis: maps a column's values onto [0, 1] (0 = bottom). Log axes for columns marked `log`
 * whose values are all positive; a single value sits in the middle.
 */
export function axisScale(
  values: readonly (number | null)[],
  log: boolean,
): { scale: (v: number) => number; min: number; max: number; log: boolean } | null {
  const xs = values.filter((v): v is number => v !== null && Number.isFinite(v));
  if (!xs.length) return null;
  const useLog = log && xs.every((v) => v > 0);
  const f = useLog ? Math.log10 : (v: number) => v;
  const lo = Math.min(...xs.map(f));
  const hi = Math.max(...xs.map(f));
  return {
    min: Math.min(...xs),
    max: Math.max(...xs),
    log: useLog,
    scale: (v) => (hi === lo ? 0.5 : (f(v) - lo) / (hi - lo)),
  };
}

/**
 * Whether a row passes a filter: every word must hold. `column<value`, `column>=value`, `column=value` compare a
 * column (its id, e.g. `lr`, `testAcc`, `arch`; numbers numerically, percentages as fractions or with `%`); other
 * words must occur in the run's id, name or state, and `#tag` must be one of its tags.
 */
export function rowMatches(filter: string, row: RunsTableRow): boolean {
  const words = filter.trim().split(/\s+/).filter(Boolean);
  const ids = new Map(RUNS_COLUMNS.map((c) => [c.id.toLowerCase(), c]));
  const hay = [row.runId, row.name ?? '', row.state].join('\n').toLowerCase();
  return words.every((w) => {
    const cmp = /^([A-Za-z_]\w*)(<=|>=|!=|<|>|=)(.+)$/.exec(w);
    const col = cmp && ids.get(cmp[1].toLowerCase());
    if (cmp && col) {
      const v = row.values[col.id];
      const op = cmp[2];
      if (v === null || v === undefined) return op === '!=';
      if (typeof v === 'number') {
        const raw = cmp[3].endsWith('%') ? Number(cmp[3].slice(0, -1)) / 100 : Number(cmp[3]);
        if (!Number.isFinite(raw)) return false;
        const eq = Math.abs(v - raw) <= 1e-12 * Math.max(1, Math.abs(raw));
        return op === '<'
          ? v < raw
          : op === '>'
            ? v > raw
            : op === '<='
              ? v <= raw || eq
              : op === '>='
                ? v >= raw || eq
                : op === '='
                  ? eq
                  : !eq;
      }
      const s = String(v).toLowerCase();
      const t = cmp[3].toLowerCase();
      return op === '=' ? s === t : op === '!=' ? s !== t : false;
    }
    if (w.startsWith('#'))
      return row.tags.some((t) => t.toLowerCase() === w.slice(1).toLowerCase());
    return hay.includes(w.toLowerCase());
  });
}
