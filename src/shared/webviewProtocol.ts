/**
 * Host ↔ webview messages for the monitor and compare panels: one interface per message, unions per
 * direction, and validators for both directions (messages are untrusted input on either side: a malformed one
 * is dropped and logged, never acted on). No vscode, no DOM.
 *
 * Flow (the host owns the history, panels are replicas): the webview posts `ready` when it has loaded (and
 * again after being restored); the host answers with one snapshot, then sends `events` increments while the
 * panel is visible. A panel that was hidden gets a fresh snapshot when it becomes visible again.
 */
import type { RunEvent, RunState, RunSummary } from './protocol';
import type { RunSeries } from './series';

// ---------------------------------------------------------------------------------------------- messages

/** Host → monitor: the whole history of the run the panel shows. */
export interface MonitorSnapshotMessage {
  type: 'snapshot';
  runId: string;
  series: RunSeries;
  /** The resolved run config (`config.json`), null when not readable yet. */
  config: Record<string, unknown> | null;
  /** State from `status.json` (or the launcher for queued runs). */
  state: RunState | null;
  summary: RunSummary | null;
}

/** Host → monitor/compare: new events of a run, in order, to apply to its series. */
export interface EventsMessage {
  type: 'events';
  runId: string;
  events: RunEvent[];
}

/** Host → monitor/compare: a run's state (and summary, once written) changed. */
export interface StateMessage {
  type: 'state';
  runId: string;
  state: RunState;
  message: string | null;
  summary: RunSummary | null;
}

/** Host → monitor: render the charts to one PNG and answer with {@link PngMessage}. */
export interface ExportPngMessage {
  type: 'exportPng';
  requestId: number;
}

/** One run in the compare panel. */
export interface CompareRun {
  runId: string;
  series: RunSeries;
  config: Record<string, unknown> | null;
  state: RunState | null;
  summary: RunSummary | null;
}

/** Host → compare: the runs to compare, with their histories. */
export interface CompareSnapshotMessage {
  type: 'compareSnapshot';
  runs: CompareRun[];
}

/** Webview → host: loaded (or restored) and ready for a snapshot. */
export interface ReadyMessage {
  type: 'ready';
}

/** Monitor → host: the user pressed Stop. */
export interface StopMessage {
  type: 'stop';
  runId: string;
}

/** Monitor → host: the PNG asked for by {@link ExportPngMessage} (a `data:image/png;base64,` URL) or an error. */
export interface PngMessage {
  type: 'png';
  requestId: number;
  dataUrl: string | null;
  error: string | null;
}

/** Webview → host: something for the "Fisher Lens" output channel. */
export interface LogMessage {
  type: 'log';
  level: 'info' | 'warn' | 'error';
  message: string;
}

/** Compare → host: open the monitor of a run (click in the legend or the table). */
export interface OpenMonitorMessage {
  type: 'openMonitor';
  runId: string;
}

export type ToMonitorMessage = MonitorSnapshotMessage | EventsMessage | StateMessage | ExportPngMessage;
export type FromMonitorMessage = ReadyMessage | StopMessage | PngMessage | LogMessage;
export type ToCompareMessage = CompareSnapshotMessage | EventsMessage | StateMessage;
export type FromCompareMessage = ReadyMessage | LogMessage | OpenMonitorMessage;

/** What a panel keeps with `setState` so a reload can restore it (and the serializer can reopen it). */
export interface MonitorViewState {
  runId: string;
  xAxis?: 'step' | 'epoch' | 'time';
  logScale?: boolean;
  smoothing?: number;
}
export interface CompareViewState {
  runIds: string[];
  xAxis?: 'step' | 'epoch';
  metric?: string;
}

// -------------------------------------------------------------------------------------------- validators

/** A check returns null when `v` is valid, else a message naming the path. */
export type Check = (v: unknown, path: string) => string | null;

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

export const num: Check = (v, p) => (typeof v === 'number' && Number.isFinite(v) ? null : `${p}: expected a finite number`);
export const int: Check = (v, p) => (Number.isSafeInteger(v) ? null : `${p}: expected an integer`);
export const str = (max = 1_000_000): Check => (v, p) =>
  typeof v === 'string' && v.length <= max ? null : `${p}: expected a string of at most ${max} characters`;
export const bool: Check = (v, p) => (typeof v === 'boolean' ? null : `${p}: expected a boolean`);
export const any: Check = () => null;
export const lit = (...vals: readonly unknown[]): Check => (v, p) =>
  vals.includes(v) ? null : `${p}: expected one of ${vals.map((x) => JSON.stringify(x)).join(', ')}`;
export const nullable = (c: Check): Check => (v, p) => (v === null ? null : c(v, p));
/** A metric value: a finite number or null (non-finite numbers become null in JSON). */
export const numOrNull: Check = nullable(num);
export const optional = (c: Check): Check => (v, p) => (v === undefined ? null : c(v, p));
export const arr = (item: Check, max = 10_000_000): Check => (v, p) => {
  if (!Array.isArray(v)) return `${p}: expected an array`;
  if (v.length > max) return `${p}: more than ${max} items`;
  for (let i = 0; i < v.length; i++) {
    const e = item(v[i], `${p}[${i}]`);
    if (e) return e;
  }
  return null;
};
/** An object with (at least) these fields; extra fields are allowed (forward compatible). */
export const obj = (shape: Record<string, Check>): Check => (v, p) => {
  if (!isObj(v)) return `${p}: expected an object`;
  for (const [k, c] of Object.entries(shape)) {
    const e = c(v[k], `${p}.${k}`);
    if (e) return e;
  }
  return null;
};
export const record: Check = (v, p) => (isObj(v) ? null : `${p}: expected an object`);
const all = (...cs: Check[]): Check => (v, p) => {
  for (const c of cs) {
    const e = c(v, p);
    if (e) return e;
  }
  return null;
};

/** A run id as used for a run directory name: no path separators, no `..`. */
export const runId: Check = (v, p) =>
  typeof v === 'string' && v.length > 0 && v.length <= 200 && !/[\\/\0]/.test(v) && v !== '.' && v !== '..'
    ? null
    : `${p}: expected a run id (1–200 characters, no path separators)`;

const RUN_STATES = ['queued', 'running', 'completed', 'stopped', 'failed', 'diverged'] as const;
export const runState: Check = lit(...RUN_STATES);

const time = { t: num };
const stepped = { t: num, step: int, epoch: numOrNull };

/** Validators of each run event type (the fields the views use). */
export const EVENT_CHECKS: Record<RunEvent['type'], Check> = {
  header: obj({
    ...time,
    type: lit('header'),
    schemaVersion: int,
    runId: str(200),
    backend: str(100),
    dataset: obj({ name: str(200), trainSize: int, testSize: int, numClasses: int, noisyCount: int }),
    model: obj({ arch: str(100), paramCount: int }),
    seed: int,
    stepsPerEpoch: int,
    totalSteps: int,
  }),
  step: obj({
    ...stepped,
    type: lit('step'),
    loss: numOrNull,
    lr: numOrNull,
    penalty: optional(numOrNull),
    gradNorm: optional(numOrNull),
    examplesPerSec: optional(numOrNull),
  }),
  fisher: obj({
    ...stepped,
    type: lit('fisher'),
    trF: numOrNull,
    trFStderr: optional(numOrNull),
    probeSize: optional(int),
    trFB: optional(numOrNull),
  }),
  eval: obj({
    ...stepped,
    type: lit('eval'),
    testLoss: numOrNull,
    testAcc: numOrNull,
    trainLoss: optional(numOrNull),
    trainAcc: optional(numOrNull),
    cleanLoss: optional(numOrNull),
    cleanAcc: optional(numOrNull),
    noisyLoss: optional(numOrNull),
    noisyAcc: optional(numOrNull),
  }),
  detector: obj({
    ...time,
    type: lit('detector'),
    step: int,
    kind: lit('explosion', 'peak', 'trFi'),
    value: num,
    rise: optional(numOrNull),
    message: str(10_000),
  }),
  status: obj({ ...time, type: lit('status'), step: optional(int), state: runState, message: optional(nullable(str(10_000))) }),
  log: obj({ ...time, type: lit('log'), level: lit('info', 'warn', 'error'), message: str(100_000) }),
};

/** A run event of a known type with the fields the views use. */
export const runEvent: Check = (v, p) => {
  if (!isObj(v)) return `${p}: expected an event object`;
  const c = EVENT_CHECKS[v.type as RunEvent['type']];
  if (!c || !Object.prototype.hasOwnProperty.call(EVENT_CHECKS, v.type as string)) {
    return `${p}.type: unknown event type ${JSON.stringify(v.type)}`;
  }
  return c(v, p);
};

/** True when `v` is an event the views can use (the host filters with this before sending). */
export const isRunEvent = (v: unknown): v is RunEvent => runEvent(v, 'event') === null;

const vals = arr(numOrNull);
const xs = { step: arr(num), epoch: arr(num), t: arr(num) };
/** All columns of a table have the same length as its `step` column. */
const sameLength: Check = (v, p) => {
  const o = v as Record<string, unknown[]>;
  const n = o.step.length;
  for (const [k, col] of Object.entries(o)) if (Array.isArray(col) && col.length !== n) return `${p}.${k}: length ${col.length}, expected ${n}`;
  return null;
};
const table = (cols: string[]): Check =>
  all(obj({ ...xs, ...Object.fromEntries(cols.map((c) => [c, vals])) }), sameLength);

export const runSeries: Check = obj({
  runId,
  header: nullable(record),
  state: nullable(runState),
  stateMessage: nullable(str()),
  lastStep: num,
  t0: numOrNull,
  steps: table(['loss', 'lr', 'penalty', 'gradNorm', 'examplesPerSec']),
  fisher: table(['trF', 'trFStderr', 'trFB']),
  evals: table(['testLoss', 'testAcc', 'trainLoss', 'trainAcc', 'cleanLoss', 'cleanAcc', 'noisyLoss', 'noisyAcc']),
  markers: arr(obj({ kind: lit('explosion', 'peak', 'trFi'), step: num, value: num, rise: numOrNull, message: str(10_000) }), 10_000),
});

const summary = nullable(obj({ runId: str(200), state: runState, steps: num }));

const MESSAGE_CHECKS = {
  snapshot: obj({ type: lit('snapshot'), runId, series: runSeries, config: nullable(record), state: nullable(runState), summary }),
  events: obj({ type: lit('events'), runId, events: arr(runEvent, 1_000_000) }),
  state: obj({ type: lit('state'), runId, state: runState, message: nullable(str(100_000)), summary }),
  exportPng: obj({ type: lit('exportPng'), requestId: int }),
  compareSnapshot: obj({
    type: lit('compareSnapshot'),
    runs: arr(obj({ runId, series: runSeries, config: nullable(record), state: nullable(runState), summary }), 1000),
  }),
  ready: obj({ type: lit('ready') }),
  stop: obj({ type: lit('stop'), runId }),
  png: obj({
    type: lit('png'),
    requestId: int,
    dataUrl: nullable((v, p) =>
      typeof v === 'string' && v.startsWith('data:image/png;base64,') && v.length <= 64 * 1024 * 1024
        ? null
        : `${p}: expected a data:image/png;base64 URL of at most 64 MiB`,
    ),
    error: nullable(str(10_000)),
  }),
  log: obj({ type: lit('log'), level: lit('info', 'warn', 'error'), message: str(100_000) }),
  openMonitor: obj({ type: lit('openMonitor'), runId }),
} satisfies Record<string, Check>;

type Kind = keyof typeof MESSAGE_CHECKS;

/** Outcome of validating a message: the message, or why it was rejected. */
export type Validated<T> = { ok: true; msg: T } | { ok: false; error: string };

function validator<T>(kinds: readonly Kind[]) {
  return (v: unknown): Validated<T> => {
    if (!isObj(v)) return { ok: false, error: 'message: expected an object' };
    const k = v.type as Kind;
    if (typeof k !== 'string' || !kinds.includes(k)) {
      return { ok: false, error: `message.type: got ${JSON.stringify(v.type)}; expected one of ${kinds.join(', ')}` };
    }
    const e = MESSAGE_CHECKS[k](v, 'message');
    return e ? { ok: false, error: e } : { ok: true, msg: v as T };
  };
}

/** Validate a message received by the monitor webview. */
export const validateToMonitor = validator<ToMonitorMessage>(['snapshot', 'events', 'state', 'exportPng']);
/** Validate a message received by the host from a monitor webview. */
export const validateFromMonitor = validator<FromMonitorMessage>(['ready', 'stop', 'png', 'log']);
/** Validate a message received by the compare webview. */
export const validateToCompare = validator<ToCompareMessage>(['compareSnapshot', 'events', 'state']);
/** Validate a message received by the host from a compare webview. */
export const validateFromCompare = validator<FromCompareMessage>(['ready', 'log', 'openMonitor']);

/** Validate state restored by a panel serializer (anything else is ignored). */
export function validateMonitorViewState(v: unknown): MonitorViewState | null {
  const e = obj({ runId, xAxis: optional(lit('step', 'epoch', 'time')), logScale: optional(bool), smoothing: optional(num) })(v, 'state');
  return e ? null : (v as MonitorViewState);
}
export function validateCompareViewState(v: unknown): CompareViewState | null {
  const e = obj({ runIds: arr(runId, 1000), xAxis: optional(lit('step', 'epoch')), metric: optional(str(100)) })(v, 'state');
  return e ? null : (v as CompareViewState);
}
