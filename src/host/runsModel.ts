/**
 * The runs model: the host's view of the runs root: every run directory with its state, summary and config (RunsWatcher),
 * and — for runs that are running or shown in a panel — the full metric history, kept current by tailing
 * `events.jsonl` (RunTailer). Runs started anywhere (this window, the CLI, another window, before a reload)
 * look the same here because the run directory is the single source of truth.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as vscode from 'vscode';
import { effectiveState, RunsWatcher, RunTailer, type RunFolderInfo as DirInfo } from '../runs';
import type { EngineSource } from '../shared/format';
import type { HeaderEvent, RunEvent, RunState, RunStatus, RunSummary } from '../shared/protocol';
import { isTerminal, RUN_FILES } from '../shared/protocol';
import {
  appendEvents,
  boundSeries,
  createSeries,
  headline,
  viewSeries,
  HOST_MAX_POINTS,
  type Headline,
  type RunSeries,
} from '../shared/series';
import { displayName, type UserMeta } from '../shared/userMeta';
import { isRunEvent } from '../shared/webviewProtocol';
import { DisposableOwner, toDisposable } from './dispose';
import { LoadProgress } from './loadProgress';
import { log } from './log';
import { engineOf, readRunHeader } from './runHeader';

/** One run directory as the editor shows it (an entry of the {@link RunsModel}). */
export interface RunEntry {
  runId: string;
  dir: string;
  /** State to show: status.json's, or `failed` for a run whose process is gone without a final state. */
  state: RunState;
  /** Why `state` differs from status.json (e.g. its process is gone), if it does. */
  stale: string | null;
  /** status.json, validated (invalid fields replaced; null when unusable — see `problems`). */
  status: RunStatus | null;
  summary: RunSummary | null;
  /** config.json when it is a valid run config, else null. */
  config: Record<string, unknown> | null;
  /** What is wrong with the run's files, each naming the file and the field (untrusted text: escape it). */
  problems: string[];
  /** Display name: user.json's name, else the config's name, else the run id. */
  name: string;
  /** user.json (name, notes, tags), validated; null when there is none. Untrusted text: escape it. */
  user: UserMeta | null;
  headline: Headline;
  /** Start time, ms since the epoch. */
  startedAt: number;
  /**
   * Engine, device and versions from the run's header (`engine`, else its `backend`; src/shared/format.ts
   * `engineLabel` names them); null until the header is written. Untrusted text: escape it.
   */
  engine?: EngineSource | null;
}

/** New events of a followed run. `initial`: history read when following started; `reset`: start over. */
export interface RunEventsChange {
  runId: string;
  events: RunEvent[];
  initial: boolean;
  reset: boolean;
}

/** A followed run: its tailer and history. */
interface Tail {
  tailer: RunTailer;
  series: RunSeries;
  followers: number;
  ready: boolean;
  loaded: Promise<void>;
  /** Problems of status.json / summary.json as the tailer last read them. */
  problems: { status: string[]; summary: string[] };
}

export interface Follow {
  /** Resolves once the history on disk has been read. */
  loaded: Promise<void>;
  dispose(): void;
}

const isLive = (s: RunState) => s === 'running' || s === 'queued';

const mtimeOf = (f: string): number | undefined => {
  try {
    return fs.lstatSync(f).mtimeMs;
  } catch {
    return undefined;
  }
};

export class RunsModel extends DisposableOwner {
  private entries = new Map<string, RunEntry>();
  private tails = new Map<string, Tail>();
  private autoFollows = new Map<string, Follow>();
  /** Run headers read so far (a header never changes once written). */
  private headers = new Map<string, HeaderEvent>();
  private watcher: RunsWatcher | null = null;
  private rootDir = '';
  private readonly changed = this.register(new vscode.EventEmitter<string | undefined>());
  private readonly eventsEmitter = this.register(new vscode.EventEmitter<RunEventsChange>());
  /** A run changed (its id) or the list of runs changed (undefined). */
  readonly onDidChange = this.changed.event;
  /** New events of a followed run. */
  readonly onEvents = this.eventsEmitter.event;
  /** Resolves after the first scan of the current root. */
  ready: Promise<void> = Promise.resolve();

  constructor(root: string) {
    super();
    this.register(toDisposable(() => this.close()));
    this.setRoot(root);
  }

  get root(): string {
    return this.rootDir;
  }

  /** Switch to another runs root (setting changed). */
  setRoot(root: string): void {
    if (root === this.rootDir) return;
    this.close();
    this.rootDir = root;
    this.watcher = new RunsWatcher(root, {
      onAdded: (d) => this.upsert(d, true),
      onChanged: (d) => this.upsert(d, false),
      onRemoved: (id) => this.remove(id),
      onError: (e) => log.warn(`runs root ${root}: ${e.message}`),
      onSkip: (name, why) =>
        log.warn(`runs root ${root}: skipped ${JSON.stringify(name.slice(0, 200))}: ${why}`),
    });
    this.ready = this.watcher.ready;
    this.changed.fire(undefined);
  }

  /** All runs, newest first. */
  runs(): RunEntry[] {
    return [...this.entries.values()].sort(
      (a, b) => b.startedAt - a.startedAt || (a.runId < b.runId ? 1 : -1),
    );
  }

  get(runId: string): RunEntry | undefined {
    return this.entries.get(runId);
  }

  /** The history of a followed run (null while it is not followed): bounded, see {@link HOST_MAX_POINTS}. */
  series(runId: string): RunSeries | null {
    return this.tails.get(runId)?.series ?? null;
  }

  /** What a view is sent of a followed run: at most a few thousand points per table, extremes kept. */
  viewSeries(runId: string): RunSeries | null {
    const s = this.series(runId);
    return s ? viewSeries(s) : null;
  }

  /** Re-read the root and every followed run now. */
  refresh(): void {
    this.watcher?.rescan();
    for (const t of this.tails.values()) t.tailer.poll();
  }

  /** Keep the run's history loaded and current until disposed (ref-counted; works before the run appears). */
  follow(runId: string): Follow {
    let t = this.tails.get(runId);
    if (!t) t = this.startTail(runId);
    t.followers++;
    const tail = t;
    let done = false;
    return {
      loaded: tail.loaded,
      dispose: () => {
        if (done) return;
        done = true;
        if (--tail.followers > 0 || this.tails.get(runId) !== tail) return;
        tail.tailer.dispose();
        this.tails.delete(runId);
      },
    };
  }

  private startTail(runId: string): Tail {
    const dir = path.join(this.rootDir, runId);
    const t = {
      series: createSeries(runId),
      followers: 0,
      ready: false,
      problems: { status: [], summary: [] },
    } as unknown as Tail;
    this.tails.set(runId, t);
    const progress = new LoadProgress(runId);
    t.tailer = new RunTailer(dir, {
      onEvents: (events) => this.tails.get(runId) === t && this.onTailEvents(runId, t, events),
      onReset: () => {
        if (this.tails.get(runId) !== t) return;
        t.series = createSeries(runId);
        this.eventsEmitter.fire({ runId, events: [], initial: false, reset: true });
      },
      onStatus: (status) => this.patch(runId, { status }),
      onSummary: (summary) => this.patch(runId, { summary }),
      onProblems: (file, problems) =>
        this.tails.get(runId) === t && this.onTailProblems(runId, t, file, problems),
      onProgress: (done, total) => progress.report(done, total),
      onCorrupt: (lines) =>
        log.warn(
          `${runId}: skipped malformed line(s) ${lines.slice(0, 10).join(', ')}${lines.length > 10 ? ' …' : ''} of events.jsonl`,
        ),
      onError: (e) => log.warn(`${runId}: ${e.message}`),
    });
    t.loaded = t.tailer.ready.then(() => {
      t.ready = true;
      progress.done();
    });
    return t;
  }

  private onTailEvents(runId: string, t: Tail, events: RunEvent[]) {
    // Initial history goes only into the (schema-validated, bounded) series; increments are also sent to
    // the views, which accept only what their own validator does.
    const usable = t.ready
      ? events.filter((e) => {
          if (isRunEvent(e)) return true;
          log.debug(
            `${runId}: dropped an event the views cannot use: ${JSON.stringify(e).slice(0, 200)}`,
          );
          return false;
        })
      : events;
    if (!usable.length) return;
    appendEvents(t.series, usable);
    boundSeries(t.series, HOST_MAX_POINTS);
    this.refreshHeadline(runId);
    this.eventsEmitter.fire({ runId, events: usable, initial: !t.ready, reset: false });
    this.changed.fire(runId);
  }

  /** What is wrong with status.json or summary.json now replaces what was wrong with that file before. */
  private onTailProblems(runId: string, t: Tail, file: 'status' | 'summary', problems: string[]) {
    t.problems[file] = problems;
    const prev = this.entries.get(runId);
    const prefix = file === 'status' ? RUN_FILES.status : RUN_FILES.summary;
    if (prev)
      this.entries.set(runId, {
        ...prev,
        problems: [...prev.problems.filter((p) => !p.startsWith(`${prefix}:`)), ...problems],
      });
    if (problems.length) log.warn(`${runId}: ${problems.join('; ')}`);
  }

  // --------------------------------------------------------------------------------------------- entries

  private upsert(d: DirInfo, added: boolean) {
    // The root watcher can see a final status.json before the run's own tailer has read the last events:
    // read them first, so views never show a finished run with its last points missing.
    if (isTerminal(d.state)) this.tails.get(d.id)?.tailer.poll();
    const config = (d.config as Record<string, unknown> | null) ?? null;
    const info: RunEntry = {
      runId: d.id,
      dir: d.dir,
      state: d.state,
      stale: d.stale ?? null,
      status: d.status,
      summary: d.summary,
      config,
      problems: d.problems ?? [],
      // config.json passed the run-config (or script-run) schema and user.json its own: no name has markup
      // characters.
      name: displayName(d.id, d.user, config?.name ?? d.script?.name),
      user: d.user ?? null,
      headline: headline(this.series(d.id), d.summary),
      startedAt: d.startedAt,
      engine: engineOf(this.header(d.id, d.dir)),
    };
    this.entries.set(d.id, info);
    this.syncAutoFollow(info);
    this.changed.fire(added ? undefined : d.id);
  }

  /** Status/summary news from a tailer (faster than the root watcher). */
  private patch(runId: string, p: { status?: RunStatus; summary?: RunSummary }) {
    const prev = this.entries.get(runId);
    if (!prev) return;
    const status = p.status ?? prev.status;
    const summary = p.summary ?? prev.summary;
    const st = effectiveState(status, summary, {
      statusMtimeMs: mtimeOf(path.join(prev.dir, RUN_FILES.status)),
      eventsMtimeMs: mtimeOf(path.join(prev.dir, RUN_FILES.events)),
    });
    const info: RunEntry = {
      ...prev,
      status,
      summary,
      state: st.state,
      stale: st.stale ?? null,
      headline: headline(this.series(runId), summary),
    };
    this.entries.set(runId, info);
    this.syncAutoFollow(info);
    this.changed.fire(runId);
  }

  private refreshHeadline(runId: string) {
    const prev = this.entries.get(runId);
    if (prev)
      this.entries.set(runId, {
        ...prev,
        headline: headline(this.series(runId), prev.summary),
        engine: prev.engine ?? engineOf(this.header(runId, prev.dir)),
      });
  }

  /** The run's header: from its followed history, else read once from events.jsonl (null until written). */
  private header(runId: string, dir: string): HeaderEvent | null {
    const known = this.headers.get(runId);
    if (known) return known;
    const h = this.series(runId)?.header ?? readRunHeader(dir);
    if (h) this.headers.set(runId, h);
    return h;
  }

  private remove(runId: string) {
    this.entries.delete(runId);
    this.headers.delete(runId);
    this.autoFollows.get(runId)?.dispose();
    this.autoFollows.delete(runId);
    this.changed.fire(undefined);
  }

  /** Live runs are followed by the store itself (status bar, explosion warnings, live tree numbers). */
  private syncAutoFollow(info: RunEntry) {
    const f = this.autoFollows.get(info.runId);
    if (isLive(info.state) && !f) {
      this.autoFollows.set(info.runId, this.follow(info.runId));
    } else if (!isLive(info.state) && f) {
      this.autoFollows.delete(info.runId);
      this.tails.get(info.runId)?.tailer.poll(); // the final lines
      f.dispose();
    }
  }

  private close() {
    this.watcher?.dispose();
    this.watcher = null;
    for (const f of this.autoFollows.values()) f.dispose();
    this.autoFollows.clear();
    for (const t of this.tails.values()) t.tailer.dispose();
    this.tails.clear();
    this.entries.clear();
    this.headers.clear();
  }
}
