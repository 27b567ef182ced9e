/**
 * The trainer's side of a run directory (see `src/shared/protocol.ts` for the files).
 *
 * - **Creation is atomic and exclusive.** A new run is assembled in a hidden staging folder
 *   `<runsRoot>/.<runId>.creating-<pid>` (config.json, the `header` and first `status` lines of events.jsonl,
 *   status.json) and renamed to `<runsRoot>/<runId>` in one step: readers (which skip dot-folders) see a
 *   complete run or none, and a process killed while creating leaves only a stale staging folder (removed by a
 *   later creation once its process is gone), so the same run id can be retried. An existing folder is never
 *   overwritten ({@link RunExistsError}); the one exception is a launcher's `queued` placeholder, adopted in
 *   place (events.jsonl is written aside and hard-linked into place, so two trainers cannot both adopt it).
 * - **No write follows a symlink.** `<runsRoot>/<runId>` is checked with lstat and refused when it is a
 *   symbolic link ({@link UnsafeRunDirError}), as is a placeholder holding a symlink or anything but regular
 *   files; every file is opened with O_NOFOLLOW, new ones with O_CREAT|O_EXCL (temporary files too).
 * - **events.jsonl is in step order and written at once.** Every line is written with one synchronous write
 *   (no batching), so a killed process loses nothing it has appended and leaves at most a torn last line.
 *   Only `step` lines are throttled: at most one per `stepIntervalMs` (20/s by default); the latest one held
 *   back is written when its interval has passed (on the next event or a timer tick), always before the
 *   terminal status, and — so the file stays in step order — before any `fisher`, `eval`, `detector`,
 *   `status` or `log` line of the same or a later step: a `step` line never follows the `fisher` line of
 *   the same or a later step. `fisher` events are never dropped.
 * - **status.json is a heartbeat.** It is replaced atomically (exclusive temporary file, fsync, rename) with the
 *   current step at most every `statusIntervalMs` while steps advance, and by a background timer at least every
 *   `heartbeatSeconds` (recorded in status.json) — when the event loop runs: tfjs compute is synchronous, so
 *   the trainer yields between steps and evaluation chunks, and a reader must allow several intervals before
 *   calling a run stale.
 * - **Write errors end the run, never the folder.** A failed write (ENOSPC, EIO, …) becomes a
 *   {@link RunWriteError} naming the file and the cause (`events.jsonl: no space left on device (ENOSPC)`); a
 *   partly written line is truncated away, temporary files are removed, and JSON files are only ever replaced
 *   by complete ones, so the folder stays readable. {@link RunWriter.finish} never throws for a write error: it
 *   records `failed` with the first error wherever it still can (status.json is small; if even it cannot be
 *   written, the previous one stays intact). So that "wherever it can" includes a disk that is truly full, the
 *   writer holds a small hidden reserve file (`.space-reserve-<pid>`, {@link SPACE_RESERVE_BYTES}) while the
 *   run is live and deletes it at the first write error and at the end, freeing room for the final status
 *   line, summary.json and status.json.
 * - The checkpoint is written into a private temporary folder and renamed to `checkpoint/` when complete:
 *   never a `params.bin` without its `params.json`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EVENTS_SCHEMA_VERSION, RUN_FILES, isTerminal, type HeaderEvent, type RunEvent, type RunState, type RunStatus, type RunSummary } from '../shared/protocol';
import type { RunConfig } from '../shared/config';
import { detectorOptionsFromConfig, toDetectorEvent, type DetectorState } from '../shared/detector';
import { makeRunId, RUN_ID_PATTERN } from './runId';
import { SummaryAccumulator } from './summary';
import { ensureDir } from './preflight';

/** Header fields the caller provides; type, time, schema version, run id, host and pid are filled in. */
export type HeaderFields = Omit<HeaderEvent, 'type' | 't' | 'schemaVersion' | 'runId' | 'host' | 'pid'> & Partial<Pick<HeaderEvent, 'host' | 'pid'>>;

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** An event to append; `t` defaults to now. Headers are written by {@link RunWriter.create}. */
export type EventInput = DistributiveOmit<Exclude<RunEvent, HeaderEvent>, 't'> & { t?: number };

/** Default interval of the status.json heartbeat. */
export const HEARTBEAT_SECONDS = 10;

/** Size of the space reserve held while a run is live (enough pages for the final status, summary and line). */
export const SPACE_RESERVE_BYTES = 32 * 1024;

export interface RunWriterOptions {
  /** Minimum ms between two written `step` events (default 50, i.e. ≤ 20/s). */
  stepIntervalMs?: number;
  /** Period of the background timer that writes a due held-back step and the heartbeat (default 100). */
  flushIntervalMs?: number;
  /** Minimum ms between two progress rewrites of status.json while steps advance (default 1000). */
  statusIntervalMs?: number;
  /** status.json is rewritten at least this often while running, by the timer (default 10; recorded). */
  heartbeatSeconds?: number;
  /** Slurm job id, recorded in status.json. */
  jobId?: string | null;
  /**
   * Let the writer run the explosion detector (options from the config) on every step/fisher event it is
   * given and append its `detector` events itself (default false: the trainer appends its own).
   */
  detectorEvents?: boolean;
  /** Clock, for tests (default Date.now). */
  now?: () => number;
  /** Background timer for held-back steps and the heartbeat (default true). */
  timer?: boolean;
  /** Test hook: called with the staging folder once a new run is assembled, before it is renamed into place. */
  onStaged?: (stageDir: string) => void;
}

/** A run already exists in the target folder. */
export class RunExistsError extends Error {
  constructor(
    readonly dir: string,
    detail: string,
    message?: string,
  ) {
    super(message ?? `${dir}: a run already exists here (${detail}); refusing to overwrite a saved run`);
    this.name = 'RunExistsError';
  }
}

/** The run folder, or a file in a placeholder, is a symbolic link (or not a plain file): nothing is written. */
export class UnsafeRunDirError extends RunExistsError {
  constructor(dir: string, detail: string) {
    super(dir, detail, `${dir}: ${detail}; refusing to write a run through it`);
    // Same name as its base class: callers that map errors by name (the CLI: exit 2, nothing written) treat
    // both alike; `instanceof UnsafeRunDirError` tells them apart.
    this.name = 'RunExistsError';
  }
}

const ERRNO_TEXT: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EIO: 'input/output error',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EFBIG: 'file too large',
  ENOENT: 'no such file or folder',
  ENOTDIR: 'a part of the path is not a folder',
  EISDIR: 'is a folder',
  ELOOP: 'is a symbolic link',
  EEXIST: 'already exists',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files',
  ENAMETOOLONG: 'name too long',
  ENOTEMPTY: 'folder not empty',
  ESTALE: 'stale file handle',
};

/** `no space left on device (ENOSPC)` for an fs error; its first line otherwise. */
export function describeFsError(e: unknown): string {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code && ERRNO_TEXT[code]) return `${ERRNO_TEXT[code]} (${code})`;
  const msg = String((e as Error)?.message ?? e).split('\n')[0];
  return code ? `${msg.startsWith(`${code}: `) ? msg.slice(code.length + 2) : msg} (${code})` : msg;
}

/** A write in a run folder failed: `file` (relative to the run folder where it is in one) and the cause. */
export class RunWriteError extends Error {
  readonly code: string | undefined;
  constructor(
    readonly file: string,
    cause: unknown,
  ) {
    super(`${file}: ${describeFsError(cause)}`);
    this.name = 'RunWriteError';
    this.code = (cause as NodeJS.ErrnoException)?.code;
  }
}

const asWriteError = (file: string, e: unknown) => (e instanceof RunWriteError || e instanceof RunExistsError ? e : new RunWriteError(file, e));

/**
 * Test hook: called before every write into a run folder with the file's label (e.g. `events.jsonl`,
 * `status.json`, `checkpoint`) and the byte count; throwing an errno-style error simulates a failing disk.
 */
export const writeFaults: { beforeWrite: ((file: string, bytes: number) => void) | null } = { beforeWrite: null };

const { O_WRONLY, O_RDONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;
/** Flags of every new file: exclusive, never through a symlink. */
export const NEW_FILE_FLAGS = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW;

function writeAll(fd: number, buf: Buffer, label: string, position: number | null = null): void {
  writeFaults.beforeWrite?.(label, buf.length);
  let off = 0;
  while (off < buf.length) {
    const n = fs.writeSync(fd, buf, off, buf.length - off, position === null ? null : position + off);
    off += n;
  }
}

let tmpCounter = 0;

/** Create `file` exclusively (O_EXCL|O_NOFOLLOW) with `data`, fsynced; on failure nothing is left. */
function writeNewFile(file: string, data: Buffer, label: string): void {
  let fd: number | null = null;
  try {
    fd = fs.openSync(file, NEW_FILE_FLAGS, 0o644);
    writeAll(fd, data, label);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = null;
  } catch (e) {
    if (fd !== null) {
      try {
        fs.closeSync(fd);
      } catch {
        /* already failing */
      }
      fs.rmSync(file, { force: true });
    }
    throw asWriteError(label, e);
  }
}

/**
 * Write JSON atomically: an exclusive temporary file (`<file>.tmp-<pid>-<n>`, O_EXCL|O_NOFOLLOW) in the same
 * folder, fsync, rename over the target. On failure the temporary file is removed, the target is untouched
 * and a {@link RunWriteError} names `label` (default: the file's path).
 */
export function writeJsonAtomic(file: string, value: unknown, label: string = file): void {
  const tmp = `${file}.tmp-${process.pid}-${++tmpCounter}`;
  writeNewFile(tmp, Buffer.from(JSON.stringify(value, null, 2) + '\n'), label);
  try {
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw asWriteError(label, e);
  }
}

/** Read a small regular file without following a symlink. */
function readNoFollow(file: string, maxBytes = 1 << 20): string {
  const fd = fs.openSync(file, O_RDONLY | O_NOFOLLOW);
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new Error(`${file}: not a regular file`);
    const buf = Buffer.alloc(Math.min(st.size, maxBytes));
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    return buf.subarray(0, n).toString('utf8');
  } finally {
    fs.closeSync(fd);
  }
}

/** True when `pid` is a live process on this host (EPERM: alive, someone else's). */
function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Files a launcher may leave in a queued run's folder before the trainer adopts it. */
const TMP_RE = /\.tmp-(\d+)-\d+$/;
const ADOPTABLE = (name: string) => name === RUN_FILES.config || name === RUN_FILES.status || name === RUN_FILES.stop || /\.(log|out|err)$/.test(name) || TMP_RE.test(name);
const STAGE_RE = /^\.(.+)\.creating-(\d+)$/;
/** A staging folder older than this whose process is gone is removed by the next creation. */
const STALE_STAGE_MS = 60_000;

function validateId(runId: string): void {
  if (!RUN_ID_PATTERN.test(runId)) throw new Error(`invalid run id ${JSON.stringify(runId)}: expected one path segment of letters, digits and . _ + -`);
}

function ensureRoot(runsRoot: string): void {
  try {
    // Not mkdirSync({ recursive }): that loops forever on some paths (/proc/x); this checks first.
    ensureDir(runsRoot, 'runs folder');
  } catch (e) {
    if ((e as Error).name === 'PreflightError') throw e;
    throw new RunWriteError(runsRoot, e);
  }
}

/** Remove staging folders of dead processes (kill -9 during creation) older than a minute. */
function cleanStaleStages(runsRoot: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(runsRoot);
  } catch {
    return;
  }
  for (const n of names) {
    const m = STAGE_RE.exec(n);
    if (!m || pidAlive(Number(m[2]))) continue;
    const p = path.join(runsRoot, n);
    try {
      if (Date.now() - fs.lstatSync(p).mtimeMs > STALE_STAGE_MS) fs.rmSync(p, { recursive: true, force: true });
    } catch {
      /* another process cleaned it */
    }
  }
}

type Existing = { kind: 'none' } | { kind: 'empty' } | { kind: 'placeholder'; names: string[] };

/** What is at `<runsRoot>/<runId>` now; throws for anything a run may not be written into. */
function inspectTarget(dir: string): Existing {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'none' };
    throw new RunWriteError(dir, e);
  }
  if (st.isSymbolicLink()) {
    let target = '';
    try {
      target = ` to ${fs.readlinkSync(dir)}`;
    } catch {
      /* unreadable link */
    }
    throw new UnsafeRunDirError(dir, `the run folder is a symbolic link${target}`);
  }
  if (!st.isDirectory()) throw new RunExistsError(dir, 'a file of that name exists');
  const names = fs.readdirSync(dir);
  return names.length ? { kind: 'placeholder', names } : { kind: 'empty' };
}

interface Created {
  dir: string;
  /** events.jsonl, open for writing (positioned writes); null for a queued placeholder. */
  fd: number | null;
  /** Bytes of complete lines in events.jsonl. */
  size: number;
}

/** Lines and JSON files a new (or adopted) run starts with. */
interface Initial {
  config: RunConfig;
  status: RunStatus;
  /** Header + first status lines; absent for a queued placeholder. */
  events?: Buffer;
}

/**
 * A fresh run: assemble it in `.<runId>.creating-<pid>` and rename that to `<runId>` (which may be missing or an
 * empty folder). Exclusive: a rename onto a non-empty folder fails.
 */
function createStaged(runsRoot: string, runId: string, init: Initial, onStaged?: (d: string) => void): Created {
  const dir = path.join(runsRoot, runId);
  const stage = path.join(runsRoot, `.${runId}.creating-${process.pid}`);
  fs.rmSync(stage, { recursive: true, force: true }); // our own leftover from an earlier failed attempt
  try {
    fs.mkdirSync(stage, { mode: 0o755 });
  } catch (e) {
    throw new RunWriteError(stage, e);
  }
  let fd: number | null = null;
  try {
    writeNewFile(path.join(stage, RUN_FILES.config), Buffer.from(JSON.stringify(init.config, null, 2) + '\n'), RUN_FILES.config);
    if (init.events) {
      try {
        fd = fs.openSync(path.join(stage, RUN_FILES.events), NEW_FILE_FLAGS, 0o644);
        writeAll(fd, init.events, RUN_FILES.events, 0);
        fs.fsyncSync(fd);
      } catch (e) {
        throw asWriteError(RUN_FILES.events, e);
      }
    }
    writeNewFile(path.join(stage, RUN_FILES.status), Buffer.from(JSON.stringify(init.status, null, 2) + '\n'), RUN_FILES.status);
    onStaged?.(stage);
    try {
      fs.renameSync(stage, dir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST') throw new RunExistsError(dir, 'another process created it first');
      if (code === 'ENOTDIR') inspectTarget(dir); // throws the precise reason (symlink, file)
      throw new RunWriteError(dir, e);
    }
  } catch (e) {
    if (fd !== null) fs.closeSync(fd);
    fs.rmSync(stage, { recursive: true, force: true });
    throw e;
  }
  return { dir, fd, size: init.events?.length ?? 0 };
}

/**
 * Adopt a launcher's queued placeholder in place: only regular files (no symlinks), only the files a launcher
 * leaves, status `queued`. Stale temporary files of dead processes are removed; an events.jsonl left by a
 * trainer killed while adopting (status still `queued`, its process gone) is discarded.
 */
function adoptPlaceholder(dir: string, names: string[], init: Initial): Created {
  for (const n of names) {
    const st = fs.lstatSync(path.join(dir, n));
    if (st.isSymbolicLink()) throw new UnsafeRunDirError(dir, `${n} in the queued run folder is a symbolic link`);
    if (!st.isFile()) throw new RunExistsError(dir, `found ${n}`);
  }
  const foreign = names.filter((n) => !ADOPTABLE(n) && n !== RUN_FILES.events);
  if (foreign.length) throw new RunExistsError(dir, `found ${foreign.slice(0, 3).join(', ')}`);
  let prev: Partial<RunStatus> = {};
  if (names.includes(RUN_FILES.status)) {
    try {
      prev = JSON.parse(readNoFollow(path.join(dir, RUN_FILES.status)));
    } catch {
      prev = { state: 'unreadable' as RunState };
    }
    if (prev?.state !== 'queued') throw new RunExistsError(dir, `status.json says ${JSON.stringify(prev?.state)}, not "queued"`);
  }
  if (names.includes(RUN_FILES.events)) {
    // Half-adopted: the events file is linked before status.json says `running`.
    let pid = NaN;
    let host = '';
    try {
      const h = JSON.parse(readNoFollow(path.join(dir, RUN_FILES.events), 1 << 16).split('\n')[0]);
      pid = h.pid;
      host = h.host;
    } catch {
      /* unreadable: not ours to discard */
    }
    if (!(host === os.hostname() && !pidAlive(pid))) throw new RunExistsError(dir, 'found events.jsonl');
    fs.rmSync(path.join(dir, RUN_FILES.events), { force: true });
  }
  for (const n of names) {
    const m = TMP_RE.exec(n);
    if (m && !pidAlive(Number(m[1]))) fs.rmSync(path.join(dir, n), { force: true });
  }
  writeJsonAtomic(path.join(dir, RUN_FILES.config), init.config, RUN_FILES.config);
  const tmp = path.join(dir, `${RUN_FILES.events}.tmp-${process.pid}-${++tmpCounter}`);
  let fd: number | null = null;
  try {
    fd = fs.openSync(tmp, NEW_FILE_FLAGS, 0o644);
    writeAll(fd, init.events!, RUN_FILES.events, 0);
    fs.fsyncSync(fd);
    try {
      fs.linkSync(tmp, path.join(dir, RUN_FILES.events)); // exclusive: one adopter wins
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new RunExistsError(dir, 'another trainer adopted it first');
      throw e;
    }
  } catch (e) {
    if (fd !== null) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw asWriteError(RUN_FILES.events, e);
  }
  fs.rmSync(tmp, { force: true });
  const status = { ...init.status, jobId: init.status.jobId ?? prev.jobId ?? null };
  try {
    writeJsonAtomic(path.join(dir, RUN_FILES.status), status, RUN_FILES.status);
  } catch (e) {
    fs.closeSync(fd!);
    throw e;
  }
  init.status.jobId = status.jobId;
  return { dir, fd, size: init.events!.length };
}

/** Create or adopt `<runsRoot>/<runId>` with its initial files. */
function createRunDir(runsRoot: string, runId: string, init: Initial, adopt: boolean, onStaged?: (d: string) => void): Created {
  validateId(runId);
  ensureRoot(runsRoot);
  cleanStaleStages(runsRoot);
  const dir = path.join(runsRoot, runId);
  const t = inspectTarget(dir);
  if (t.kind === 'placeholder') {
    if (!adopt) throw new RunExistsError(dir, `found ${t.names.slice(0, 3).join(', ')}`);
    return adoptPlaceholder(dir, t.names, init);
  }
  return createStaged(runsRoot, runId, init, onStaged);
}

/**
 * For launchers (e.g. Slurm): create a run folder in state `queued` (config.json + status.json) that the
 * trainer's {@link RunWriter.create} later adopts. Refuses an existing non-empty folder or a symlink.
 */
export function writeQueuedRun(runsRoot: string, runId: string, config: RunConfig, opts: { jobId?: string | null; host?: string; totalSteps?: number } = {}): string {
  const now = new Date().toISOString();
  const status: RunStatus = { runId, state: 'queued', step: 0, totalSteps: opts.totalSteps ?? 0, pid: null, host: opts.host ?? os.hostname(), jobId: opts.jobId ?? null, startedAt: now, updatedAt: now, error: null };
  return createRunDir(runsRoot, runId, { config, status }, false).dir;
}

export class RunWriter {
  readonly dir: string;
  private fd: number | null;
  /** Bytes of complete lines in events.jsonl: a failed write is truncated back to this. */
  private size: number;
  private pendingStep: RunEvent | null = null;
  private lastStepWrite = -Infinity;
  private lastStatusWrite: number;
  private statusStep = 0;
  private step = 0;
  private readonly startMs: number;
  private readonly status: RunStatus;
  private readonly acc: SummaryAccumulator;
  private readonly now: () => number;
  private readonly o: Required<Omit<RunWriterOptions, 'jobId' | 'now' | 'onStaged'>>;
  private timer: NodeJS.Timeout | null = null;
  private finished = false;
  private failure: RunWriteError | null = null;
  private reserve: string | null = null;
  /** Identity of the run folder as created: a folder swapped for a symlink later is noticed, not written through. */
  private readonly dirId: { dev: number; ino: number };
  private dirReplaced = false;
  private readonly onExit = () => this.flushSafely();

  private constructor(
    readonly runsRoot: string,
    readonly runId: string,
    readonly config: RunConfig,
    header: HeaderFields,
    opts: RunWriterOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.o = {
      stepIntervalMs: opts.stepIntervalMs ?? 50,
      flushIntervalMs: opts.flushIntervalMs ?? 100,
      statusIntervalMs: opts.statusIntervalMs ?? 1000,
      heartbeatSeconds: opts.heartbeatSeconds ?? HEARTBEAT_SECONDS,
      detectorEvents: opts.detectorEvents ?? false,
      timer: opts.timer ?? true,
    };
    this.startMs = this.now();
    this.lastStatusWrite = this.startMs;
    this.acc = new SummaryAccumulator(detectorOptionsFromConfig(config));
    const host = header.host ?? os.hostname();
    const pid = header.pid ?? process.pid;
    const h: HeaderEvent = { type: 'header', t: this.startMs, schemaVersion: EVENTS_SCHEMA_VERSION, runId, ...header, host, pid };
    const st: RunEvent = { type: 'status', t: this.startMs, step: 0, state: 'running' };
    const iso = new Date(this.startMs).toISOString();
    this.status = { runId, state: 'running', step: 0, totalSteps: header.totalSteps, pid, host, jobId: opts.jobId ?? null, startedAt: iso, updatedAt: iso, heartbeatSeconds: this.o.heartbeatSeconds, error: null };
    const events = Buffer.from(JSON.stringify(h) + '\n' + JSON.stringify(st) + '\n');
    const c = createRunDir(runsRoot, runId, { config, status: this.status, events }, true, opts.onStaged);
    this.dir = c.dir;
    this.fd = c.fd;
    this.size = c.size;
    const ds = fs.lstatSync(this.dir);
    this.dirId = { dev: ds.dev, ino: ds.ino };
    this.acc.add(h);
    this.acc.add(st);
    this.reserveSpace();
    process.on('exit', this.onExit);
    if (this.o.timer) {
      this.timer = setInterval(() => this.tick(), Math.max(10, Math.min(this.o.flushIntervalMs, this.o.stepIntervalMs, this.o.heartbeatSeconds * 1000)));
      this.timer.unref();
    }
  }

  /** Create `<runsRoot>/<runId>/` and write config.json, the header and status.json (state `running`). */
  static create(runsRoot: string, runId: string, config: RunConfig, header: HeaderFields, opts: RunWriterOptions = {}): RunWriter {
    return new RunWriter(runsRoot, runId, config, header, opts);
  }

  /**
   * Create a run under a fresh id from {@link makeRunId} (`name`: the run name or config file name),
   * retrying with the next suffix if another process takes the same folder first.
   */
  static createUnique(runsRoot: string, name: string, config: RunConfig, header: HeaderFields, opts: RunWriterOptions & { date?: Date } = {}): RunWriter {
    for (let attempt = 0; ; attempt++) {
      const id = makeRunId(name, opts.date ?? new Date(), runsRoot);
      try {
        return RunWriter.create(runsRoot, id, config, header, opts);
      } catch (e) {
        if (!(e instanceof RunExistsError) || e instanceof UnsafeRunDirError || attempt >= 20) throw e;
      }
    }
  }

  /** The detector state computed from every event given so far (also with `detectorEvents: false`). */
  get detectorState(): DetectorState {
    return this.acc.detector.state;
  }

  /** Latest step seen. */
  get currentStep(): number {
    return this.step;
  }

  /** The first write error, once one happened (the run can then only end `failed`). */
  get writeError(): RunWriteError | null {
    return this.failure;
  }

  /**
   * Append an event: written at once, except `step` events, which are throttled (see the header comment).
   * Throws a {@link RunWriteError} if a write fails, and from then on.
   */
  append(input: EventInput): void {
    if (this.finished) throw new Error(`${this.dir}: run already finished; cannot append a ${input.type} event`);
    if (this.failure) throw this.failure;
    const now = this.now();
    const e = { ...input, t: input.t ?? now } as RunEvent;
    const changes = this.acc.add(e);
    if ('step' in e && typeof e.step === 'number' && e.step > this.step) this.step = e.step;
    const out: RunEvent[] = [];
    if (e.type === 'step') {
      if (now - this.lastStepWrite >= this.o.stepIntervalMs) {
        this.pendingStep = null;
        this.lastStepWrite = now;
        out.push(e);
      } else {
        this.pendingStep = e;
      }
    } else {
      out.push(e);
    }
    if (this.o.detectorEvents) for (const c of changes) out.push(toDetectorEvent(c, e.t));
    this.writeEvents(out, now);
    this.maybeWriteStatus(now);
  }

  /** Write the held-back step now. */
  flush(): void {
    if (this.finished || this.fd === null || this.failure) return;
    this.writeEvents([], this.now(), true);
  }

  /** True once someone created the `STOP` file in the run folder. */
  stopRequested(): boolean {
    return fs.existsSync(path.join(this.dir, RUN_FILES.stop));
  }

  /**
   * Write the final parameters: `save(tmpDir)` fills a private temporary folder inside the run folder, which is
   * then renamed to `checkpoint/` — readers never see half a checkpoint, and a killed process leaves only a
   * hidden `.checkpoint.tmp-<pid>` folder. On failure the temporary folder is removed and a
   * {@link RunWriteError} names the file and cause.
   */
  async writeCheckpoint(save: (tmpDir: string) => Promise<void> | void): Promise<void> {
    const final = path.join(this.dir, RUN_FILES.checkpoint);
    const tmp = path.join(this.dir, `.${RUN_FILES.checkpoint}.tmp-${process.pid}`);
    const label = (e: unknown) => {
      const p = (e as NodeJS.ErrnoException)?.path;
      return p && p.startsWith(tmp + path.sep) ? `${RUN_FILES.checkpoint}/${path.basename(p).replace(/\.tmp$/, '')}` : RUN_FILES.checkpoint;
    };
    try {
      this.checkDir();
      if (fs.existsSync(final) || isLink(final)) throw new RunExistsError(final, 'a checkpoint already exists');
      fs.rmSync(tmp, { recursive: true, force: true });
      fs.mkdirSync(tmp, { mode: 0o700 }); // private while being written: nothing can be planted inside
      writeFaults.beforeWrite?.(RUN_FILES.checkpoint, 0);
      await save(tmp);
      for (const n of fs.readdirSync(tmp)) {
        const fd = fs.openSync(path.join(tmp, n), O_RDONLY | O_NOFOLLOW);
        try {
          fs.fsyncSync(fd);
        } finally {
          fs.closeSync(fd);
        }
      }
      fs.chmodSync(tmp, 0o755);
      fs.renameSync(tmp, final);
    } catch (e) {
      fs.rmSync(tmp, { recursive: true, force: true });
      throw e instanceof RunExistsError || e instanceof RunWriteError ? e : new RunWriteError(label(e), e);
    }
  }

  /**
   * End the run: write the held-back step, a final `status` event (with `error` as its message),
   * summary.json (computed from the events, overlaid with `summary`) and the final status.json.
   * Never throws for a write error: a run whose writes failed ends `failed` with the first error, recorded
   * wherever it can still be written. Returns the summary.
   */
  finish(state: RunState, summary: Partial<RunSummary> = {}, error?: string | null): RunSummary {
    if (this.finished) throw new Error(`${this.dir}: run already finished`);
    if (!isTerminal(state)) throw new Error(`finish(${JSON.stringify(state)}): expected a terminal state (completed, stopped, failed, diverged)`);
    const now = this.now();
    this.releaseSpace();
    if (this.failure && state !== 'failed') {
      state = 'failed';
      error = this.failure.message;
    }
    const message = () => (error ? { message: error } : {});
    const st: RunEvent = { type: 'status', t: now, step: this.step, state, ...message() };
    this.finished = true;
    this.stopTimer();
    if (this.fd !== null) {
      try {
        // Best effort even after a failure: the disk may have room for one line again.
        this.writeEvents([st], now, true, true);
        fs.fsyncSync(this.fd);
      } catch (e) {
        this.fail(RUN_FILES.events, e);
        if (state !== 'failed') {
          state = 'failed';
          error = this.failure!.message;
        }
      }
      try {
        fs.closeSync(this.fd);
      } catch {
        /* nothing left to do */
      }
      this.fd = null;
    }
    // A checkpoint cut short (a second signal exits from inside it) leaves no temporary folder.
    try {
      if (!this.dirReplaced) fs.rmSync(path.join(this.dir, `.${RUN_FILES.checkpoint}.tmp-${process.pid}`), { recursive: true, force: true });
    } catch {
      /* best effort */
    }
    this.acc.add({ ...st, state, ...message() } as RunEvent);
    // `error` is the status event's message for any state; status.json and the summary record it as an
    // error only for failed/diverged runs (a stop reason is not an error). An explicit summary.error wins.
    const result = (): RunSummary => {
      const isError = state === 'failed' || state === 'diverged';
      const base = this.acc.result(state, { lossThreshold: this.config.fisher.lossThreshold, wallSeconds: (now - this.startMs) / 1000, runId: this.runId, error: isError ? (error ?? null) : null });
      const s: RunSummary = { ...base, ...summary, runId: this.runId, state };
      if (state === 'failed' && this.failure) s.error = error ?? this.failure.message;
      return s;
    };
    let out = result();
    try {
      this.checkDir();
      writeJsonAtomic(path.join(this.dir, RUN_FILES.summary), out, RUN_FILES.summary);
    } catch (e) {
      this.fail(RUN_FILES.summary, e);
      if (state !== 'failed') {
        state = 'failed';
        error = this.failure!.message;
      }
      out = result();
    }
    const isError = state === 'failed' || state === 'diverged';
    Object.assign(this.status, { state, step: this.step, updatedAt: new Date(now).toISOString(), error: isError ? (error ?? out.error ?? null) : null });
    try {
      this.checkDir();
      writeJsonAtomic(path.join(this.dir, RUN_FILES.status), this.status, RUN_FILES.status);
    } catch (e) {
      this.fail(RUN_FILES.status, e); // the previous status.json stays, complete
    }
    return out;
  }

  /**
   * Flush and close without a terminal state (status.json stays `running`; readers report the run as
   * failed once this process is gone). For abnormal exits; normal ends use {@link finish}.
   */
  close(): void {
    if (this.finished) return;
    this.flushSafely();
    this.finished = true;
    this.releaseSpace();
    this.stopTimer();
    if (this.fd !== null) {
      fs.closeSync(this.fd);
      this.fd = null;
    }
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    process.off('exit', this.onExit);
  }

  /**
   * Throw unless `<runsRoot>/<runId>` is still the folder this writer created (checked before every file it
   * creates there by path: a folder renamed away and replaced by a symlink is refused, not written through).
   */
  private checkDir(): void {
    let st: fs.Stats | null = null;
    try {
      st = fs.lstatSync(this.dir);
    } catch {
      /* reported below */
    }
    if (!st || st.isSymbolicLink() || !st.isDirectory() || st.ino !== this.dirId.ino || st.dev !== this.dirId.dev) {
      this.dirReplaced = true;
      this.reserve = null; // not removed by path through whatever is there now
      throw this.fail(this.dir, new Error(`the run folder was replaced${st?.isSymbolicLink() ? ' by a symbolic link' : st ? '' : ' (it is gone)'}; nothing more is written there`));
    }
  }

  /** Hold {@link SPACE_RESERVE_BYTES} of real blocks (zeros, fsynced); without room for it, go on without. */
  private reserveSpace(): void {
    const file = path.join(this.dir, `.space-reserve-${process.pid}`);
    try {
      writeNewFile(file, Buffer.alloc(SPACE_RESERVE_BYTES), '.space-reserve');
      this.reserve = file;
    } catch {
      /* a nearly full disk: nothing reserved (writeNewFile removed the partial file) */
    }
  }

  private releaseSpace(): void {
    if (!this.reserve) return;
    try {
      fs.rmSync(this.reserve, { force: true });
    } catch {
      /* best effort */
    }
    this.reserve = null;
  }

  private tick(): void {
    if (this.finished || this.failure) return;
    try {
      const now = this.now();
      if (this.pendingStep && now - this.lastStepWrite >= this.o.stepIntervalMs) this.writeEvents([], now, true);
      this.maybeWriteStatus(now);
    } catch {
      /* recorded in this.failure: the next append throws it */
    }
  }

  private flushSafely(): void {
    try {
      this.flush();
    } catch {
      /* process is exiting */
    }
  }

  private fail(file: string, e: unknown): RunWriteError {
    const err = e instanceof RunWriteError ? e : new RunWriteError(file, e);
    this.failure ??= err;
    this.releaseSpace(); // room for the final status line, summary.json and status.json
    return err;
  }

  /**
   * Write `events` (never held back) in one write, preceded by the held-back step when it belongs before them
   * (its step ≤ theirs) or when `flushPending`. A failed write is truncated back to the last complete line.
   */
  private writeEvents(events: RunEvent[], now: number, flushPending = false, force = false): void {
    let text = '';
    for (const e of events) {
      const s = 'step' in e && typeof e.step === 'number' ? e.step : -Infinity;
      if (this.pendingStep && (s === -Infinity || (this.pendingStep as { step: number }).step <= s)) {
        text += JSON.stringify(this.pendingStep) + '\n';
        this.pendingStep = null;
        this.lastStepWrite = now;
      }
      text += JSON.stringify(e) + '\n';
    }
    if (flushPending && this.pendingStep) {
      text = JSON.stringify(this.pendingStep) + '\n' + text;
      this.pendingStep = null;
      this.lastStepWrite = now;
    }
    if (!text || this.fd === null) return;
    if (this.failure && !force) throw this.failure;
    const buf = Buffer.from(text);
    try {
      writeAll(this.fd, buf, RUN_FILES.events, this.size);
      this.size += buf.length;
    } catch (e) {
      try {
        fs.ftruncateSync(this.fd, this.size); // no torn line in the middle of the file
      } catch {
        /* the reader skips a torn last line */
      }
      throw this.fail(RUN_FILES.events, e);
    }
  }

  /** Progress rewrite (step advanced, ≥ statusIntervalMs) or heartbeat (≥ heartbeatSeconds) of status.json. */
  private maybeWriteStatus(now: number): void {
    if (this.finished || this.failure) return;
    const since = now - this.lastStatusWrite;
    if (!((this.step !== this.statusStep && since >= this.o.statusIntervalMs) || since >= this.o.heartbeatSeconds * 1000)) return;
    this.statusStep = this.step;
    this.lastStatusWrite = now;
    this.status.step = this.step;
    this.status.updatedAt = new Date(now).toISOString();
    this.checkDir();
    try {
      writeJsonAtomic(path.join(this.dir, RUN_FILES.status), this.status, RUN_FILES.status);
    } catch (e) {
      throw this.fail(RUN_FILES.status, e);
    }
  }
}

function isLink(p: string): boolean {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}
