/**
 * Reading run directories (host and CLI side; no `vscode`). Tolerant where a live or killed writer can
 * leave things half done (a torn last line, a corrupt line, a `running` status of a dead process), strict
 * and explicit — errors name the file — where the data is simply wrong.
 *
 * Everything in a run folder is untrusted (a cloned repository can carry a crafted one): config.json is
 * validated against the run-config schema, status.json and summary.json against the run format's schemas
 * (what is valid of a damaged file is kept and every bad field is named in `problems`), events line by line.
 * Files are opened without following symlinks, must be regular files and are size-capped; events.jsonl is
 * read in bounded chunks whatever its size.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  EVENTS_SCHEMA_VERSION,
  RUN_FILES,
  isScriptConfigLike,
  isTerminal,
  salvageRunStatus,
  salvageRunSummary,
  scriptRunConfigErrors,
  type DetectorEvent,
  type EvalEvent,
  type FisherEvent,
  type HeaderEvent,
  type LogEvent,
  type RunEvent,
  type RunState,
  type RunStatus,
  type RunSummary,
  type ScriptRunConfig,
  type StatusEvent,
  type StepEvent,
} from '../shared/protocol';
import type { RunConfig } from '../shared/config';
import { openRunFile, readEventsFile } from './eventsReader';
import { RUN_ID_PATTERN } from './runId';
import { readUserMeta } from './userMeta';
import type { UserMeta } from '../shared/userMeta';

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
  /** The run config (null for a run of the user's own script: see `script`). */
  config: RunConfig | null;
  /** config.json of a run recorded from the user's own script by `fisher-lens run` (else null). */
  script: ScriptRunConfig | null;
  header: HeaderEvent | null;
  /** All events after the header, in file order. */
  events: RunEvent[];
  byType: EventsByType;
  /** status.json as written, its invalid fields replaced (null if absent or unusable). */
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
  /** What is wrong with the run's files, each naming the file and field ("summary.json: peakTrF: …"). */
  problems: string[];
}

export interface RunFolderInfo {
  id: string;
  dir: string;
  state: RunState;
  stale?: string;
  status: RunStatus | null;
  summary: RunSummary | null;
  /** config.json when it is a valid run config, else null (the problems say why). */
  config: RunConfig | null;
  /** config.json of a run of the user's own script (`fisher-lens run`), else null. */
  script: ScriptRunConfig | null;
  /** Start time (ms since epoch): status.startedAt, else the folder's mtime. */
  startedAt: number;
  /** Latest modification of status.json / events.jsonl / summary.json (ms since epoch). */
  mtime: number;
  /** A file that could not be read (the run is still listed): the problems joined. */
  error?: string;
  /** Each problem with the run's files, naming the file and the field. */
  problems: string[];
  /** user.json's valid fields (name, notes, tags), null when there is none. */
  user: UserMeta | null;
}

export interface StateOptions {
  /** This machine's host name (default os.hostname()). */
  hostname?: string;
  /** Whether a pid is alive on this host (default: signal 0). */
  isAlive?: (pid: number) => boolean;
  /** Clock (ms since the epoch; default Date.now). */
  now?: () => number;
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

/** A run whose writer heartbeats is stale after this many silent heartbeat intervals… */
export const STALE_HEARTBEATS = 6;
/** …but never sooner than this (tfjs compute is synchronous: a long step can hold the timer back). */
export const STALE_MIN_MS = 120_000;
/** Runs without heartbeats (older writers) on another host, or without a pid: silent this long is stale. */
export const STALE_LEGACY_MS = 24 * 3600_000;

/** When a live run's writer was last seen: the times `effectiveState` judges staleness by. */
export interface Liveness {
  /** mtime of status.json (ms since epoch). */
  statusMtimeMs?: number;
  /** mtime of events.jsonl (ms since epoch); a sign of life of writers without heartbeats. */
  eventsMtimeMs?: number;
}

const pad2 = (n: number) => String(n).padStart(2, '0');
/** "14:02", or "2026-11-27 14:02" when not today. */
export function clockTime(ms: number, now = Date.now()): string {
  const d = new Date(ms);
  const hm = `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
  return new Date(now).toDateString() === d.toDateString()
    ? hm
    : `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${hm}`;
}

/**
 * The state to show for a run (nothing is ever written). A terminal summary wins over a non-terminal status
 * (the writer died between the two renames). A `running` or `queued` status is shown as `failed`, with the
 * reason in `stale`, when:
 * - its process (the trainer, or for a queued placeholder the window that holds it) is gone from this host;
 * - its writer heartbeats (`heartbeatSeconds`) and status.json was not rewritten for
 *   max({@link STALE_HEARTBEATS} × heartbeatSeconds, {@link STALE_MIN_MS}) — by its `updatedAt` (a time in
 *   the future counts as now) or by the file's mtime, whichever is older: a cloned folder has a fresh mtime,
 *   a frozen or reused-pid writer an old `updatedAt`;
 * - it has no heartbeat (older writers) and cannot be checked by pid, and neither status.json nor
 *   events.jsonl changed for {@link STALE_LEGACY_MS}.
 */
export function effectiveState(
  status: RunStatus | null,
  summary: RunSummary | null,
  opts: StateOptions & Liveness = {},
): { state: RunState; stale?: string } {
  if (!status) {
    if (summary) return { state: summary.state };
    return { state: 'failed', stale: 'no usable status.json' };
  }
  if (!isTerminal(status.state) && summary && isTerminal(summary.state))
    return { state: summary.state };
  if (status.state !== 'running' && status.state !== 'queued') return { state: status.state };
  const here = status.host === (opts.hostname ?? os.hostname());
  const queued = status.state === 'queued';
  if (here && status.pid !== null) {
    if (!(opts.isAlive ?? pidAlive)(status.pid)) {
      return {
        state: 'failed',
        stale: queued
          ? `the window that queued it (process ${status.pid}) is gone`
          : `process ${status.pid} exited without finishing`,
      };
    }
  }
  const now = opts.now?.() ?? Date.now();
  const updated = Date.parse(status.updatedAt);
  const updatedMs = Number.isFinite(updated) ? Math.min(updated, now) : undefined;
  const where = status.host ? ` (host ${status.host})` : '';
  const hb = status.heartbeatSeconds;
  if (typeof hb === 'number' && hb > 0) {
    const seen = [updatedMs, opts.statusMtimeMs].filter(
      (x): x is number => typeof x === 'number' && Number.isFinite(x),
    );
    const last = seen.length ? Math.min(...seen) : undefined;
    const limit = Math.max(STALE_HEARTBEATS * hb * 1000, STALE_MIN_MS);
    if (last === undefined || now - last > limit) {
      return {
        state: 'failed',
        stale:
          last === undefined
            ? `no heartbeat time in status.json${where}`
            : `no heartbeat since ${clockTime(last, now)}${where}`,
      };
    }
    return { state: status.state };
  }
  if (here && status.pid !== null) return { state: status.state }; // pid checked above
  const seen = [updatedMs, opts.statusMtimeMs, opts.eventsMtimeMs].filter(
    (x): x is number => typeof x === 'number' && Number.isFinite(x),
  );
  const last = seen.length ? Math.min(Math.max(...seen), now) : undefined;
  if (last !== undefined && now - last > STALE_LEGACY_MS)
    return { state: 'failed', stale: `no sign of life since ${clockTime(last, now)}${where}` };
  return { state: status.state };
}

/** Largest JSON file of a run folder read (config, status, summary). */
export const MAX_JSON_BYTES = 8 * 1024 * 1024;

/** Read a small file of a run folder: no symlinks, regular files only, size-capped. Null when absent. */
export function readRunText(file: string, maxBytes = MAX_JSON_BYTES): string | null {
  let opened: ReturnType<typeof openRunFile>;
  try {
    opened = openRunFile(file);
  } catch (e) {
    throw new RunReadError(file, (e as Error).message.replace(`${file}: `, ''));
  }
  if (!opened) return null;
  const { fd, stat } = opened;
  try {
    if (stat.size > maxBytes)
      throw new RunReadError(file, `too large (${stat.size} bytes; at most ${maxBytes} read)`);
    const buf = Buffer.alloc(stat.size);
    let got = 0;
    while (got < buf.length) {
      const n = fs.readSync(fd, buf, got, buf.length - got, got);
      if (n === 0) break;
      got += n;
    }
    return buf.toString('utf8', 0, got);
  } finally {
    fs.closeSync(fd);
  }
}

function readJson(file: string, what: string): unknown {
  let text: string | null;
  try {
    text = readRunText(file);
  } catch (e) {
    if (e instanceof RunReadError) throw e;
    throw new RunReadError(file, `cannot read ${what}: ${(e as Error).message}`);
  }
  if (text === null) return null;
  let v: unknown;
  try {
    v = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (e) {
    throw new RunReadError(file, `${what} is not valid JSON (${(e as Error).message})`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v))
    throw new RunReadError(file, `${what} is not a JSON object`);
  return v;
}

/** status.json as data: valid fields kept, each invalid one named (prefixed with the file name). */
export function checkStatus(raw: unknown): { status: RunStatus | null; problems: string[] } {
  if (raw === null || raw === undefined) return { status: null, problems: [] };
  const s = salvageRunStatus(raw);
  return { status: s.value, problems: s.problems.map((p) => `${RUN_FILES.status}: ${p}`) };
}

/** summary.json as data: valid fields kept, each invalid one named. */
export function checkSummary(raw: unknown): { summary: RunSummary | null; problems: string[] } {
  if (raw === null || raw === undefined) return { summary: null, problems: [] };
  const s = salvageRunSummary(raw);
  return { summary: s.value, problems: s.problems.map((p) => `${RUN_FILES.summary}: ${p}`) };
}

/**
 * config.json as a valid, resolved run config, or as a valid script-run config (`kind: "script"`), or neither
 * with the problems (the schema's messages).
 */
export function checkConfig(raw: unknown): {
  config: RunConfig | null;
  script: ScriptRunConfig | null;
  problems: string[];
} {
  if (raw === null || raw === undefined) return { config: null, script: null, problems: [] };
  if (isScriptConfigLike(raw)) {
    const bad = scriptRunConfigErrors(raw);
    return bad
      ? { config: null, script: null, problems: [`${RUN_FILES.config}: ${bad.slice(0, 300)}`] }
      : { config: null, script: raw as ScriptRunConfig, problems: [] };
  }
  // The config schema (TypeBox + Ajv) loads on first use: it is most of the extension's start-up cost.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { resolveConfig } = require('../shared/config') as typeof import('../shared/config');
  try {
    return { config: resolveConfig(raw), script: null, problems: [] };
  } catch (e) {
    const problems = Array.isArray((e as { problems?: unknown }).problems)
      ? (e as { problems: string[] }).problems
      : [(e as Error).message];
    return {
      config: null,
      script: null,
      problems: problems.slice(0, 5).map((p) => `${RUN_FILES.config}: ${String(p).slice(0, 300)}`),
    };
  }
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
    throw new RunReadError(
      file,
      `events schema version ${h.schemaVersion} is newer than this Fisher Lens understands (${EVENTS_SCHEMA_VERSION}); update the extension`,
    );
  }
}

/** lstat-based: a real directory (not a symlink to one). */
function isRealDir(dir: string): boolean {
  try {
    return fs.lstatSync(dir).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Read a whole run directory (all events: for the CLI and tests; the editor keeps a bounded history
 * instead). status.json and summary.json that are valid JSON but break the schema are salvaged (their
 * problems listed); config.json must be a valid run config.
 */
export function readRun(dir: string, opts: StateOptions = {}): RunData {
  if (!isRealDir(dir)) throw new RunReadError(dir, 'no such run folder');
  const cfgFile = path.join(dir, RUN_FILES.config);
  const rawConfig = readJson(cfgFile, 'the run config');
  if (!rawConfig)
    throw new RunReadError(cfgFile, 'missing: not a run folder, or the run was never created');
  const cfg = checkConfig(rawConfig);
  if (!cfg.config && !cfg.script)
    throw new RunReadError(
      cfgFile,
      `not a valid run config: ${cfg.problems.map((p) => p.replace(`${RUN_FILES.config}: `, '')).join('; ')}`,
    );
  const st = checkStatus(readJson(path.join(dir, RUN_FILES.status), 'the run status'));
  const sm = checkSummary(readJson(path.join(dir, RUN_FILES.summary), 'the run summary'));
  const status = st.status;
  const summary = sm.summary;

  const evFile = path.join(dir, RUN_FILES.events);
  let header: HeaderEvent | null = null;
  let sawOther = false;
  const events: RunEvent[] = [];
  let got: ReturnType<typeof readEventsFile>;
  try {
    got = readEventsFile(evFile, (chunk) => {
      for (const e of chunk) {
        if (e.type === 'header') {
          if (!header) header = e;
        } else {
          sawOther = true;
          events.push(e);
        }
      }
    });
  } catch (e) {
    throw new RunReadError(
      evFile,
      `cannot read: ${(e as Error).message.replace(`${evFile}: `, '')}`,
    );
  }
  // A run that ended before it started (a queued run cancelled, or whose launcher died) has no events: that is
  // its whole story. A run that says it trained must have them.
  if (
    !got.found &&
    status &&
    status.state !== 'queued' &&
    !(status.state === 'stopped' || status.state === 'failed')
  )
    throw new RunReadError(evFile, `missing, but status.json says ${JSON.stringify(status.state)}`);
  if (!header && (sawOther || got.corruptLines.length))
    throw new RunReadError(evFile, 'no header line (the first line must be a "header" event)');
  if (header) checkHeader(header, evFile);

  const eff = effectiveState(status, summary, {
    ...opts,
    statusMtimeMs: mtimeOf(path.join(dir, RUN_FILES.status)),
    eventsMtimeMs: mtimeOf(evFile),
  });
  return {
    id: path.basename(dir),
    dir,
    config: cfg.config,
    script: cfg.script,
    header,
    events,
    byType: groupEvents(events),
    status,
    summary,
    state: eff.state,
    ...(eff.stale ? { stale: eff.stale } : {}),
    corruptLines: got.corruptLines,
    tornTail: got.tornTail,
    problems: [...st.problems, ...sm.problems],
  };
}

const mtimeOf = (f: string): number => {
  try {
    return fs.lstatSync(f).mtimeMs;
  } catch {
    return 0;
  }
};

/** Whether a folder looks like a run (has any of config.json, status.json, events.jsonl). */
export function isRunDir(dir: string): boolean {
  return [RUN_FILES.config, RUN_FILES.status, RUN_FILES.events].some((f) => {
    try {
      fs.lstatSync(path.join(dir, f));
      return true;
    } catch {
      return false;
    }
  });
}

/** Summary information of one run folder, never throwing for bad files (they go to `problems`). */
export function runInfo(dir: string, opts: StateOptions = {}): RunFolderInfo {
  const problems: string[] = [];
  const tryRead = (f: string, what: string): unknown => {
    try {
      return readJson(path.join(dir, f), what);
    } catch (e) {
      problems.push(`${f}: ${(e as Error).message.replace(`${path.join(dir, f)}: `, '')}`);
      return null;
    }
  };
  const st = checkStatus(tryRead(RUN_FILES.status, 'the run status'));
  const sm = checkSummary(tryRead(RUN_FILES.summary, 'the run summary'));
  const cf = checkConfig(tryRead(RUN_FILES.config, 'the run config'));
  const um = readUserMeta(dir);
  problems.push(...st.problems, ...sm.problems, ...cf.problems, ...um.problems);
  const status = st.status;
  const summary = sm.summary;
  const statusMtimeMs = mtimeOf(path.join(dir, RUN_FILES.status));
  const eventsMtimeMs = mtimeOf(path.join(dir, RUN_FILES.events));
  const eff = effectiveState(status, summary, {
    ...opts,
    statusMtimeMs: statusMtimeMs || undefined,
    eventsMtimeMs: eventsMtimeMs || undefined,
  });
  const mtime = Math.max(statusMtimeMs, eventsMtimeMs, mtimeOf(path.join(dir, RUN_FILES.summary)));
  const started = status ? Date.parse(status.startedAt) : NaN;
  const info: RunFolderInfo = {
    id: path.basename(dir),
    dir,
    state: eff.state,
    status,
    summary,
    config: cf.config,
    script: cf.script,
    startedAt: Number.isFinite(started) ? started : mtimeOf(dir),
    mtime,
    problems,
    user: um.meta,
  };
  if (eff.stale) info.stale = eff.stale;
  if (problems.length) info.error = problems.join('; ');
  return info;
}

/** Why an entry of a runs root is not listed as a run (null when it may be one). */
export function skipReason(d: fs.Dirent): string | null {
  if (d.name.startsWith('.')) return 'hidden';
  if (d.isSymbolicLink())
    return 'a symbolic link (run folders are never followed out of the runs root)';
  if (!d.isDirectory()) return 'not a folder';
  if (!RUN_ID_PATTERN.test(d.name)) return 'not a run id (letters, digits and . _ + - only)';
  return null;
}

export interface ListOptions extends StateOptions {
  /** Called for each entry that looks like a run but is skipped (symlinks, odd names). */
  onSkip?: (name: string, reason: string) => void;
}

/** Run folder names in a runs root (real folders named like run ids); a missing root is empty. */
export function runDirNames(
  runsRoot: string,
  onSkip?: (name: string, reason: string) => void,
): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(runsRoot, { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new RunReadError(runsRoot, `cannot list runs: ${(e as Error).message}`);
  }
  const out: string[] = [];
  for (const d of entries) {
    const why = skipReason(d);
    if (why === null) out.push(d.name);
    else if (why !== 'hidden' && why !== 'not a folder') onSkip?.(d.name, why);
  }
  return out;
}

/** All runs under `runsRoot`, newest first; folders that are not runs are skipped; a missing root is empty. */
export function listRuns(runsRoot: string, opts: ListOptions = {}): RunFolderInfo[] {
  const out: RunFolderInfo[] = [];
  for (const name of runDirNames(runsRoot, opts.onSkip)) {
    const dir = path.join(runsRoot, name);
    if (!isRunDir(dir)) continue;
    out.push(runInfo(dir, opts));
  }
  return out.sort((a, b) => b.startedAt - a.startedAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
}
