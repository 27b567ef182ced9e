/**
 * Following runs live (host and CLI side; no `vscode`).
 *
 * - {@link EventsFileReader}: incremental reader of `events.jsonl` from a byte offset; returns only
 *   complete lines and keeps the partial tail for the next read; notices truncation or replacement.
 * - {@link RunTailer}: one run folder. chokidar (inotify/FSEvents) wakes it; changes are coalesced for
 *   `debounceMs` (a burst of appends costs one read, latency stays bounded because the first change of a
 *   burst starts the timer and later ones do not push it back). chokidar drops a second `change` of the
 *   same file within 50 ms without a trailing event, so every notification also (re)arms a trailing read
 *   70 ms after the last one: an append right after a read is not lost. A slow safety poll (`pollMs`) catches
 *   what the OS watcher misses — files written from another machine on a network file system (Slurm),
 *   which inotify never reports; `usePolling` makes chokidar itself poll.
 * - {@link RunsWatcher}: the runs root; reports runs appearing, changing state and disappearing, including
 *   runs started from the CLI or another window, and `running` runs whose process died. It watches two
 *   levels (the root and each run folder, `events.jsonl` and `checkpoint/` ignored): about four inotify
 *   watches per run. If the system runs out of watches chokidar reports an error (→ `onError`) and the
 *   safety poll keeps the list correct.
 *
 * Everything is disposable; after `dispose()` no callback fires.
 */
import fs from 'node:fs';
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { RUN_FILES, type RunEvent, type RunStatus, type RunSummary } from '../shared/protocol';
import { USER_FILE } from '../shared/userMeta';
import { EventsFileReader } from './eventsReader';
import {
  checkStatus,
  checkSummary,
  isRunDir,
  readRunText,
  runDirNames,
  runInfo,
  type RunFolderInfo,
  type StateOptions,
} from './reader';

export { EventsFileReader } from './eventsReader';

export interface Disposable {
  dispose(): void;
}

/** Stat signature of a file, '' when absent. */
function sig(file: string): string {
  try {
    const s = fs.lstatSync(file);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch {
    return '';
  }
}

export interface RunTailerListener {
  /** New events in file order (the header included, first). */
  onEvents?(events: RunEvent[]): void;
  /** events.jsonl was truncated or replaced: drop what you had; all events follow again. */
  onReset?(): void;
  /** status.json changed (validated: invalid fields replaced, see `onProblems`). */
  onStatus?(status: RunStatus): void;
  onSummary?(summary: RunSummary): void;
  /** What is wrong with status.json or summary.json as last read ([] once it is fine again). */
  onProblems?(file: 'status' | 'summary', problems: string[]): void;
  /** Progress of a long read of events.jsonl (bytes read, file size); called between chunks. */
  onProgress?(done: number, total: number): void;
  /** Corrupt lines were skipped (1-based line numbers). */
  onCorrupt?(lines: number[]): void;
  onError?(error: Error): void;
}

export interface WatchOptions {
  /** Coalescing window for file-system notifications, ms (default 30 for a run, 100 for the root). */
  debounceMs?: number;
  /** Safety poll interval, ms (default 1000 for a run, 2000 for the root; 0 = off). */
  pollMs?: number;
  /** Make chokidar poll instead of using OS notifications (network file systems). */
  usePolling?: boolean;
}

const ignoredTmp = (p: string) => /\.tmp-\d+-\d+$/.test(p);

/** chokidar suppresses repeated `change` events of one path for 50 ms (leading edge only). */
const TRAILING_MS = 70;

/** Coalesces notifications: a read `debounceMs` after the first of a burst, and one after the last. */
class Coalescer {
  private first: NodeJS.Timeout | null = null;
  private trailing: NodeJS.Timeout | null = null;
  constructor(
    private readonly debounceMs: number,
    private readonly run: () => void,
  ) {}
  notify(): void {
    if (!this.first) {
      this.first = setTimeout(() => {
        this.first = null;
        this.run();
      }, this.debounceMs);
    }
    if (this.trailing) clearTimeout(this.trailing);
    this.trailing = setTimeout(
      () => {
        this.trailing = null;
        this.run();
      },
      Math.max(TRAILING_MS, this.debounceMs),
    );
  }
  dispose(): void {
    if (this.first) clearTimeout(this.first);
    if (this.trailing) clearTimeout(this.trailing);
    this.first = this.trailing = null;
  }
}

/** What a run tailer and a runs watcher share: a coalesced wake-up, a chokidar watcher, a safety poll. */
abstract class WatchedFolder<L extends { onError?(error: Error): void }> implements Disposable {
  protected watcher: FSWatcher | null = null;
  protected poller: NodeJS.Timeout | null = null;
  protected disposed = false;
  protected abstract readonly coalescer: Coalescer;

  constructor(protected readonly listener: L) {}

  protected error(e: unknown): void {
    if (!this.disposed) this.listener.onError?.(e instanceof Error ? e : new Error(String(e)));
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.coalescer.dispose();
    if (this.poller) clearInterval(this.poller);
    this.poller = null;
    void this.watcher?.close().catch(() => undefined);
    this.watcher = null;
    this.disposed_();
  }

  /** Called once by {@link dispose}, after the watcher and the poll are gone. */
  protected disposed_(): void {}
}

/** Follows one run folder: events as they are appended, status and summary as they change. */
export class RunTailer extends WatchedFolder<RunTailerListener> {
  readonly reader: EventsFileReader;
  /** Resolves once the initial contents were delivered and the watcher is active. */
  readonly ready: Promise<void>;
  protected readonly coalescer: Coalescer;
  private statusSig = '';
  private statusText = '';
  private summarySig = '';
  private summaryText = '';
  /** A chunked read of events.jsonl is under way (it continues from setImmediate). */
  private pumping = false;
  private pollAgain = false;
  private caughtUpWaiters: (() => void)[] = [];

  constructor(
    readonly dir: string,
    listener: RunTailerListener,
    opts: WatchOptions = {},
  ) {
    super(listener);
    this.reader = new EventsFileReader(path.join(dir, RUN_FILES.events));
    this.coalescer = new Coalescer(opts.debounceMs ?? 30, () => this.poll());
    const pollMs = opts.pollMs ?? 1000;
    this.ready = new Promise<void>((resolve) => {
      setImmediate(() => {
        this.poll();
        if (this.disposed) return resolve();
        this.watcher = watch(dir, {
          depth: 0,
          ignoreInitial: true,
          usePolling: opts.usePolling ?? false,
          interval: pollMs || 1000,
          ignored: ignoredTmp,
        });
        this.watcher.on('all', () => this.coalescer.notify());
        this.watcher.on('error', (e) => this.error(e));
        this.watcher.on('ready', () => {
          this.poll(); // anything written between the first read and the watch
          void this.caughtUp().then(resolve);
        });
      });
    });
    if (pollMs > 0) this.poller = setInterval(() => this.poll(), pollMs);
  }

  /** Resolves when no chunked read is under way (everything in the file so far was delivered). */
  caughtUp(): Promise<void> {
    if (!this.pumping || this.disposed) return Promise.resolve();
    return new Promise((r) => this.caughtUpWaiters.push(r));
  }

  /**
   * Read everything new now (also called by the watcher and the safety poll). What fits in one chunk is
   * delivered before this returns; a big backlog (the first read of a long log) continues chunk by chunk
   * from setImmediate, so the event loop is never blocked for more than one chunk. status.json and
   * summary.json are read once the events are caught up, so a final state never arrives before the
   * run's last events.
   */
  poll(): void {
    if (this.disposed) return;
    if (this.pumping) {
      this.pollAgain = true;
      return;
    }
    this.pumping = true;
    this.pump();
  }

  private pump(): void {
    if (this.disposed) return this.settle();
    let more = false;
    try {
      const r = this.reader.read();
      if (r.reset) this.listener.onReset?.();
      if (r.corruptLines.length) this.listener.onCorrupt?.(r.corruptLines);
      if (r.events.length) this.listener.onEvents?.(r.events);
      more = !!r.more;
      if (more && r.done !== undefined && r.size !== undefined)
        this.listener.onProgress?.(r.done, r.size);
    } catch (e) {
      this.error(e);
    }
    if (this.disposed) return this.settle();
    if (more) {
      setImmediate(() => this.pump());
      return;
    }
    try {
      const st = this.readJsonIfChanged(RUN_FILES.status, 'status');
      if (st !== undefined) {
        const c = checkStatus(st);
        this.listener.onProblems?.('status', c.problems);
        if (c.status && !this.disposed) this.listener.onStatus?.(c.status);
      }
      if (!this.disposed) {
        const sm = this.readJsonIfChanged(RUN_FILES.summary, 'summary');
        if (sm !== undefined) {
          const c = checkSummary(sm);
          this.listener.onProblems?.('summary', c.problems);
          if (c.summary && !this.disposed) this.listener.onSummary?.(c.summary);
        }
      }
    } catch (e) {
      this.error(e);
    }
    this.settle();
    if (this.pollAgain && !this.disposed) {
      this.pollAgain = false;
      this.poll();
    }
  }

  private settle(): void {
    this.pumping = false;
    for (const w of this.caughtUpWaiters.splice(0)) w();
  }

  /** The parsed file when it changed since the last read (undefined when unchanged or unreadable). */
  private readJsonIfChanged(name: string, which: 'status' | 'summary'): unknown {
    const file = path.join(this.dir, name);
    const s = sig(file);
    if (s === (which === 'status' ? this.statusSig : this.summarySig)) return undefined;
    let text: string | null;
    try {
      text = readRunText(file);
    } catch (e) {
      if (which === 'status') this.statusSig = s;
      else this.summarySig = s;
      this.listener.onProblems?.(which, [
        `${name}: ${(e as Error).message.replace(`${file}: `, '')}`,
      ]);
      return undefined;
    }
    if (text === null) return undefined;
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch {
      return undefined; // not atomically replaced (foreign writer): try again on the next change
    }
    if (which === 'status') {
      this.statusSig = s;
      if (text === this.statusText) return undefined;
      this.statusText = text;
    } else {
      this.summarySig = s;
      if (text === this.summaryText) return undefined;
      this.summaryText = text;
    }
    return v;
  }

  protected override disposed_(): void {
    for (const w of this.caughtUpWaiters.splice(0)) w();
  }
}

export interface RunsWatcherListener {
  onAdded?(run: RunFolderInfo): void;
  /** Status, summary or config changed, or a `running` run's process died. */
  onChanged?(run: RunFolderInfo): void;
  onRemoved?(id: string, dir: string): void;
  onError?(error: Error): void;
  /** An entry of the root that is not listed (a symlinked folder, a name that is no run id); once per name. */
  onSkip?(name: string, reason: string): void;
}

/** Watches a runs root for runs appearing, changing and disappearing. */
export class RunsWatcher extends WatchedFolder<RunsWatcherListener> {
  /** Resolves once the first scan was delivered and the watcher (if the root exists) is active. */
  readonly ready: Promise<void>;
  private readonly known = new Map<string, { info: RunFolderInfo; sig: string }>();
  protected readonly coalescer: Coalescer;
  private readonly pollMs: number;
  private readonly skipped = new Set<string>();

  constructor(
    readonly runsRoot: string,
    listener: RunsWatcherListener,
    private readonly opts: WatchOptions & StateOptions = {},
  ) {
    super(listener);
    this.coalescer = new Coalescer(opts.debounceMs ?? 100, () => this.rescan());
    this.pollMs = opts.pollMs ?? 2000;
    this.ready = new Promise<void>((resolve) => {
      setImmediate(() => {
        this.rescan();
        this.ensureWatcher(resolve);
      });
    });
    if (this.pollMs > 0) {
      this.poller = setInterval(() => {
        this.rescan();
        this.ensureWatcher();
      }, this.pollMs);
    }
  }

  /** The runs known now, newest first. */
  list(): RunFolderInfo[] {
    return [...this.known.values()]
      .map((k) => k.info)
      .sort((a, b) => b.startedAt - a.startedAt || (a.id < b.id ? 1 : -1));
  }

  private ensureWatcher(onReady?: () => void): void {
    if (this.disposed || this.watcher || !fs.existsSync(this.runsRoot)) {
      onReady?.();
      return;
    }
    const w = watch(this.runsRoot, {
      depth: 1,
      ignoreInitial: true,
      usePolling: this.opts.usePolling ?? false,
      interval: this.pollMs || 2000,
      // Only folder and small-file changes matter; appends to events.jsonl would cause needless rescans.
      ignored: (p: string) =>
        ignoredTmp(p) ||
        path.basename(p) === RUN_FILES.events ||
        path.basename(p) === RUN_FILES.checkpoint ||
        path.basename(path.dirname(p)) === RUN_FILES.checkpoint,
    });
    this.watcher = w;
    w.on('all', (ev, p) => {
      if (p === this.runsRoot && ev === 'unlinkDir') {
        void w.close().catch(() => undefined);
        if (this.watcher === w) this.watcher = null;
      }
      this.coalescer.notify();
    });
    w.on('error', (e) => this.error(e));
    w.on('ready', () => {
      this.rescan();
      onReady?.();
    });
  }

  /** Compare the folder with what is known and report the differences. */
  rescan(): void {
    if (this.disposed) return;
    try {
      const names = runDirNames(this.runsRoot, (name, why) => {
        if (this.skipped.has(name)) return;
        this.skipped.add(name);
        this.listener.onSkip?.(name, why);
      });
      const seen = new Set<string>();
      for (const id of names) {
        const dir = path.join(this.runsRoot, id);
        if (!isRunDir(dir)) continue;
        seen.add(id);
        const s = [RUN_FILES.status, RUN_FILES.summary, RUN_FILES.config, USER_FILE]
          .map((f) => sig(path.join(dir, f)))
          .join('|');
        const prev = this.known.get(id);
        if (prev && prev.sig === s) {
          // Files unchanged, but a live run's process may have died or its heartbeat expired since.
          if (prev.info.state === 'running' || prev.info.state === 'queued') {
            const info = runInfo(dir, this.opts);
            if (info.state !== prev.info.state) {
              this.known.set(id, { info, sig: s });
              this.listener.onChanged?.(info);
            }
          }
          continue;
        }
        const info = runInfo(dir, this.opts);
        this.known.set(id, { info, sig: s });
        if (prev) this.listener.onChanged?.(info);
        else this.listener.onAdded?.(info);
        if (this.disposed) return;
      }
      for (const [id, k] of [...this.known]) {
        if (!seen.has(id)) {
          this.known.delete(id);
          this.listener.onRemoved?.(id, k.info.dir);
          if (this.disposed) return;
        }
      }
    } catch (e) {
      this.error(e);
    }
  }
}
