/**
 * Export a run: CSV of every series, a TensorBoard event file, and a PNG of the monitor's charts.
 * Files go to `<folder>/<runId>/`.
 *
 * The target folder may hold planted symlinks (a shared or cloned folder): nothing is written through one.
 * `<folder>/<runId>` must be a real folder (created if absent; a symlink there is refused), and every file is
 * written to a fresh temporary name opened with O_CREAT|O_EXCL|O_NOFOLLOW and then renamed over the target
 * (rename replaces a name, it never follows it); a target that is a symlink is refused.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureDir } from '../runs/preflight';
import { seriesToCsv, seriesToScalars } from '../shared/exportData';
import type { RunSeries } from '../shared/series';
import { encodeEventFile, eventFileName } from '../shared/tfevents';

export type ExportFormat = 'csv' | 'tensorboard' | 'png';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['csv', 'tensorboard', 'png'];

const O_NOFOLLOW = fs.constants.O_NOFOLLOW ?? 0;

/**
 * Make `dir` a real folder: its parent (the folder the user chose) is created if absent; `dir` itself is
 * created, or must already be a real folder — a symlink or a file there is refused.
 */
export function ensureRealDir(dir: string): void {
  ensureDir(path.dirname(dir), 'export folder');
  try {
    fs.mkdirSync(dir);
    return;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  const st = fs.lstatSync(dir);
  if (st.isSymbolicLink()) throw new Error(`${dir} is a symbolic link; not exporting through it`);
  if (!st.isDirectory()) throw new Error(`${dir} exists and is not a folder`);
}

/**
 * Write `data` to `file` without following a symlink: a fresh temporary file (O_CREAT|O_EXCL|O_NOFOLLOW)
 * in the same folder, renamed over `file`. A `file` that is a symlink (or not a regular file) is refused.
 */
export function writeFileNoFollow(file: string, data: string | Uint8Array): void {
  let existing: fs.Stats | null = null;
  try {
    existing = fs.lstatSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  if (existing?.isSymbolicLink())
    throw new Error(`${file} is a symbolic link; not written through`);
  if (existing && !existing.isFile()) throw new Error(`${file} exists and is not a regular file`);
  const tmp = path.join(
    path.dirname(file),
    `.${path.basename(file)}.${process.pid}-${crypto.randomBytes(6).toString('hex')}.tmp`,
  );
  const fd = fs.openSync(
    tmp,
    fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | O_NOFOLLOW,
    0o644,
  );
  try {
    try {
      const buf = typeof data === 'string' ? Buffer.from(data) : data;
      let off = 0;
      while (off < buf.length) off += fs.writeSync(fd, buf, off, buf.length - off);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/** Write the CSV and/or TensorBoard files of a run; returns the files written. */
export function writeDataExports(
  series: RunSeries,
  outDir: string,
  formats: readonly ExportFormat[],
): string[] {
  ensureRealDir(outDir);
  const written: string[] = [];
  if (formats.includes('csv')) {
    const f = path.join(outDir, `${series.runId}.csv`);
    writeFileNoFollow(f, seriesToCsv(series));
    written.push(f);
  }
  if (formats.includes('tensorboard')) {
    const points = seriesToScalars(series);
    const t0 = (series.t0 ?? Date.now()) / 1000;
    const f = path.join(outDir, eventFileName(t0, series.header?.host ?? os.hostname()));
    writeFileNoFollow(f, encodeEventFile(points, t0));
    written.push(f);
  }
  return written;
}
