/**
 * The one writer of a run directory (see `src/shared/protocol.ts` for the files): appends events, keeps
 * status.json as a heartbeat, writes the summary it is given and the checkpoint. Creation is in `./runDir`, the
 * safe file operations in `./safeFs`; the summary and the detector events come from `./recorder`.
 *
 * - **Creation is atomic and exclusive, and no write follows a symlink**: see `./runDir`.
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
import {
  EVENTS_SCHEMA_VERSION,
  RUN_FILES,
  isTerminal,
  type HeaderEvent,
  type RunEvent,
  type RunState,
  type RunStatus,
  type RunSummary,
} from '../shared/protocol';
import { makeRunId } from './runId';
import { writeCheckpointDir } from './checkpointDir';
import { createRunDir, type StoredRunConfig } from './runDir';
import {
  RunExistsError,
  RunWriteError,
  UnsafeRunDirError,
  writeAll,
  writeJsonAtomic,
  writeNewFile,
} from './safeFs';

export {
  RunExistsError,
  RunWriteError,
  UnsafeRunDirError,
  describeFsError,
  writeFaults,
  writeJsonAtomic,
  NEW_FILE_FLAGS,
} from './safeFs';
export { writeQueuedRun } from './runDir';

/** Header fields the caller provides; type, time, schema version, run id, host and pid are filled in. */
export type HeaderFields = Omit<
  HeaderEvent,
  'type' | 't' | 'schemaVersion' | 'runId' | 'host' | 'pid'
> &
  Partial<Pick<HeaderEvent, 'host' | 'pid'>>;

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
  /** Clock, for tests (default Date.now). */
  now?: () => number;
  /** Background timer for held-back steps and the heartbeat (default true). */
  timer?: boolean;
  /** Test hook: called with the staging folder once a new run is assembled, before it is renamed into place. */
  onStaged?: (stageDir: string) => void;
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
  /** The lines events.jsonl starts with: the header and the first `status` (state `running`). */
  readonly opening: readonly [HeaderEvent, RunEvent];
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
    readonly config: StoredRunConfig,
    header: HeaderFields,
    opts: RunWriterOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.o = {
      stepIntervalMs: opts.stepIntervalMs ?? 50,
      flushIntervalMs: opts.flushIntervalMs ?? 100,
      statusIntervalMs: opts.statusIntervalMs ?? 1000,
      heartbeatSeconds: opts.heartbeatSeconds ?? HEARTBEAT_SECONDS,
      timer: opts.timer ?? true,
    };
    this.startMs = this.now();
    this.lastStatusWrite = this.startMs;
    const host = header.host ?? os.hostname();
    const pid = header.pid ?? process.pid;
    const h: HeaderEvent = {
      type: 'header',
      t: this.startMs,
      schemaVersion: EVENTS_SCHEMA_VERSION,
      runId,
      ...header,
      host,
      pid,
    };
    const st: RunEvent = { type: 'status', t: this.startMs, step: 0, state: 'running' };
    const iso = new Date(this.startMs).toISOString();
    this.status = {
      runId,
      state: 'running',
      step: 0,
      totalSteps: header.totalSteps,
      pid,
      host,
      jobId: opts.jobId ?? null,
      startedAt: iso,
      updatedAt: iso,
      heartbeatSeconds: this.o.heartbeatSeconds,
      error: null,
    };
    const events = Buffer.from(JSON.stringify(h) + '\n' + JSON.stringify(st) + '\n');
    const c = createRunDir(
      runsRoot,
      runId,
      { config, status: this.status, events },
      true,
      opts.onStaged,
    );
    this.dir = c.dir;
    this.fd = c.fd;
    this.size = c.size;
    const ds = fs.lstatSync(this.dir);
    this.dirId = { dev: ds.dev, ino: ds.ino };
    this.opening = [h, st];
    this.reserveSpace();
    process.on('exit', this.onExit);
    if (this.o.timer) {
      this.timer = setInterval(
        () => this.tick(),
        Math.max(
          10,
          Math.min(this.o.flushIntervalMs, this.o.stepIntervalMs, this.o.heartbeatSeconds * 1000),
        ),
      );
      this.timer.unref();
    }
  }

  /** Create `<runsRoot>/<runId>/` and write config.json, the header and status.json (state `running`). */
  static create(
    runsRoot: string,
    runId: string,
    config: StoredRunConfig,
    header: HeaderFields,
    opts: RunWriterOptions = {},
  ): RunWriter {
    return new RunWriter(runsRoot, runId, config, header, opts);
  }

  /**
   * Create a run under a fresh id from {@link makeRunId} (`name`: the run name or config file name),
   * retrying with the next suffix if another process takes the same folder first.
   */
  static createUnique(
    runsRoot: string,
    name: string,
    config: StoredRunConfig,
    header: HeaderFields,
    opts: RunWriterOptions & { date?: Date } = {},
  ): RunWriter {
    for (let attempt = 0; ; attempt++) {
      const id = makeRunId(name, opts.date ?? new Date(), runsRoot);
      try {
        return RunWriter.create(runsRoot, id, config, header, opts);
      } catch (e) {
        if (!(e instanceof RunExistsError) || e instanceof UnsafeRunDirError || attempt >= 20)
          throw e;
      }
    }
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
    if (this.finished)
      throw new Error(`${this.dir}: run already finished; cannot append a ${input.type} event`);
    if (this.failure) throw this.failure;
    const now = this.now();
    const e = { ...input, t: input.t ?? now } as RunEvent;
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
    this.checkDir();
    await writeCheckpointDir(this.dir, save);
  }

  /**
   * End the run: write the held-back step, a final `status` event (with `error` as its message), summary.json
   * (`summary`, built by the caller from the events: `./summary`) and the final status.json. Never throws for a
   * write error: a run whose writes failed ends `failed` with the first error, recorded wherever it can still be
   * written. Returns what was recorded: the final status event and the summary (state and error as written).
   */
  finish(
    state: RunState,
    summary: RunSummary,
    error?: string | null,
  ): { status: RunEvent & { type: 'status' }; summary: RunSummary } {
    if (this.finished) throw new Error(`${this.dir}: run already finished`);
    if (!isTerminal(state))
      throw new Error(
        `finish(${JSON.stringify(state)}): expected a terminal state (completed, stopped, failed, diverged)`,
      );
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
      if (!this.dirReplaced)
        fs.rmSync(path.join(this.dir, `.${RUN_FILES.checkpoint}.tmp-${process.pid}`), {
          recursive: true,
          force: true,
        });
    } catch {
      /* best effort */
    }
    // `error` is the status event's message for any state; status.json and the summary record it as an
    // error only for failed/diverged runs (a stop reason is not an error). An explicit summary.error wins.
    const result = (): RunSummary => {
      const isError = state === 'failed' || state === 'diverged';
      const s: RunSummary = { ...summary, runId: this.runId, state };
      if (!('error' in summary)) s.error = isError ? (error ?? null) : null;
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
    Object.assign(this.status, {
      state,
      step: this.step,
      updatedAt: new Date(now).toISOString(),
      error: isError ? (error ?? out.error ?? null) : null,
    });
    try {
      this.checkDir();
      writeJsonAtomic(path.join(this.dir, RUN_FILES.status), this.status, RUN_FILES.status);
    } catch (e) {
      this.fail(RUN_FILES.status, e); // the previous status.json stays, complete
    }
    return {
      status: { type: 'status', t: now, step: this.step, state, ...message() },
      summary: out,
    };
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
    if (
      !st ||
      st.isSymbolicLink() ||
      !st.isDirectory() ||
      st.ino !== this.dirId.ino ||
      st.dev !== this.dirId.dev
    ) {
      this.dirReplaced = true;
      this.reserve = null; // not removed by path through whatever is there now
      throw this.fail(
        this.dir,
        new Error(
          `the run folder was replaced${st?.isSymbolicLink() ? ' by a symbolic link' : st ? '' : ' (it is gone)'}; nothing more is written there`,
        ),
      );
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
      if (this.pendingStep && now - this.lastStepWrite >= this.o.stepIntervalMs)
        this.writeEvents([], now, true);
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
      if (
        this.pendingStep &&
        (s === -Infinity || (this.pendingStep as { step: number }).step <= s)
      ) {
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
    if (!(
      (this.step !== this.statusStep && since >= this.o.statusIntervalMs) ||
      since >= this.o.heartbeatSeconds * 1000
    ))
      return;
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
