/**
 * The trainer's side of a run directory (see `src/shared/protocol.ts` for the files).
 *
 * - Creation is exclusive: a folder holding a run (anything but a launcher's queued placeholder) is never
 *   overwritten, and `events.jsonl` is opened with O_EXCL so two writers cannot share a folder.
 * - `events.jsonl` is appended line by line with synchronous writes of whole lines, so a killed process
 *   leaves complete lines except possibly a torn last one. Lines are batched for at most
 *   `flushIntervalMs` (header, status, detector, log and eval events are written at once).
 * - `step` events are throttled: at most one per `stepIntervalMs` (20/s by default) is written; the latest
 *   one held back is written when the interval has passed (on the next event or a timer tick) and always
 *   before the terminal status. Every other event is written: `fisher` events are never dropped.
 *   Within each event type steps stay increasing; across types a held-back step may follow a later
 *   `fisher` line.
 * - `status.json` and `summary.json` are replaced atomically (temporary file, fsync, rename); status is
 *   refreshed with the current step at most every `statusIntervalMs`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EVENTS_SCHEMA_VERSION, RUN_FILES, isTerminal, type HeaderEvent, type RunEvent, type RunState, type RunStatus, type RunSummary } from '../shared/protocol';
import type { RunConfig } from '../shared/config';
import { detectorOptionsFromConfig, toDetectorEvent, type DetectorState } from '../shared/detector';
import { makeRunId, RUN_ID_PATTERN } from './runId';
import { SummaryAccumulator } from './summary';

/** Header fields the caller provides; type, time, schema version, run id, host and pid are filled in. */
export type HeaderFields = Omit<HeaderEvent, 'type' | 't' | 'schemaVersion' | 'runId' | 'host' | 'pid'> & Partial<Pick<HeaderEvent, 'host' | 'pid'>>;

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** An event to append; `t` defaults to now. Headers are written by {@link RunWriter.create}. */
export type EventInput = DistributiveOmit<Exclude<RunEvent, HeaderEvent>, 't'> & { t?: number };

export interface RunWriterOptions {
  /** Minimum ms between two written `step` events (default 50, i.e. ≤ 20/s). */
  stepIntervalMs?: number;
  /** Longest ms a line stays buffered before it is written (default 100). */
  flushIntervalMs?: number;
  /** Minimum ms between two progress rewrites of status.json (default 1000). */
  statusIntervalMs?: number;
  /** Slurm job id, recorded in status.json. */
  jobId?: string | null;
  /**
   * Let the writer run the explosion detector (options from the config) on every step/fisher event it is
   * given and append its `detector` events itself (default false: the trainer appends its own).
   */
  detectorEvents?: boolean;
  /** Clock, for tests (default Date.now). */
  now?: () => number;
  /** Background timer that writes held-back lines while the trainer is busy elsewhere (default true). */
  timer?: boolean;
}

/** A run already exists in the target folder. */
export class RunExistsError extends Error {
  constructor(
    readonly dir: string,
    detail: string,
  ) {
    super(`${dir}: a run already exists here (${detail}); refusing to overwrite a saved run`);
    this.name = 'RunExistsError';
  }
}

let tmpCounter = 0;

/** Write JSON atomically: temporary file in the same folder, fsync, rename over the target. */
export function writeJsonAtomic(file: string, value: unknown): void {
  const tmp = `${file}.tmp-${process.pid}-${++tmpCounter}`;
  const fd = fs.openSync(tmp, 'w');
  try {
    writeAll(fd, Buffer.from(JSON.stringify(value, null, 2) + '\n'));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

function writeAll(fd: number, buf: Buffer): void {
  let off = 0;
  while (off < buf.length) off += fs.writeSync(fd, buf, off, buf.length - off);
}

/** Files a launcher may leave in a queued run's folder before the trainer adopts it. */
const ADOPTABLE = (name: string) => name === RUN_FILES.config || name === RUN_FILES.status || name === RUN_FILES.stop || /\.(log|out|err)$/.test(name) || /\.tmp-\d+-\d+$/.test(name);

/**
 * For launchers (e.g. Slurm): create a run folder in state `queued` (config.json + status.json) that the
 * trainer's {@link RunWriter.create} later adopts. Refuses an existing non-empty folder.
 */
export function writeQueuedRun(runsRoot: string, runId: string, config: RunConfig, opts: { jobId?: string | null; host?: string; totalSteps?: number } = {}): string {
  const dir = claimDir(runsRoot, runId, false);
  writeJsonAtomic(path.join(dir, RUN_FILES.config), config);
  const now = new Date().toISOString();
  const status: RunStatus = { runId, state: 'queued', step: 0, totalSteps: opts.totalSteps ?? 0, pid: null, host: opts.host ?? os.hostname(), jobId: opts.jobId ?? null, startedAt: now, updatedAt: now, error: null };
  writeJsonAtomic(path.join(dir, RUN_FILES.status), status);
  return dir;
}

/** mkdir the run folder; an existing folder is accepted only when empty (or a queued placeholder if `adopt`). */
function claimDir(runsRoot: string, runId: string, adopt: boolean): string {
  if (!RUN_ID_PATTERN.test(runId)) throw new Error(`invalid run id ${JSON.stringify(runId)}: expected one path segment of letters, digits and . _ + -`);
  fs.mkdirSync(runsRoot, { recursive: true });
  const dir = path.join(runsRoot, runId);
  try {
    fs.mkdirSync(dir);
    return dir;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  if (!fs.statSync(dir).isDirectory()) throw new RunExistsError(dir, 'a file of that name exists');
  const names = fs.readdirSync(dir);
  if (names.length === 0) return dir;
  if (!adopt) throw new RunExistsError(dir, `found ${names.slice(0, 3).join(', ')}`);
  const foreign = names.filter((n) => !ADOPTABLE(n));
  if (foreign.length) throw new RunExistsError(dir, `found ${foreign.slice(0, 3).join(', ')}`);
  if (names.includes(RUN_FILES.status)) {
    let state: unknown;
    try {
      state = JSON.parse(fs.readFileSync(path.join(dir, RUN_FILES.status), 'utf8')).state;
    } catch {
      state = 'unreadable';
    }
    if (state !== 'queued') throw new RunExistsError(dir, `status.json says ${JSON.stringify(state)}, not "queued"`);
  }
  return dir;
}

export class RunWriter {
  readonly dir: string;
  private fd: number | null;
  private lines: string[] = [];
  private bufferedBytes = 0;
  private pendingStep: RunEvent | null = null;
  private lastStepWrite = -Infinity;
  private lastFlush: number;
  private lastStatusWrite: number;
  private statusStep = 0;
  private step = 0;
  private readonly startMs: number;
  private readonly status: RunStatus;
  private readonly acc: SummaryAccumulator;
  private readonly now: () => number;
  private readonly o: Required<Omit<RunWriterOptions, 'jobId' | 'now'>>;
  private timer: NodeJS.Timeout | null = null;
  private finished = false;
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
      detectorEvents: opts.detectorEvents ?? false,
      timer: opts.timer ?? true,
    };
    this.dir = claimDir(runsRoot, runId, true);
    let queuedJobId: string | null = null;
    try {
      const prev = JSON.parse(fs.readFileSync(path.join(this.dir, RUN_FILES.status), 'utf8')) as RunStatus;
      queuedJobId = prev.jobId ?? null;
    } catch {
      /* no placeholder */
    }
    try {
      this.fd = fs.openSync(path.join(this.dir, RUN_FILES.events), 'ax');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new RunExistsError(this.dir, 'events.jsonl appeared while creating');
      throw e;
    }
    this.startMs = this.now();
    this.lastFlush = this.startMs;
    this.lastStatusWrite = this.startMs;
    this.acc = new SummaryAccumulator(detectorOptionsFromConfig(config));
    writeJsonAtomic(path.join(this.dir, RUN_FILES.config), config);

    const host = header.host ?? os.hostname();
    const pid = header.pid ?? process.pid;
    const h: HeaderEvent = { type: 'header', t: this.startMs, schemaVersion: EVENTS_SCHEMA_VERSION, runId, ...header, host, pid };
    const iso = new Date(this.startMs).toISOString();
    this.status = { runId, state: 'running', step: 0, totalSteps: header.totalSteps, pid, host, jobId: opts.jobId ?? queuedJobId, startedAt: iso, updatedAt: iso, error: null };
    this.acc.add(h);
    this.push(h);
    const st: RunEvent = { type: 'status', t: this.startMs, step: 0, state: 'running' };
    this.acc.add(st);
    this.push(st);
    this.writeBuffered();
    writeJsonAtomic(path.join(this.dir, RUN_FILES.status), this.status);
    process.on('exit', this.onExit);
    if (this.o.timer) {
      this.timer = setInterval(() => this.tick(), Math.max(10, Math.min(this.o.flushIntervalMs, this.o.stepIntervalMs)));
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
        if (!(e instanceof RunExistsError) || attempt >= 20) throw e;
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

  /** Append an event (`step` events are throttled, all others written). */
  append(input: EventInput): void {
    if (this.finished) throw new Error(`${this.dir}: run already finished; cannot append a ${input.type} event`);
    const now = this.now();
    const e = { ...input, t: input.t ?? now } as RunEvent;
    const changes = this.acc.add(e);
    if ('step' in e && typeof e.step === 'number' && e.step > this.step) this.step = e.step;
    if (e.type === 'step') {
      if (now - this.lastStepWrite >= this.o.stepIntervalMs) {
        this.pendingStep = null;
        this.lastStepWrite = now;
        this.push(e);
      } else {
        this.pendingStep = e;
      }
    } else {
      if (this.pendingStep && now - this.lastStepWrite >= this.o.stepIntervalMs) this.writePendingStep(now);
      this.push(e);
    }
    if (this.o.detectorEvents) for (const c of changes) this.push(toDetectorEvent(c, e.t));
    const urgent = (this.o.detectorEvents && changes.length > 0) || e.type === 'status' || e.type === 'detector' || e.type === 'log' || e.type === 'eval';
    if (urgent || now - this.lastFlush >= this.o.flushIntervalMs || this.bufferedBytes > 1 << 16) this.writeBuffered();
  }

  /** Write everything held back, including a throttled step. */
  flush(): void {
    if (this.finished || this.fd === null) return;
    if (this.pendingStep) this.writePendingStep(this.now());
    this.writeBuffered();
  }

  /** True once someone created the `STOP` file in the run folder. */
  stopRequested(): boolean {
    return fs.existsSync(path.join(this.dir, RUN_FILES.stop));
  }

  /**
   * End the run: write the held-back step, a final `status` event (with `error` as its message),
   * summary.json (computed from the events, overlaid with `summary`) and the final status.json.
   * Returns the summary.
   */
  finish(state: RunState, summary: Partial<RunSummary> = {}, error?: string | null): RunSummary {
    if (this.finished) throw new Error(`${this.dir}: run already finished`);
    if (!isTerminal(state)) throw new Error(`finish(${JSON.stringify(state)}): expected a terminal state (completed, stopped, failed, diverged)`);
    const now = this.now();
    if (this.pendingStep) this.writePendingStep(now);
    const st: RunEvent = { type: 'status', t: now, step: this.step, state, ...(error ? { message: error } : {}) };
    this.acc.add(st);
    this.push(st);
    this.writeBuffered();
    this.finished = true;
    this.stopTimer();
    if (this.fd !== null) {
      fs.fsyncSync(this.fd);
      fs.closeSync(this.fd);
      this.fd = null;
    }
    // `error` is the status event's message for any state; status.json and the summary record it as an
    // error only for failed/diverged runs (a stop reason is not an error). An explicit summary.error wins.
    const isError = state === 'failed' || state === 'diverged';
    const base = this.acc.result(state, { lossThreshold: this.config.fisher.lossThreshold, wallSeconds: (now - this.startMs) / 1000, runId: this.runId, error: isError ? (error ?? null) : null });
    const out: RunSummary = { ...base, ...summary, runId: this.runId, state };
    writeJsonAtomic(path.join(this.dir, RUN_FILES.summary), out);
    Object.assign(this.status, { state, step: this.step, updatedAt: new Date(now).toISOString(), error: isError ? (error ?? out.error ?? null) : null });
    writeJsonAtomic(path.join(this.dir, RUN_FILES.status), this.status);
    return out;
  }

  /**
   * Flush and close without a terminal state (status.json stays `running`; readers report the run as
   * failed once this process is gone). For abnormal exits; normal ends use {@link finish}.
   */
  close(): void {
    if (this.finished) return;
    this.flush();
    this.finished = true;
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

  private tick(): void {
    if (this.finished) return;
    try {
      const now = this.now();
      if (this.pendingStep && now - this.lastStepWrite >= this.o.stepIntervalMs) this.writePendingStep(now);
      if (this.lines.length) this.writeBuffered();
    } catch {
      /* a failing disk surfaces on the next append */
    }
  }

  private flushSafely(): void {
    try {
      this.flush();
    } catch {
      /* process is exiting */
    }
  }

  private writePendingStep(now: number): void {
    const e = this.pendingStep!;
    this.pendingStep = null;
    this.lastStepWrite = now;
    this.push(e);
  }

  private push(e: RunEvent): void {
    const line = JSON.stringify(e) + '\n';
    this.lines.push(line);
    this.bufferedBytes += line.length;
  }

  private writeBuffered(): void {
    const now = this.now();
    if (this.lines.length && this.fd !== null) {
      const buf = Buffer.from(this.lines.join(''));
      this.lines = [];
      this.bufferedBytes = 0;
      writeAll(this.fd, buf);
    }
    this.lastFlush = now;
    if (!this.finished && this.step !== this.statusStep && now - this.lastStatusWrite >= this.o.statusIntervalMs) {
      this.statusStep = this.step;
      this.lastStatusWrite = now;
      this.status.step = this.step;
      this.status.updatedAt = new Date(now).toISOString();
      writeJsonAtomic(path.join(this.dir, RUN_FILES.status), this.status);
    }
  }
}
