/**
 * Local trainer processes: `node dist/cli.js train <run>/config.json --runs-dir DIR --run-id ID --quiet [--backend B]
 * [--python EXE]`
 * as children of the extension host (not detached: they end with the window, and a run that outlived a
 * reload is still followed through its run directory). The resolved config is written once, as the queued
 * placeholder's config.json, and the trainer trains from that file and adopts the folder. A concurrency limit queues runs beyond it (state
 * `queued`, shown in the tree). Stop = SIGTERM to the child and a `STOP` file in the run directory (the
 * file alone stops runs started elsewhere: the CLI, another window, Slurm).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as vscode from 'vscode';
import { ensureRunsRoot } from '../runs/preflight';
import { pickReferenceRun, type ReferencePick } from '../runs/reference';
import { writeQueuedRun } from '../runs/writer';
import { readNoFollow, pidAlive } from '../runs/safeFs';
import { beatQueuedStatus, failQueuedRun, settleExitedRun } from '../runs/statusFixups';
import { parseConfig, type RunConfig } from '../shared/config';
import {
  RUN_FILES,
  scriptRunConfigErrors,
  type RunState,
  type RunStatus,
  type ScriptRunConfig,
} from '../shared/protocol';
import type { StoredRunConfig } from '../runs/runDir';
import { DisposableOwner } from './dispose';
import { log } from './log';
import type { Settings } from './settings';

/** Seconds between rewrites of a queued placeholder's status.json while this window holds it. */
export const QUEUED_HEARTBEAT_S = 30;

/** Workspace-state key of the pinned explosion baseline (a run id of the runs root). */
export const BASELINE_KEY = 'fisherLens.explosionBaseline';

const O_NOFOLLOW = fs.constants.O_NOFOLLOW ?? 0;

/** lstat: a real folder (not a symlink), directly inside `root`. Null when fine, else why not. */
export function runDirProblem(dir: string, root: string): string | null {
  if (path.dirname(path.resolve(dir)) !== path.resolve(root))
    return `${dir} is not directly inside the runs root ${root}`;
  let st: fs.Stats;
  try {
    st = fs.lstatSync(dir);
  } catch (e) {
    return `${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
  }
  if (st.isSymbolicLink()) return `${dir} is a symbolic link; run folders are never followed`;
  if (!st.isDirectory()) return `${dir} is not a folder`;
  return null;
}

/**
 * Create `<dir>/STOP` without following a symlink: O_CREAT|O_EXCL|O_NOFOLLOW, in a run folder that is a
 * real folder inside the runs root. An existing STOP file is fine (someone asked already); a symlink named
 * STOP, or anything else in its place, is refused. Throws with the reason.
 */
export function createStopFile(dir: string, root: string): 'created' | 'exists' {
  const bad = runDirProblem(dir, root);
  if (bad) throw new Error(bad);
  const file = path.join(dir, RUN_FILES.stop);
  let fd: number;
  try {
    fd = fs.openSync(
      file,
      fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | O_NOFOLLOW,
      0o644,
    );
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    const st = fs.lstatSync(file);
    if (st.isSymbolicLink()) throw new Error(`${file} is a symbolic link; not written through`);
    if (!st.isFile()) throw new Error(`${file} exists and is not a file`);
    return 'exists';
  }
  try {
    fs.writeSync(fd, `stop requested by the editor at ${new Date().toISOString()}\n`);
  } finally {
    fs.closeSync(fd);
  }
  return 'created';
}

/** What to run: a resolved config, or one read from a config file (either way written once, to the placeholder). */
export type RunSource =
  | { kind: 'config'; config: RunConfig }
  | { kind: 'file'; file: string; config: RunConfig }
  /** The user's own script (`fisher-lens run -- <command>`): config.json records the launch. */
  | { kind: 'script'; config: ScriptRunConfig };

export interface LaunchRequest {
  runId: string;
  source: RunSource;
  /** Steps the run will take (for the queued status). */
  totalSteps: number;
  /**
   * Python interpreter for the PyTorch engine (`--python`), resolved when the run is launched (src/host/python.ts);
   * absent: `fisherLens.pythonPath` when set, else none is passed and the CLI picks its own.
   */
  python?: string;
  /** The user's config file the run's config came from (problems the trainer finds are shown there). */
  configFile?: string;
  /**
   * A run of ours this one waits for: it starts only once that run has ended (e.g. the η* run its explosion warning
   * is compared with, which must have finished when this one starts and picks its reference).
   */
  after?: string;
}

/** A run this window launched or queued. */
export interface LocalRun {
  runId: string;
  runsDir: string;
  name: string;
  config: StoredRunConfig;
  state: 'queued' | 'running' | 'exited';
  child?: ChildProcess;
  pid?: number;
  queuedAt: number;
  exitCode?: number | null;
  stopRequested?: boolean;
  /** The config file given to the trainer: the placeholder's config.json. */
  file: string;
  /** The `--python` interpreter, when one was resolved. */
  python?: string;
  /** The user's config file it came from, if any. */
  configFile?: string;
  /** The run it waits for ({@link LaunchRequest.after}). */
  after?: string;
}

export interface LaunchOutcome {
  runId: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Last stderr lines (the CLI names the bad field on exit code 2). */
  stderrTail: string;
  stopRequested: boolean;
  /** The config the trainer was given, as the user knows it: their config file, else the run's config.json. */
  configFile: string;
}

export class Launcher extends DisposableOwner {
  private readonly runs = new Map<string, LocalRun>();
  private readonly changed = this.register(new vscode.EventEmitter<string>());
  private readonly exited = this.register(new vscode.EventEmitter<LaunchOutcome>());
  /** A local run was queued, started or exited (fires its id). */
  readonly onDidChange = this.changed.event;
  /** A launched trainer exited. */
  readonly onDidExit = this.exited.event;

  constructor(
    private readonly extensionPath: string,
    private readonly settings: () => Settings,
    private readonly cwd: () => string,
    /** Where the queue is kept across reloads (the workspace's state); none: queued runs end with the window. */
    private readonly memento?: QueueMemento,
  ) {
    super();
  }

  /** The pinned explosion baseline's run id ("Pin as Explosion Baseline"), kept in the workspace's state. */
  get pinnedBaseline(): string | null {
    const v = this.memento?.get<unknown>(BASELINE_KEY);
    return typeof v === 'string' && v ? v : null;
  }

  /** Pin (or with null, unpin) the run later runs' explosion warnings compare with where it applies. */
  async pinBaseline(runId: string | null): Promise<void> {
    await this.memento?.update(BASELINE_KEY, runId ?? undefined);
    this.changed.fire(runId ?? '');
  }

  /**
   * What a run's explosion warning is compared with (src/runs/reference.ts): the pinned baseline where it applies,
   * else the best known learning rate among the finished runs of the same model and data; null: its own start.
   */
  private explosionReference(run: LocalRun): ReferencePick | null {
    if ('kind' in run.config && run.config.kind === 'script') return null;
    try {
      return pickReferenceRun(run.runsDir, run.config as RunConfig, {
        pinned: this.pinnedBaseline,
        exclude: run.runId,
      });
    } catch (e) {
      log.debug(`${run.runId}: no explosion reference: ${(e as Error).message}`);
      return null;
    }
  }

  /** The queue as kept in the memento: runs queued by this workspace and not started yet. */
  private savedQueue(): SavedQueued[] {
    const v = this.memento?.get<unknown>(QUEUE_KEY);
    return Array.isArray(v) ? v.filter(isSavedQueued) : [];
  }

  private saveQueue() {
    if (!this.memento || this.disposed) return;
    const queued = [...this.runs.values()]
      .filter((r) => r.state === 'queued')
      .map((r) => ({
        runId: r.runId,
        runsDir: r.runsDir,
        queuedAt: r.queuedAt,
        ...(r.python ? { python: r.python } : {}),
        ...(r.after ? { after: r.after } : {}),
        // The user's config file: a refusal after a reload is still shown on it (Problems panel).
        ...(r.configFile ? { configFile: r.configFile } : {}),
        // A script run is resumed from this (the workspace's own record), never from a command on disk.
        ...('kind' in r.config && r.config.kind === 'script' ? { script: r.config } : {}),
      }));
    // Entries still waiting to be taken over (their old window not gone yet) stay listed.
    const pending = this.savedQueue().filter(
      (q) => this.waiting.has(q.runId) && !queued.some((r) => r.runId === q.runId),
    );
    void this.memento.update(QUEUE_KEY, [...queued, ...pending]);
    // The runs started here (and those of an earlier window still training): they hold their slots after a reload.
    const started: SavedStarted[] = [
      ...[...this.runs.values()]
        .filter((r) => r.state === 'running' && typeof r.pid === 'number')
        .map((r) => ({ runId: r.runId, runsDir: r.runsDir, pid: r.pid! })),
      ...[...this.adopted.entries()].map(([runId, a]) => ({ runId, ...a })),
    ];
    void this.memento.update(STARTED_KEY, started);
  }

  /**
   * Runs an earlier window of this workspace started that still train (their trainer's pid is alive and their
   * status.json names it): they count against `maxConcurrentRuns` until they end, so a resumed queue does not
   * start more runs than the limit.
   */
  private readonly adopted = new Map<string, { runsDir: string; pid: number }>();
  private adoptedTimer: NodeJS.Timeout | null = null;

  private adoptStarted() {
    const v = this.memento?.get<unknown>(STARTED_KEY);
    for (const o of Array.isArray(v) ? v.filter(isSavedStarted) : []) {
      if (this.runs.has(o.runId) || this.adopted.has(o.runId)) continue;
      if (trainerAlive(path.join(o.runsDir, o.runId), o.runsDir, o.pid))
        this.adopted.set(o.runId, { runsDir: o.runsDir, pid: o.pid });
    }
  }

  /** The adopted runs still training (the ended ones are forgotten). */
  private adoptedRunning(): number {
    let gone = false;
    for (const [runId, a] of this.adopted)
      if (!trainerAlive(path.join(a.runsDir, runId), a.runsDir, a.pid)) {
        this.adopted.delete(runId);
        gone = true;
      }
    if (gone) this.saveQueue();
    return this.adopted.size;
  }

  /** While adopted runs hold slots that queued runs wait for: look every second whether one ended. */
  private watchAdopted() {
    const waiting = () =>
      this.adopted.size > 0 && [...this.runs.values()].some((r) => r.state === 'queued');
    if (this.adoptedTimer || this.disposed || !waiting()) return;
    this.adoptedTimer = setInterval(() => {
      this.pump();
      if (!waiting() && this.adoptedTimer) {
        clearInterval(this.adoptedTimer);
        this.adoptedTimer = null;
      }
    }, ADOPTED_POLL_MS);
    this.adoptedTimer.unref?.();
  }

  /** Saved entries whose placeholder is still held by a live process (the old window, closing). */
  private readonly waiting = new Set<string>();
  private resumeTimer: NodeJS.Timeout | null = null;

  /**
   * Take over the runs this workspace queued before a reload (or a closed window): each whose placeholder is
   * still `queued` in its run folder, and whose holder (the window that queued it) is gone, is claimed and
   * queued again here, keeping its place in the order. A holder still alive (the old window closing) is asked
   * again shortly; a placeholder gone, started or stopped meanwhile is forgotten. Returns the run ids queued.
   */
  resumeQueue(): string[] {
    if (this.disposed || !vscode.workspace.isTrusted) return [];
    const resumed: string[] = [];
    this.waiting.clear();
    this.adoptStarted();
    for (const q of this.savedQueue()) {
      if (this.runs.has(q.runId)) continue;
      const dir = path.join(q.runsDir, q.runId);
      const held = queuedHolder(dir, q.runsDir);
      if (held === 'gone') continue;
      if (held === 'alive') {
        this.waiting.add(q.runId);
        continue;
      }
      this.beatQueued(dir, true);
      if (queuedHolder(dir, q.runsDir) !== 'ours') continue;
      let config: StoredRunConfig;
      try {
        // Untrusted like any run file: the run-config schema, read without following a symlink.
        config =
          q.script ?? parseConfig(readNoFollow(path.join(dir, RUN_FILES.config)), RUN_FILES.config);
      } catch (e) {
        log.warn(`${q.runId}: queued run not resumed: ${(e as Error).message}`);
        continue;
      }
      this.runs.set(q.runId, {
        runId: q.runId,
        runsDir: q.runsDir,
        name: config.name ?? q.runId,
        config,
        state: 'queued',
        queuedAt: q.queuedAt,
        file: path.join(dir, RUN_FILES.config),
        python: q.python,
        ...(q.after ? { after: q.after } : {}),
        ...(q.configFile ? { configFile: q.configFile } : {}),
      });
      resumed.push(q.runId);
      this.changed.fire(q.runId);
    }
    if (resumed.length) log.info(`resumed the queue of the last session: ${resumed.join(', ')}`);
    this.saveQueue();
    this.pump();
    this.watchAdopted();
    if (resumed.length) this.armHeartbeat();
    if (this.waiting.size && !this.resumeTimer) {
      this.resumeTimer = setTimeout(() => {
        this.resumeTimer = null;
        this.resumeQueue();
      }, RESUME_RETRY_MS);
      this.resumeTimer.unref?.();
    }
    return resumed;
  }

  /** The CLI bundle the trainer runs from. */
  get cliPath(): string {
    return path.join(this.extensionPath, 'dist', 'cli.js');
  }

  /** Runs launched or queued by this window and not yet exited. */
  active(): LocalRun[] {
    return [...this.runs.values()].filter((r) => r.state !== 'exited');
  }

  get(runId: string): LocalRun | undefined {
    return this.runs.get(runId);
  }

  /**
   * Queue a run: its folder is created at once in state `queued` (config.json + status.json, adopted by the
   * trainer when it starts), and it starts when fewer than `maxConcurrentRuns` of ours are running.
   */
  launch(req: LaunchRequest): LocalRun {
    // The commands check trust first and say so; this is the last line: no process, no folder.
    if (!vscode.workspace.isTrusted)
      throw new Error('this workspace is not trusted: Fisher Lens starts no training here');
    const s = this.settings();
    const config = req.source.config;
    // A runs root such as /proc/x: one clear error (a plain recursive mkdir would loop forever there).
    ensureRunsRoot(s.runsDirectory, 'fisherLens.runsDirectory');
    const dir = writeQueuedRun(s.runsDirectory, req.runId, config, { totalSteps: req.totalSteps });
    // The placeholder names its owner (this extension host) and heartbeats while this window holds it, so
    // other windows and later sessions see it stale once the owner is gone.
    this.beatQueued(dir, true);
    const run: LocalRun = {
      runId: req.runId,
      runsDir: s.runsDirectory,
      name: config.name ?? req.runId,
      config,
      state: 'queued',
      queuedAt: Date.now(),
      file: path.join(dir, RUN_FILES.config),
      python: req.python ?? (s.pythonPath || undefined),
      configFile: req.configFile ?? (req.source.kind === 'file' ? req.source.file : undefined),
      ...(req.after ? { after: req.after } : {}),
    };
    this.runs.set(run.runId, run);
    this.changed.fire(run.runId);
    this.pump();
    this.watchAdopted(); // queued behind an earlier window's run: started when that one ends
    this.saveQueue();
    this.armHeartbeat();
    return run;
  }

  private heartbeat: NodeJS.Timeout | null = null;

  /** Refresh the queued placeholders' heartbeat while any is held. */
  private armHeartbeat() {
    if (this.heartbeat || this.disposed) return;
    this.heartbeat = setInterval(() => {
      const queued = [...this.runs.values()].filter((r) => r.state === 'queued');
      if (!queued.length && this.heartbeat) {
        clearInterval(this.heartbeat);
        this.heartbeat = null;
        return;
      }
      for (const r of queued) this.beatQueued(path.join(r.runsDir, r.runId), false);
    }, QUEUED_HEARTBEAT_S * 1000);
    this.heartbeat.unref?.();
  }

  /** Rewrite a queued placeholder's status.json as owned by this process, now (only while it is still queued and ours). */
  private beatQueued(dir: string, claim: boolean) {
    try {
      if (runDirProblem(dir, path.dirname(dir))) return;
      beatQueuedStatus(dir, claim, QUEUED_HEARTBEAT_S);
    } catch (e) {
      log.debug(`${path.basename(dir)}: queued heartbeat not written: ${(e as Error).message}`);
    }
  }

  /** Start queued runs while below the limit. */
  private pump() {
    if (this.disposed) return;
    const limit = this.settings().maxConcurrentRuns;
    let running =
      [...this.runs.values()].filter((r) => r.state === 'running').length +
      (this.adopted.size ? this.adoptedRunning() : 0);
    const queued = [...this.runs.values()]
      .filter((r) => r.state === 'queued')
      .sort((a, b) => a.queuedAt - b.queuedAt);
    for (const r of queued) {
      if (running >= limit) break;
      if (this.waitsFor(r)) continue;
      this.start(r);
      running++;
    }
  }

  /** Whether a queued run still waits for the run it was queued after (queued or training, here or adopted). */
  private waitsFor(r: LocalRun): boolean {
    if (!r.after) return false;
    const a = this.runs.get(r.after);
    return a?.state === 'queued' || a?.state === 'running' || this.adopted.has(r.after);
  }

  private start(run: LocalRun, nodeOverride?: string) {
    const s = this.settings();
    const script = 'kind' in run.config && run.config.kind === 'script' ? run.config : null;
    const args = script
      ? [this.cliPath, 'run', '--runs-dir', run.runsDir, '--run-id', run.runId, '--quiet']
      : [
          this.cliPath,
          'train',
          run.file,
          '--runs-dir',
          run.runsDir,
          '--run-id',
          run.runId,
          '--quiet',
        ];
    if (script) args.push('--', ...script.command);
    else {
      if (s.backend !== 'auto') args.push('--backend', s.backend);
      if (run.python) args.push('--python', run.python);
      const ref = this.explosionReference(run);
      if (ref) {
        args.push('--reference', ref.dir);
        log.info(
          `${run.runId}: explosion warning compared with ${ref.why === 'pinned' ? 'the pinned baseline' : 'the best known learning rate'}, run ${ref.runId} (lr ${ref.lr})`,
        );
      } else {
        const declared = (run.config as RunConfig).fisher?.referenceLr;
        if (declared !== undefined && declared !== (run.config as RunConfig).optimizer.lr)
          log.info(
            `${run.runId}: no finished run of this set-up at its reference lr ${declared} yet: the explosion warning compares the run with its own start`,
          );
      }
    }
    const node = nodeOverride ?? (s.nodePath || 'node');
    const env: NodeJS.ProcessEnv = { ...process.env };
    // Electron's own binary is plain Node only with this variable; `node` on PATH ignores it.
    if (node === process.execPath && process.versions.electron) env.ELECTRON_RUN_AS_NODE = '1';
    log.info(
      `starting ${run.runId}: ${node} ${args.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ')}`,
    );
    // stderr goes to a file, not a pipe: a trainer that outlives this window (reload) must not die of EPIPE.
    const errFile = path.join(
      os.tmpdir(),
      'fisher-lens',
      `${run.runId}${nodeOverride ? '.2' : ''}.stderr.log`,
    );
    fs.mkdirSync(path.dirname(errFile), { recursive: true });
    const fd = fs.openSync(errFile, 'w');
    let child: ChildProcess;
    try {
      child = spawn(node, args, {
        cwd: script ? script.cwd : this.cwd(),
        env,
        stdio: ['ignore', 'ignore', fd],
        windowsHide: true,
      });
    } catch (e) {
      fs.closeSync(fd);
      this.finish(run, null, null, String(e));
      return;
    }
    fs.closeSync(fd);
    run.child = child;
    run.state = 'running';
    this.saveQueue();
    this.changed.fire(run.runId);
    const stderr = new FileFollower(errFile, (text) =>
      log.append(text.replace(/^(?=.)/gm, `[${run.runId}] `)),
    );
    child.once('spawn', () => {
      run.pid = child.pid;
      log.info(`${run.runId}: pid ${child.pid}`);
      this.saveQueue();
    });
    child.once('error', (err: NodeJS.ErrnoException) => {
      // `node` not on PATH: fall back to the extension host's Node when that is plain Node (code-server,
      // remote servers) or Electron run as Node.
      if (err.code === 'ENOENT' && !s.nodePath && !nodeOverride) {
        log.warn(`'node' not found on PATH; using ${process.execPath}`);
        run.child = undefined;
        this.start(run, process.execPath);
        return;
      }
      log.error(`${run.runId}: could not start ${node}: ${err.message}`);
      this.finish(
        run,
        null,
        null,
        `could not start ${node}: ${err.message}${err.code === 'ENOENT' ? ' (set fisherLens.nodePath)' : ''}`,
      );
    });
    child.once('close', (code, signal) => {
      const tail = stderr.close();
      fs.rm(errFile, { force: true }, () => undefined);
      if (run.child !== child) return;
      log.info(`${run.runId}: trainer exited with ${signal ?? code}`);
      this.finish(run, code, signal, tail);
    });
  }

  private finish(
    run: LocalRun,
    code: number | null,
    signal: NodeJS.Signals | null,
    stderrTail: string,
  ) {
    if (run.state === 'exited') return;
    run.state = 'exited';
    run.exitCode = code;
    run.child = undefined;
    this.settle(run, code, signal, stderrTail);
    this.saveQueue();
    this.changed.fire(run.runId);
    this.exited.fire({
      runId: run.runId,
      code,
      signal,
      stderrTail,
      stopRequested: !!run.stopRequested,
      configFile: run.configFile ?? run.file,
    });
    this.pump();
  }

  /**
   * A trainer that exited without writing a final state (it never started — bad config, no Node — or it was
   * killed hard) leaves `queued`/`running` in status.json: record `failed` with the reason.
   */
  private settle(
    run: LocalRun,
    code: number | null,
    signal: NodeJS.Signals | null,
    stderrTail: string,
  ) {
    const dir = path.join(run.runsDir, run.runId);
    try {
      const bad = runDirProblem(dir, run.runsDir);
      if (bad) throw new Error(bad);
      settleExitedRun(dir, { code, signal, stderrTail, stopRequested: !!run.stopRequested });
    } catch (e) {
      log.debug(`${run.runId}: status not settled: ${(e as Error).message}`);
    }
  }

  /**
   * Stop a run: a queued one is dropped; our child gets SIGTERM; and the `STOP` file is created in its run
   * directory (which also stops runs this window did not start). Returns what was done.
   */
  stop(
    runId: string,
    runDir: string | undefined,
    runsRoot?: string,
  ): 'dequeued' | 'signalled' | 'stop-file' | 'nothing' {
    const r = this.runs.get(runId);
    if (r?.state === 'queued') {
      this.runs.delete(runId);
      // The placeholder folder holds nothing but the queued config and status (never follow a symlink).
      const dir = path.join(r.runsDir, runId);
      if (!runDirProblem(dir, r.runsDir)) fs.rmSync(dir, { recursive: true, force: true });
      this.saveQueue();
      this.changed.fire(runId);
      return 'dequeued';
    }
    let done: 'signalled' | 'stop-file' | 'nothing' = 'nothing';
    if (r?.state === 'running' && r.child) {
      r.stopRequested = true;
      r.child.kill('SIGTERM');
      done = 'signalled';
    }
    const dir = runDir ?? (r ? path.join(r.runsDir, runId) : undefined);
    const root = runsRoot ?? r?.runsDir ?? (dir ? path.dirname(dir) : undefined);
    if (dir && root) {
      try {
        createStopFile(dir, root);
        if (done === 'nothing') done = 'stop-file';
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
          log.warn(`${runId}: refused to write ${RUN_FILES.stop}: ${(e as Error).message}`);
      }
    }
    return done;
  }

  /** State to show for a run this window knows about, when its run directory does not say yet. */
  displayState(runId: string): RunState | undefined {
    const r = this.runs.get(runId);
    if (!r) return undefined;
    return r.state === 'queued' ? 'queued' : r.state === 'running' ? 'running' : undefined;
  }

  override dispose(): void {
    // Running trainers are left alone: a window reload must not kill training, and the next window follows
    // them through their run directories. Queued runs (not started yet) stay queued: the queue is kept in the
    // workspace's state and the next window of this workspace takes their placeholders over and starts them
    // ({@link resumeQueue}). Without a place to keep the queue they will never start: marked `failed` with
    // the reason (kept, so the tree and a restored monitor show what happened instead of `queued` forever).
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
    if (this.resumeTimer) clearTimeout(this.resumeTimer);
    this.resumeTimer = null;
    if (this.adoptedTimer) clearInterval(this.adoptedTimer);
    this.adoptedTimer = null;
    if (!this.memento) {
      for (const r of this.runs.values()) {
        if (r.state !== 'queued') continue;
        const dir = path.join(r.runsDir, r.runId);
        try {
          if (runDirProblem(dir, r.runsDir)) continue;
          failQueuedRun(
            dir,
            'never started: the VS Code window that queued it was closed or reloaded (start it again)',
          );
        } catch (e) {
          log.debug(`${r.runId}: queued placeholder not marked: ${(e as Error).message}`);
        }
      }
    }
    super.dispose();
  }
}

const QUEUE_KEY = 'fisherLens.queuedRuns';
/** The runs this workspace's window started, with their trainer's pid (see `adopted`). */
const STARTED_KEY = 'fisherLens.startedRuns';
/** How often a queue waiting for an earlier window's runs looks whether one ended. */
const ADOPTED_POLL_MS = 1000;

interface SavedStarted {
  runId: string;
  runsDir: string;
  pid: number;
}
const isSavedStarted = (v: unknown): v is SavedStarted => {
  const o = v as Record<string, unknown> | null;
  return (
    !!o &&
    typeof o === 'object' &&
    typeof o.runId === 'string' &&
    typeof o.runsDir === 'string' &&
    path.isAbsolute(o.runsDir) &&
    Number.isInteger(o.pid) &&
    (o.pid as number) > 0
  );
};

/** A run's trainer still trains: its status.json says `running` with this pid, and that process is alive. */
function trainerAlive(dir: string, root: string, pid: number): boolean {
  if (runDirProblem(dir, root)) return false;
  try {
    const st = JSON.parse(readNoFollow(path.join(dir, RUN_FILES.status))) as RunStatus;
    return st?.state === 'running' && st.pid === pid && pidAlive(pid);
  } catch {
    return false;
  }
}
/** How soon a saved queue entry whose old window is still closing is looked at again. */
const RESUME_RETRY_MS = 2000;

/** The part of `vscode.Memento` the launcher uses. */
export interface QueueMemento {
  get<T>(key: string): T | undefined;
  update(key: string, value: unknown): Thenable<void>;
}

interface SavedQueued {
  runId: string;
  runsDir: string;
  queuedAt: number;
  python?: string;
  script?: ScriptRunConfig;
  after?: string;
  configFile?: string;
}

const isSavedQueued = (v: unknown): v is SavedQueued => {
  const o = v as Record<string, unknown> | null;
  return (
    !!o &&
    typeof o === 'object' &&
    typeof o.runId === 'string' &&
    typeof o.runsDir === 'string' &&
    path.isAbsolute(o.runsDir) &&
    typeof o.queuedAt === 'number' &&
    (o.python === undefined || typeof o.python === 'string') &&
    (o.after === undefined || typeof o.after === 'string') &&
    (o.configFile === undefined ||
      (typeof o.configFile === 'string' && path.isAbsolute(o.configFile))) &&
    (o.script === undefined || scriptRunConfigErrors(o.script) === null)
  );
};

/**
 * Who holds a queued placeholder: `ours` (this process), `alive` (another live process on this host), `free`
 * (its holder is gone, or on another host: no heartbeat for a while), `gone` (no such folder, a symlink, or no
 * longer `queued`).
 */
function queuedHolder(dir: string, root: string): 'ours' | 'alive' | 'free' | 'gone' {
  if (runDirProblem(dir, root)) return 'gone';
  let status: RunStatus;
  try {
    status = JSON.parse(readNoFollow(path.join(dir, RUN_FILES.status))) as RunStatus;
  } catch {
    return 'gone';
  }
  if (status?.state !== 'queued' || fs.existsSync(path.join(dir, RUN_FILES.stop))) return 'gone';
  if (status.host && status.host !== os.hostname()) {
    const beat = Date.parse(String(status.updatedAt));
    const hb = Number(status.heartbeatSeconds) || QUEUED_HEARTBEAT_S;
    return Number.isFinite(beat) && Date.now() - beat < 3 * hb * 1000 ? 'alive' : 'free';
  }
  if (status.pid === process.pid) return 'ours';
  return typeof status.pid === 'number' && pidAlive(status.pid) ? 'alive' : 'free';
}

/** Follows a growing text file (a child's stderr) by polling; `close()` reads the rest and returns the tail. */
class FileFollower {
  private offset = 0;
  private tail = '';
  private readonly timer: NodeJS.Timeout;
  constructor(
    private readonly file: string,
    private readonly onText: (text: string) => void,
  ) {
    this.timer = setInterval(() => this.poll(), 500);
  }
  private poll() {
    let fd: number | undefined;
    try {
      fd = fs.openSync(this.file, 'r');
      const size = fs.fstatSync(fd).size;
      if (size <= this.offset) return;
      const buf = Buffer.alloc(Math.min(size - this.offset, 1 << 20));
      const n = fs.readSync(fd, buf, 0, buf.length, this.offset);
      this.offset += n;
      const text = buf.subarray(0, n).toString('utf8');
      this.tail = (this.tail + text).slice(-4000);
      this.onText(text);
    } catch {
      // not there (yet) or gone
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  }
  close(): string {
    clearInterval(this.timer);
    this.poll();
    return this.tail;
  }
}
