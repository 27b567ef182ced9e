/**
 * Creating a run folder: assembled in a hidden staging folder and renamed into place (atomic, exclusive), or a
 * launcher's `queued` placeholder adopted in place; never through a symlink. See `./writer` for the file rules.
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
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RUN_FILES, type RunState, type RunStatus } from '../shared/protocol';
import { USER_FILE } from '../shared/userMeta';
import type { RunConfig } from '../shared/config';
import type { ScriptRunConfig } from '../shared/protocol';

/** What config.json holds: a run config, or the launch of the user's own script (`fisher-lens run`). */
export type StoredRunConfig = RunConfig | ScriptRunConfig;
import { RUN_ID_PATTERN } from './runId';
import { ensureRunsRoot } from './preflight';
import {
  NEW_FILE_FLAGS,
  RunExistsError,
  RunWriteError,
  UnsafeRunDirError,
  asWriteError,
  pidAlive,
  readNoFollow,
  tmpNameFor,
  writeAll,
  writeJsonAtomic,
  writeNewFile,
} from './safeFs';

/** Files a launcher may leave in a queued run's folder before the trainer adopts it. */
const TMP_RE = /\.tmp-(\d+)-\d+$/;
const ADOPTABLE = (name: string) =>
  name === RUN_FILES.config ||
  name === RUN_FILES.status ||
  name === RUN_FILES.stop ||
  name === USER_FILE ||
  /\.(log|out|err)$/.test(name) ||
  TMP_RE.test(name);
const STAGE_RE = /^\.(.+)\.creating-(\d+)$/;
/** A staging folder older than this whose process is gone is removed by the next creation. */
const STALE_STAGE_MS = 60_000;

function validateId(runId: string): void {
  if (!RUN_ID_PATTERN.test(runId))
    throw new Error(
      `invalid run id ${JSON.stringify(runId)}: expected one path segment of letters, digits and . _ + -`,
    );
}

function ensureRoot(runsRoot: string): void {
  try {
    // Not mkdirSync({ recursive }): that loops forever on some paths (/proc/x); this checks first.
    ensureRunsRoot(runsRoot, 'runs folder');
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
      if (Date.now() - fs.lstatSync(p).mtimeMs > STALE_STAGE_MS)
        fs.rmSync(p, { recursive: true, force: true });
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

export interface Created {
  dir: string;
  /** events.jsonl, open for writing (positioned writes); null for a queued placeholder. */
  fd: number | null;
  /** Bytes of complete lines in events.jsonl. */
  size: number;
}

/** Lines and JSON files a new (or adopted) run starts with. */
export interface Initial {
  config: StoredRunConfig;
  status: RunStatus;
  /** Header + first status lines; absent for a queued placeholder. */
  events?: Buffer;
}

/**
 * A fresh run: assemble it in `.<runId>.creating-<pid>` and rename that to `<runId>` (which may be missing or an
 * empty folder). Exclusive: a rename onto a non-empty folder fails.
 */
function createStaged(
  runsRoot: string,
  runId: string,
  init: Initial,
  onStaged?: (d: string) => void,
): Created {
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
    writeNewFile(
      path.join(stage, RUN_FILES.config),
      Buffer.from(JSON.stringify(init.config, null, 2) + '\n'),
      RUN_FILES.config,
    );
    if (init.events) {
      try {
        fd = fs.openSync(path.join(stage, RUN_FILES.events), NEW_FILE_FLAGS, 0o644);
        writeAll(fd, init.events, RUN_FILES.events, 0);
        fs.fsyncSync(fd);
      } catch (e) {
        throw asWriteError(RUN_FILES.events, e);
      }
    }
    writeNewFile(
      path.join(stage, RUN_FILES.status),
      Buffer.from(JSON.stringify(init.status, null, 2) + '\n'),
      RUN_FILES.status,
    );
    onStaged?.(stage);
    try {
      fs.renameSync(stage, dir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST')
        throw new RunExistsError(dir, 'another process created it first');
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
    if (st.isSymbolicLink())
      throw new UnsafeRunDirError(dir, `${n} in the queued run folder is a symbolic link`);
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
    if (prev?.state !== 'queued')
      throw new RunExistsError(
        dir,
        `status.json says ${JSON.stringify(prev?.state)}, not "queued"`,
      );
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
    if (!(host === os.hostname() && !pidAlive(pid)))
      throw new RunExistsError(dir, 'found events.jsonl');
    fs.rmSync(path.join(dir, RUN_FILES.events), { force: true });
  }
  for (const n of names) {
    const m = TMP_RE.exec(n);
    if (m && !pidAlive(Number(m[1]))) fs.rmSync(path.join(dir, n), { force: true });
  }
  // The launcher wrote the resolved config already: an identical one is adopted as it is, not written again.
  const configText = JSON.stringify(init.config, null, 2) + '\n';
  let current: string | null = null;
  try {
    current = names.includes(RUN_FILES.config)
      ? readNoFollow(path.join(dir, RUN_FILES.config))
      : null;
  } catch {
    /* unreadable: replaced below */
  }
  if (current !== configText)
    writeJsonAtomic(path.join(dir, RUN_FILES.config), init.config, RUN_FILES.config);
  const tmp = tmpNameFor(path.join(dir, RUN_FILES.events));
  let fd: number | null = null;
  try {
    fd = fs.openSync(tmp, NEW_FILE_FLAGS, 0o644);
    writeAll(fd, init.events!, RUN_FILES.events, 0);
    fs.fsyncSync(fd);
    try {
      fs.linkSync(tmp, path.join(dir, RUN_FILES.events)); // exclusive: one adopter wins
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST')
        throw new RunExistsError(dir, 'another trainer adopted it first');
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
export function createRunDir(
  runsRoot: string,
  runId: string,
  init: Initial,
  adopt: boolean,
  onStaged?: (d: string) => void,
): Created {
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
export function writeQueuedRun(
  runsRoot: string,
  runId: string,
  config: StoredRunConfig,
  opts: { jobId?: string | null; host?: string; totalSteps?: number } = {},
): string {
  const now = new Date().toISOString();
  const status: RunStatus = {
    runId,
    state: 'queued',
    step: 0,
    totalSteps: opts.totalSteps ?? 0,
    pid: null,
    host: opts.host ?? os.hostname(),
    jobId: opts.jobId ?? null,
    startedAt: now,
    updatedAt: now,
    error: null,
  };
  return createRunDir(runsRoot, runId, { config, status }, false).dir;
}
