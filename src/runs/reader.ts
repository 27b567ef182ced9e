/**
 * Reading run directories (host and CLI side; no `vscode`). Tolerant where a live or killed writer can
 * leave things half done (a torn last line, a corrupt line, a `running` status of a dead process), strict
 * and explicit — errors name the file — where the data is simply wrong.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  EVENTS_SCHEMA_VERSION,
  RUN_FILES,
  isTerminal,
  type DetectorEvent,
  type EvalEvent,
  type FisherEvent,
  type HeaderEvent,
  type LogEvent,
  type RunEvent,
  type RunState,
  type RunStatus,
  type RunSummary,
  type StatusEvent,
  type StepEvent,
} from '../shared/protocol';
import type { RunConfig } from '../shared/config';
import { parseEventLines } from './events';

/** A run file that cannot be read; the message starts with the file's path. */
export class RunReadError extends Error {
  constructor(
    readonly file: string,
    detail: string,
  ) {
    super(`${file}: ${detail}`);
    this.name = 'RunReadError';
  }
}

export interface EventsByType {
  step: StepEvent[];
  fisher: FisherEvent[];
  eval: EvalEvent[];
  detector: DetectorEvent[];
  status: StatusEvent[];
  log: LogEvent[];
}

export interface RunData {
  id: string;
  dir: string;
  config: RunConfig;
  header: HeaderEvent | null;
  /** All events after the header, in file order. */
  events: RunEvent[];
  byType: EventsByType;
  /** status.json as written (null if absent). */
  status: RunStatus | null;
  summary: RunSummary | null;
  /** The state to show: status.json's, unless that is stale (see {@link effectiveState}). */
  state: RunState;
  /** Why `state` differs from status.json, e.g. "process 123 exited without finishing". */
  stale?: string;
  /** 1-based line numbers of corrupt lines in events.jsonl (skipped). */
  corruptLines: number[];
  /** The last line was incomplete (a torn write or a write in progress) and was skipped. */
  tornTail: boolean;
}

export interface RunInfo {
  id: string;
  dir: string;
  state: RunState;
  stale?: string;
  status: RunStatus | null;
  summary: RunSummary | null;
  config: RunConfig | null;
  /** Start time (ms since epoch): status.startedAt, else the folder's mtime. */
  startedAt: number;
  /** Latest modification of status.json / events.jsonl / summary.json (ms since epoch). */
  mtime: number;
  /** A file that could not be read (the run is still listed). */
  error?: string;
}

export interface StateOptions {
  /** This machine's host name (default os.hostname()). */
  hostname?: string;
  /** Whether a pid is alive on this host (default: signal 0). */
  isAlive?: (pid: number) => boolean;
}

/** Whether a process exists on this host (EPERM means it exists but belongs to someone else). */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The state to show for a run. A `running` status whose process is gone from this host is reported as
 * `failed` (nothing is written). A terminal summary wins over a non-terminal status (the writer died
 * between the two renames). Runs on other hosts are taken at their word.
 */
export function effectiveState(status: RunStatus | null, summary: RunSummary | null, opts: StateOptions = {}): { state: RunState; stale?: string } {
  if (!status) {
    if (summary) return { state: summary.state };
    return { state: 'failed', stale: 'no status.json' };
  }
  if (!isTerminal(status.state) && summary && isTerminal(summary.state)) return { state: summary.state };
  if (status.state === 'running' && status.pid !== null && status.host === (opts.hostname ?? os.hostname())) {
    if (!(opts.isAlive ?? pidAlive)(status.pid)) return { state: 'failed', stale: `process ${status.pid} exited without finishing` };
  }
  return { state: status.state };
}

function readJson<T>(file: string, what: string): T | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new RunReadError(file, `cannot read ${what}: ${(e as Error).message}`);
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new RunReadError(file, `${what} is not valid JSON (${(e as Error).message})`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new RunReadError(file, `${what} is not a JSON object`);
  return v as T;
}

/** Group events by type (header excluded). */
export function groupEvents(events: readonly RunEvent[]): EventsByType {
  const g: EventsByType = { step: [], fisher: [], eval: [], detector: [], status: [], log: [] };
  for (const e of events) if (e.type !== 'header') (g[e.type] as RunEvent[]).push(e);
  return g;
}

/** Check a header's schema version; throws naming the file if it is from a newer major version. */
export function checkHeader(h: HeaderEvent, file: string): void {
  if (typeof h.schemaVersion !== 'number' || Math.floor(h.schemaVersion) > EVENTS_SCHEMA_VERSION) {
    throw new RunReadError(file, `events schema version ${h.schemaVersion} is newer than this Fisher Lens understands (${EVENTS_SCHEMA_VERSION}); update the extension`);
  }
}

/** Read a whole run directory. */
export function readRun(dir: string, opts: StateOptions = {}): RunData {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new RunReadError(dir, 'no such run folder');
  const cfgFile = path.join(dir, RUN_FILES.config);
  const config = readJson<RunConfig>(cfgFile, 'the run config');
  if (!config) throw new RunReadError(cfgFile, 'missing: not a run folder, or the run was never created');
  const status = readJson<RunStatus>(path.join(dir, RUN_FILES.status), 'the run status');
  const summary = readJson<RunSummary>(path.join(dir, RUN_FILES.summary), 'the run summary');

  const evFile = path.join(dir, RUN_FILES.events);
  let text = '';
  try {
    text = fs.readFileSync(evFile, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new RunReadError(evFile, `cannot read: ${(e as Error).message}`);
    if (status && status.state !== 'queued') throw new RunReadError(evFile, `missing, but status.json says ${JSON.stringify(status.state)}`);
  }
  const parsed = parseEventLines(text, 1, true);
  let header: HeaderEvent | null = null;
  const events: RunEvent[] = [];
  for (const e of parsed.events) {
    if (e.type === 'header') {
      if (!header) header = e;
    } else events.push(e);
  }
  if (!header && text.trim() !== '') throw new RunReadError(evFile, 'no header line (the first line must be a "header" event)');
  if (header) checkHeader(header, evFile);

  const st = effectiveState(status, summary, opts);
  return {
    id: path.basename(dir),
    dir,
    config,
    header,
    events,
    byType: groupEvents(events),
    status,
    summary,
    state: st.state,
    ...(st.stale ? { stale: st.stale } : {}),
    corruptLines: parsed.corruptLines,
    tornTail: parsed.tornTail,
  };
}

const mtimeOf = (f: string): number => {
  try {
    return fs.statSync(f).mtimeMs;
  } catch {
    return 0;
  }
};

/** Whether a folder looks like a run (has any of config.json, status.json, events.jsonl). */
export function isRunDir(dir: string): boolean {
  return [RUN_FILES.config, RUN_FILES.status, RUN_FILES.events].some((f) => fs.existsSync(path.join(dir, f)));
}

/** Summary information of one run folder, never throwing for bad files (they go to `error`). */
export function runInfo(dir: string, opts: StateOptions = {}): RunInfo {
  let status: RunStatus | null = null;
  let summary: RunSummary | null = null;
  let config: RunConfig | null = null;
  const errors: string[] = [];
  const tryRead = <T>(f: string, what: string): T | null => {
    try {
      return readJson<T>(path.join(dir, f), what);
    } catch (e) {
      errors.push((e as Error).message);
      return null;
    }
  };
  status = tryRead<RunStatus>(RUN_FILES.status, 'the run status');
  summary = tryRead<RunSummary>(RUN_FILES.summary, 'the run summary');
  config = tryRead<RunConfig>(RUN_FILES.config, 'the run config');
  const st = effectiveState(status, summary, opts);
  const mtime = Math.max(...[RUN_FILES.status, RUN_FILES.events, RUN_FILES.summary].map((f) => mtimeOf(path.join(dir, f))));
  const started = status ? Date.parse(status.startedAt) : NaN;
  const info: RunInfo = {
    id: path.basename(dir),
    dir,
    state: st.state,
    status,
    summary,
    config,
    startedAt: Number.isFinite(started) ? started : mtimeOf(dir),
    mtime,
  };
  if (st.stale) info.stale = st.stale;
  if (errors.length) info.error = errors.join('; ');
  return info;
}

/** All runs under `runsRoot`, newest first; folders that are not runs are skipped; a missing root is empty. */
export function listRuns(runsRoot: string, opts: StateOptions = {}): RunInfo[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(runsRoot, { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new RunReadError(runsRoot, `cannot list runs: ${(e as Error).message}`);
  }
  const out: RunInfo[] = [];
  for (const d of entries) {
    if (!d.isDirectory() || d.name.startsWith('.')) continue;
    const dir = path.join(runsRoot, d.name);
    if (!isRunDir(dir)) continue;
    out.push(runInfo(dir, opts));
  }
  return out.sort((a, b) => b.startedAt - a.startedAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
}
