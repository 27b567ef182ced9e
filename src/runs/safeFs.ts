/**
 * File operations of the run writer, all safe against untrusted run folders: exclusive creation
 * (O_CREAT|O_EXCL|O_NOFOLLOW), atomic JSON (temporary file, fsync, rename), no read or write through a symlink,
 * and write errors that name the file and the cause ({@link RunWriteError}).
 */
import fs from 'node:fs';

/** A run already exists in the target folder. */
export class RunExistsError extends Error {
  constructor(
    readonly dir: string,
    detail: string,
    message?: string,
  ) {
    super(
      message ?? `${dir}: a run already exists here (${detail}); refusing to overwrite a saved run`,
    );
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

export const asWriteError = (file: string, e: unknown) =>
  e instanceof RunWriteError || e instanceof RunExistsError ? e : new RunWriteError(file, e);

/**
 * Test hook: called before every write into a run folder with the file's label (e.g. `events.jsonl`,
 * `status.json`, `checkpoint`) and the byte count; throwing an errno-style error simulates a failing disk.
 */
export const writeFaults: { beforeWrite: ((file: string, bytes: number) => void) | null } = {
  beforeWrite: null,
};

const { O_WRONLY, O_RDONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;
/** Flags of every new file: exclusive, never through a symlink. */
export const NEW_FILE_FLAGS = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW;

export function writeAll(
  fd: number,
  buf: Buffer,
  label: string,
  position: number | null = null,
): void {
  writeFaults.beforeWrite?.(label, buf.length);
  let off = 0;
  while (off < buf.length) {
    const n = fs.writeSync(
      fd,
      buf,
      off,
      buf.length - off,
      position === null ? null : position + off,
    );
    off += n;
  }
}

let tmpCounter = 0;

/** A fresh temporary name beside `file`: `<file>.tmp-<pid>-<n>` (removed by a later creation once its process is gone). */
export const tmpNameFor = (file: string): string => `${file}.tmp-${process.pid}-${++tmpCounter}`;

/** Create `file` exclusively (O_EXCL|O_NOFOLLOW) with `data`, fsynced; on failure nothing is left. */
export function writeNewFile(file: string, data: Buffer, label: string): void {
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
  const tmp = tmpNameFor(file);
  writeNewFile(tmp, Buffer.from(JSON.stringify(value, null, 2) + '\n'), label);
  try {
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw asWriteError(label, e);
  }
}

/** Read a small regular file without following a symlink. */
export function readNoFollow(file: string, maxBytes = 1 << 20): string {
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
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
