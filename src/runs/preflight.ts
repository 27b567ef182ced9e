/**
 * Checks that a runs root and a run id can be used, made before any work (loading data, probing backends) and
 * without writing anything; plus {@link ensureDir}, a `mkdir -p` that cannot loop.
 *
 * Why not `fs.mkdirSync(dir, { recursive: true })` alone: on a pseudo file system such as /proc, `mkdir /proc/x`
 * fails with ENOENT although /proc exists, and Node 20's recursive mkdir then retries the parent forever.
 * Callers: the CLI (`train`, `demo`, `reproduce --out`); the run writer and the extension host can call the same.
 */
import fs from 'node:fs';
import path from 'node:path';
import { RUN_FILES } from '../shared/protocol';
import { USER_FILE } from '../shared/userMeta';
import { runIdProblem } from './runId';
import { writeNewFile } from './safeFs';

/** A runs root or run id that cannot be used; the message names the argument, the path and the reason. */
export class PreflightError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PreflightError';
  }
}

/** statfs magic numbers of Linux pseudo file systems where nothing can be created (see statfs(2)). */
const PSEUDO_FS: Record<number, string> = {
  0x9fa0: 'proc',
  0x62656572: 'sysfs',
  0x1cd1: 'devpts',
  0x27e0eb: 'cgroup',
  0x63677270: 'cgroup2',
  0x64626720: 'debugfs',
  0x74726163: 'tracefs',
  0x73636673: 'securityfs',
  0x62656570: 'configfs',
  0xcafe4a11: 'bpf',
  0x6165676c: 'pstore',
  0xde5e81e4: 'efivarfs',
};

const errCode = (e: unknown) => (e as NodeJS.ErrnoException).code ?? (e as Error).message;

/** The nearest existing ancestor of `dir` (itself included), and the path parts below it that do not exist yet. */
function nearestExisting(
  dir: string,
  label: string,
): { existing: string; stat: fs.Stats; missing: string[] } {
  const missing: string[] = [];
  let cur = path.resolve(dir);
  for (;;) {
    try {
      return { existing: cur, stat: fs.statSync(cur), missing };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOTDIR')
        throw new PreflightError(`${label}: ${dir}: a part of the path is a file, not a folder`);
      if (code !== 'ENOENT')
        throw new PreflightError(`${label}: ${dir}: cannot inspect ${cur} (${errCode(e)})`);
    }
    const parent = path.dirname(cur);
    if (parent === cur) throw new PreflightError(`${label}: ${dir}: no part of the path exists`);
    missing.unshift(path.basename(cur));
    cur = parent;
  }
}

/**
 * Check that `dir` is, or can be created as, a writable folder: walk up to the nearest existing ancestor; it must
 * be a folder, writable and searchable, and not on a pseudo file system (/proc, /sys…). Writes nothing.
 * `label` names the argument in messages (default `--runs-dir`). Throws {@link PreflightError}.
 */
export function checkWritableDir(dir: string, label = '--runs-dir'): void {
  const { existing, stat, missing } = nearestExisting(dir, label);
  const where = existing === path.resolve(dir) ? dir : `${dir}: ${existing}`;
  if (!stat.isDirectory()) {
    throw new PreflightError(
      `${label}: ${where} is ${missing.length ? 'a file, not a folder, so nothing can be created under it' : 'a file, not a folder'}`,
    );
  }
  let fsType: string | undefined;
  try {
    fsType = PSEUDO_FS[Number(fs.statfsSync(existing).type)];
  } catch {
    /* statfs unsupported here: rely on the access check */
  }
  if (fsType)
    throw new PreflightError(
      `${label}: ${where} is on the ${fsType} pseudo file system; runs cannot be written there`,
    );
  try {
    fs.accessSync(existing, fs.constants.W_OK | fs.constants.X_OK);
  } catch (e) {
    throw new PreflightError(`${label}: ${where} is not writable (${errCode(e)})`);
  }
}

/** Files a launcher may leave in a queued run's folder before the trainer adopts it (as the run writer accepts). */
const ADOPTABLE = (name: string) =>
  name === RUN_FILES.config ||
  name === RUN_FILES.status ||
  name === RUN_FILES.stop ||
  name === USER_FILE ||
  /\.(log|out|err)$/.test(name) ||
  /\.tmp-\d+-\d+$/.test(name);

/**
 * Check a requested run id before any work: its syntax, and that `<runsRoot>/<runId>` does not hold a run (absent,
 * an empty folder, or a launcher's `queued` placeholder are fine; a file, a symbolic link or a folder with a run in
 * it are not). Writes nothing. Throws {@link PreflightError} naming `--run-id`.
 */
export function checkRunIdFree(runsRoot: string, runId: string, label = '--run-id'): void {
  const bad = runIdProblem(runId);
  if (bad) throw new PreflightError(`${label}: ${bad}`);
  const dir = path.join(runsRoot, runId);
  let st: fs.Stats;
  try {
    st = fs.lstatSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return; // ENOTDIR: the runs root itself is refused by checkWritableDir
    throw new PreflightError(`${label}: cannot inspect ${dir} (${errCode(e)})`);
  }
  const taken = (why: string) =>
    new PreflightError(
      `${label}: run ${JSON.stringify(runId)} already exists in ${runsRoot} (${why}); choose another id or delete that run`,
    );
  if (st.isSymbolicLink()) throw taken('a symbolic link of that name; refusing to follow it');
  if (!st.isDirectory()) throw taken('a file of that name');
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (e) {
    throw new PreflightError(`${label}: cannot read ${dir} (${errCode(e)})`);
  }
  if (names.length === 0) return;
  // events.jsonl in a queued placeholder: a trainer was killed while taking it over; the writer redoes that.
  const foreign = names.filter((n) => !ADOPTABLE(n) && n !== RUN_FILES.events);
  if (foreign.length) throw taken(`found ${foreign.slice(0, 3).join(', ')}`);
  if (names.includes(RUN_FILES.status)) {
    let state: unknown;
    try {
      state = (
        JSON.parse(fs.readFileSync(path.join(dir, RUN_FILES.status), 'utf8')) as { state?: unknown }
      ).state;
    } catch {
      state = 'unreadable';
    }
    if (state !== 'queued') throw taken(`status.json says ${JSON.stringify(state)}, not "queued"`);
  } else if (names.includes(RUN_FILES.events))
    throw taken(`found ${RUN_FILES.events} without a status`);
}

/**
 * `mkdir -p` that cannot loop: checks with {@link checkWritableDir}, then creates the missing folders one level at
 * a time; any failure names the folder and the cause. Returns the absolute path.
 */
export function ensureDir(dir: string, label = '--runs-dir'): string {
  checkWritableDir(dir, label);
  const { existing, missing } = nearestExisting(dir, label);
  let cur = existing;
  for (const part of missing) {
    cur = path.join(cur, part);
    try {
      fs.mkdirSync(cur);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST' && fs.statSync(cur).isDirectory())
        continue;
      throw new PreflightError(`${label}: cannot create ${cur} (${errCode(e)})`);
    }
  }
  return path.resolve(dir);
}

/** What a runs root created by Fisher Lens holds as `.gitignore`: run folders (checkpoints included) stay out of git. */
export const RUNS_ROOT_GITIGNORE =
  '# Created by Fisher Lens: run folders (metrics, configs, checkpoints) are not for version control.\n*\n';

/**
 * {@link ensureDir} for a runs root: when the root itself is created here, a `.gitignore` that ignores everything
 * in it is written first (exclusively, never through a symlink), so runs never show up as untracked files. An
 * existing root is left as it is (its owner decides). Returns the absolute path.
 */
export function ensureRunsRoot(dir: string, label = '--runs-dir'): string {
  let existed = true;
  try {
    fs.lstatSync(dir);
  } catch {
    existed = false;
  }
  const abs = ensureDir(dir, label);
  if (!existed) {
    try {
      writeNewFile(path.join(abs, '.gitignore'), Buffer.from(RUNS_ROOT_GITIGNORE), label);
    } catch {
      // Another process created the root (and its .gitignore) at the same moment: theirs is as good.
    }
  }
  return abs;
}
