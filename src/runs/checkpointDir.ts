/**
 * The checkpoint folder of a run: `save(tmpDir)` fills a private temporary folder inside the run folder, which is
 * then renamed to `checkpoint/` — readers never see half a checkpoint, and a killed process leaves only a hidden
 * `.checkpoint.tmp-<pid>` folder. On failure the temporary folder is removed and a {@link RunWriteError} names the
 * file and cause.
 */
import fs from 'node:fs';
import path from 'node:path';
import { RUN_FILES } from '../shared/protocol';
import { RunExistsError, RunWriteError, writeFaults } from './safeFs';

const { O_RDONLY, O_NOFOLLOW } = fs.constants;

function isLink(p: string): boolean {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

export async function writeCheckpointDir(
  dir: string,
  save: (tmpDir: string) => Promise<void> | void,
): Promise<void> {
  const final = path.join(dir, RUN_FILES.checkpoint);
  const tmp = path.join(dir, `.${RUN_FILES.checkpoint}.tmp-${process.pid}`);
  const label = (e: unknown) => {
    const p = (e as NodeJS.ErrnoException)?.path;
    return p && p.startsWith(tmp + path.sep)
      ? `${RUN_FILES.checkpoint}/${path.basename(p).replace(/\.tmp$/, '')}`
      : RUN_FILES.checkpoint;
  };
  try {
    if (fs.existsSync(final) || isLink(final))
      throw new RunExistsError(final, 'a checkpoint already exists');
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
    throw e instanceof RunExistsError || e instanceof RunWriteError
      ? e
      : new RunWriteError(label(e), e);
  }
}
