/**
 * Host ↔ webview messages for the monitor and compare panels: one TypeBox schema per message (its type and its
 * validator), unions per direction, and validators for both directions (messages are untrusted input on either
 * side: a malformed one is dropped and logged, never acted on). Events inside a message are checked by the run
 * format's own validator (src/shared/protocol.ts), the series tables by a schema derived from the metric
 * catalogue (src/shared/metrics.ts). TypeBox's `Value.Check` interprets schemas (no eval: fine under the
 * webview's CSP). No vscode, no DOM.
 *
 * Flow (the host owns the history, panels are replicas): the webview posts `ready` when it has loaded (and
 * again after being restored); the host answers with one snapshot, then sends `events` increments while the
 * panel is visible. A panel that was hidden gets a fresh snapshot when it becomes visible again.
 */
import { Type, type Static, type TProperties, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { tableColumns, type TableName } from './metrics';
import {
  DetectorKindSchema,
  HeaderEventSchema,
  isRunEvent,
  RunEventSchema,
  runEventErrors,
  RunIdSchema,
  RunStateSchema,
  schemaProblems,
  type RunSummary,
} from './protocol';
import type { RunSeries } from './series';

export { isRunEvent };

// ------------------------------------------------------------------------------------------- building blocks

const Nullable = <T extends TSchema>(s: T) => Type.Union([s, Type.Null()]);
/** A message: its `type` and fields; extra fields are allowed (forward compatible). */
const Msg = <K extends string, P extends TProperties>(type: K, props: P) =>
  Type.Object({ type: Type.Literal(type), ...props });
const Level = Type.Union([Type.Literal('info'), Type.Literal('warn'), Type.Literal('error')]);
const Config = Nullable(Type.Record(Type.String(), Type.Unknown()));
/**
 * A summary as the views use it: the host sends the reader's (salvaged) summary.json; a view needs its run id,
 * state and step count and reads every other field as possibly missing.
 */
const ViewSummary = Nullable(
  Type.Unsafe<RunSummary>(
    Type.Object({
      runId: Type.String({ maxLength: 200 }),
      state: RunStateSchema,
      steps: Type.Number(),
    }),
  ),
);

const Values = Type.Array(Nullable(Type.Number()), { maxItems: 10_000_000 });
const Xs = Type.Array(Type.Number(), { maxItems: 10_000_000 });
/** A series table: the x columns and the catalogue's metric columns of that table. */
const TableSchema = (t: TableName) =>
  Type.Object({
    step: Xs,
    epoch: Xs,
    t: Xs,
    ...Object.fromEntries(tableColumns(t).map((c) => [c, Values])),
  });

/** A {@link RunSeries} as sent to a view (its tables derive from the metric catalogue, like the type). */
export const RunSeriesSchema = Type.Unsafe<RunSeries>(
  Type.Object({
    runId: RunIdSchema,
    header: Nullable(HeaderEventSchema),
    state: Nullable(RunStateSchema),
    stateMessage: Nullable(Type.String()),
    lastStep: Type.Number(),
    t0: Nullable(Type.Number()),
    steps: TableSchema('steps'),
    fisher: TableSchema('fisher'),
    evals: TableSchema('evals'),
    markers: Type.Array(
      Type.Object({
        kind: DetectorKindSchema,
        step: Type.Number(),
        value: Type.Number(),
        rise: Nullable(Type.Number()),
        message: Type.String({ maxLength: 10_000 }),
        from: Type.Optional(Nullable(Type.Number())),
        to: Type.Optional(Nullable(Type.Number())),
        base: Type.Optional(Nullable(Type.Number())),
        baseLabel: Type.Optional(Nullable(Type.String({ maxLength: 500 }))),
      }),
      { maxItems: 10_000 },
    ),
  }),
);

/** Why a series is not one a view can draw (null when it is): its schema, and equal column lengths per table. */
export function runSeriesErrors(v: unknown, where = 'series'): string | null {
  const p = schemaProblems(RunSeriesSchema, v, where);
  if (p.length) return p.join('; ');
  for (const t of ['steps', 'fisher', 'evals'] as const) {
    const tab = (v as Record<string, Record<string, unknown[]>>)[t];
    const n = tab.step.length;
    for (const [k, col] of Object.entries(tab))
      if (Array.isArray(col) && col.length !== n)
        return `${where}.${t}.${k}: length ${col.length}, expected ${n}`;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------- messages

/** What a view gets of one run: its history, config, state and summary. */
const RUN_VIEW = {
  runId: RunIdSchema,
  /**
   * Display name (user.json's name, else the config's name; src/shared/userMeta.ts), when it differs from the
   * run id. Plain text: views put it in with textContent.
   */
  name: Type.Optional(Type.String({ maxLength: 200 })),
  series: RunSeriesSchema,
  config: Config,
  state: Nullable(RunStateSchema),
  summary: ViewSummary,
};

/** Host → monitor: the whole history of the run the panel shows (config: `config.json`, null when not readable yet; state: from `status.json` or the launcher). */
export const MonitorSnapshotMessageSchema = Msg('snapshot', RUN_VIEW);
export type MonitorSnapshotMessage = Static<typeof MonitorSnapshotMessageSchema>;
/** Host → monitor/compare: new events of a run, in order, to apply to its series. */
export const EventsMessageSchema = Msg('events', {
  runId: RunIdSchema,
  events: Type.Array(RunEventSchema, { maxItems: 1_000_000 }),
});
export type EventsMessage = Static<typeof EventsMessageSchema>;
/** Host → monitor/compare: a run's state (and summary, once written) changed. */
export const StateMessageSchema = Msg('state', {
  runId: RunIdSchema,
  state: RunStateSchema,
  message: Nullable(Type.String({ maxLength: 100_000 })),
  summary: ViewSummary,
});
export type StateMessage = Static<typeof StateMessageSchema>;
/** Host → monitor: render the charts to one PNG and answer with a `png` message. */
export const ExportPngMessageSchema = Msg('exportPng', { requestId: Type.Integer() });
export type ExportPngMessage = Static<typeof ExportPngMessageSchema>;
/** One run in the compare panel. */
export const CompareRunSchema = Type.Object(RUN_VIEW);
export type CompareRun = Static<typeof CompareRunSchema>;
/** Host → compare: the runs to compare, with their histories. */
export const CompareSnapshotMessageSchema = Msg('compareSnapshot', {
  runs: Type.Array(CompareRunSchema, { maxItems: 1000 }),
});
export type CompareSnapshotMessage = Static<typeof CompareSnapshotMessageSchema>;
/** Webview → host: loaded (or restored) and ready for a snapshot. */
export const ReadyMessageSchema = Msg('ready', {});
export type ReadyMessage = Static<typeof ReadyMessageSchema>;
/** Monitor → host: the user pressed Stop. */
export const StopMessageSchema = Msg('stop', { runId: RunIdSchema });
export type StopMessage = Static<typeof StopMessageSchema>;
/** Monitor → host: the PNG asked for (a `data:image/png;base64,` URL of at most 64 MiB) or an error. */
export const PngMessageSchema = Msg('png', {
  requestId: Type.Integer(),
  dataUrl: Nullable(
    Type.String({ pattern: '^data:image/png;base64,', maxLength: 64 * 1024 * 1024 }),
  ),
  error: Nullable(Type.String({ maxLength: 10_000 })),
});
export type PngMessage = Static<typeof PngMessageSchema>;
/** Webview → host: something for the "Fisher Lens" output channel. */
export const LogMessageSchema = Msg('log', {
  level: Level,
  message: Type.String({ maxLength: 100_000 }),
});
export type LogMessage = Static<typeof LogMessageSchema>;
/**
 * The monitor's view settings, kept per run (the host stores them and presets the page when the run's monitor
 * is opened again): x axis, smoothing weight (one of the toolbar's, in [0, 1)), log scale of Tr(F).
 */
export const MonitorSettingsSchema = Type.Object({
  xAxis: Type.Union([Type.Literal('step'), Type.Literal('epoch'), Type.Literal('time')]),
  smoothing: Type.Number({ minimum: 0, exclusiveMaximum: 1 }),
  logScale: Type.Boolean(),
});
export type MonitorSettings = Static<typeof MonitorSettingsSchema>;
/** Monitor → host: the user changed the view settings of this run. */
export const ViewSettingsMessageSchema = Msg('viewSettings', {
  runId: RunIdSchema,
  settings: MonitorSettingsSchema,
});
export type ViewSettingsMessage = Static<typeof ViewSettingsMessageSchema>;
/** Compare → host: open the monitor of a run (click in the legend or the table). */
export const OpenMonitorMessageSchema = Msg('openMonitor', { runId: RunIdSchema });
export type OpenMonitorMessage = Static<typeof OpenMonitorMessageSchema>;

export type ToMonitorMessage =
  MonitorSnapshotMessage | EventsMessage | StateMessage | ExportPngMessage;
export type FromMonitorMessage =
  ReadyMessage | StopMessage | PngMessage | LogMessage | ViewSettingsMessage;
export type ToCompareMessage = CompareSnapshotMessage | EventsMessage | StateMessage;
export type FromCompareMessage = ReadyMessage | LogMessage | OpenMonitorMessage;

/** What a panel keeps with `setState` so a reload can restore it (and the serializer can reopen it). */
export const MonitorViewStateSchema = Type.Object({
  runId: RunIdSchema,
  xAxis: Type.Optional(
    Type.Union([Type.Literal('step'), Type.Literal('epoch'), Type.Literal('time')]),
  ),
  logScale: Type.Optional(Type.Boolean()),
  smoothing: Type.Optional(Type.Number({ minimum: 0, exclusiveMaximum: 1 })),
});
export const CompareViewStateSchema = Type.Object({
  runIds: Type.Array(RunIdSchema, { maxItems: 1000 }),
  xAxis: Type.Optional(Type.Union([Type.Literal('step'), Type.Literal('epoch')])),
  metric: Type.Optional(Type.String({ maxLength: 100 })),
});
export type MonitorViewState = Static<typeof MonitorViewStateSchema>;
export type CompareViewState = Static<typeof CompareViewStateSchema>;

// -------------------------------------------------------------------------------------------- validators

const MESSAGE_SCHEMAS = {
  snapshot: MonitorSnapshotMessageSchema,
  events: EventsMessageSchema,
  state: StateMessageSchema,
  exportPng: ExportPngMessageSchema,
  compareSnapshot: CompareSnapshotMessageSchema,
  ready: ReadyMessageSchema,
  stop: StopMessageSchema,
  png: PngMessageSchema,
  log: LogMessageSchema,
  openMonitor: OpenMonitorMessageSchema,
  viewSettings: ViewSettingsMessageSchema,
} as const;

type Kind = keyof typeof MESSAGE_SCHEMAS;

/** Outcome of validating a message: the message, or why it was rejected. */
export type Validated<T> = { ok: true; msg: T } | { ok: false; error: string };

const isObj = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/** Why a message of a known kind is invalid: events by the run format's validator, series with their lengths. */
function messageErrors(k: Kind, v: Record<string, unknown>): string | null {
  if (!Value.Check(MESSAGE_SCHEMAS[k], v)) {
    if (k === 'events' && Array.isArray(v.events)) {
      const i = v.events.findIndex((e) => !isRunEvent(e));
      if (i >= 0) return `message.events[${i}]: ${runEventErrors(v.events[i])}`;
    }
    return schemaProblems(MESSAGE_SCHEMAS[k], v, 'message').join('; ');
  }
  const o: Record<string, unknown> = v;
  if (k === 'snapshot') return runSeriesErrors(o.series, 'message.series');
  if (k === 'compareSnapshot') {
    for (const [i, r] of (o.runs as { series: unknown }[]).entries()) {
      const e = runSeriesErrors(r.series, `message.runs[${i}].series`);
      if (e) return e;
    }
  }
  return null;
}

function validator<T>(kinds: readonly Kind[]) {
  return (v: unknown): Validated<T> => {
    if (!isObj(v)) return { ok: false, error: 'message: expected an object' };
    const k = v.type as Kind;
    if (typeof k !== 'string' || !kinds.includes(k)) {
      return {
        ok: false,
        error: `message.type: got ${JSON.stringify(v.type)}; expected one of ${kinds.join(', ')}`,
      };
    }
    const e = messageErrors(k, v);
    return e ? { ok: false, error: e } : { ok: true, msg: v as T };
  };
}

/** Validate a message received by the monitor webview. */
export const validateToMonitor = validator<ToMonitorMessage>([
  'snapshot',
  'events',
  'state',
  'exportPng',
]);
/** Validate a message received by the host from a monitor webview. */
export const validateFromMonitor = validator<FromMonitorMessage>([
  'ready',
  'stop',
  'png',
  'log',
  'viewSettings',
]);
/** Validate a message received by the compare webview. */
export const validateToCompare = validator<ToCompareMessage>([
  'compareSnapshot',
  'events',
  'state',
]);
/** Validate a message received by the host from a compare webview. */
export const validateFromCompare = validator<FromCompareMessage>(['ready', 'log', 'openMonitor']);

/** Validate state restored by a panel serializer (anything else is ignored). */
export const validateMonitorViewState = (v: unknown): MonitorViewState | null =>
  Value.Check(MonitorViewStateSchema, v) ? v : null;
/** Monitor settings kept for a run (host memento or the page's preset), or null when they are not valid. */
export const validateMonitorSettings = (v: unknown): MonitorSettings | null =>
  Value.Check(MonitorSettingsSchema, v) ? v : null;
export const validateCompareViewState = (v: unknown): CompareViewState | null =>
  Value.Check(CompareViewStateSchema, v) ? v : null;
